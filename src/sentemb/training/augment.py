"""Augmentations that a resumed run draws exactly as an uninterrupted one would.

The augmenting objectives (esimcse, tsdae, ct) re-draw their noise at every access to a row, so each
epoch sees fresh noise. Every draw is a pure function of ``(seed, stream, epoch, row)``:

* ``stream`` names the stage and dataset, so two datasets of a stage (or two stages) never share draws;
* ``epoch`` is set by :func:`epoch_clock`, a trainer callback that reads the trainer's own epoch counter
  (restored from the checkpoint on resume);
* ``row`` is the row's position in its dataset, carried in a hidden column that the transform drops.

Nothing is kept between calls, so checkpoints need not save a random state, and a reader that looks at
rows without training on them (sentence-transformers' no-duplicates sampler reads rows through the
transform) changes nothing.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

ROW_COLUMN = "__row__"

Draw = Callable[[str, random.Random], str]


@dataclass
class Epoch:
    """The epoch the trainer is in (a plain holder the callback writes and the transforms read)."""

    value: int = 0


@dataclass(frozen=True)
class Draws:
    """Where a dataset's augmentations come from: the run's seed, a stream name and the epoch holder."""

    seed: int
    stream: str
    epoch: Epoch = field(default_factory=Epoch)

    def rng(self, row: int) -> random.Random:
        """A generator that depends on nothing but (seed, stream, epoch, row)."""
        # a str seed is hashed with SHA-512: stable across processes (unlike hash()) and Python versions
        return random.Random(f"{self.seed}\x1f{self.stream}\x1f{self.epoch.value}\x1f{row}")


def augment_transform(target: str, source: str, draw: Draw, draws: Draws) -> Callable[[dict], dict]:
    """A ``datasets`` transform: column ``target`` becomes ``draw(text, rng)`` of column ``source``, where
    ``rng`` is :meth:`Draws.rng` of the row; the hidden row column is dropped."""

    def transform(batch: dict) -> dict:
        rows = batch[ROW_COLUMN]
        out = {k: v for k, v in batch.items() if k != ROW_COLUMN}
        out[target] = [draw(t, draws.rng(int(r))) for t, r in zip(batch[source], rows)]
        return out

    return transform


def augmented_dataset(columns: dict[str, list], transform: Callable[[dict], dict]):
    """A ``datasets.Dataset`` of ``columns`` plus the hidden row column, read through ``transform``."""
    from datasets import Dataset

    n = len(next(iter(columns.values())))
    ds = Dataset.from_dict({**columns, ROW_COLUMN: list(range(n))})
    ds.set_transform(transform)
    return ds


def epoch_clock(epoch: Epoch):
    """A trainer callback that writes the trainer's current epoch into ``epoch`` as each epoch begins.

    On resume the trainer restores its state (``state.epoch``, e.g. 1.5) before the first epoch begins,
    so the resumed epoch gets the same number as in the uninterrupted run.
    """
    from transformers import TrainerCallback

    class EpochClock(TrainerCallback):
        started = False

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = False

        def on_epoch_begin(self, args, state, control, **kwargs):
            # the first epoch of a call to train() is the restored state's (0 when fresh); later ones count up
            epoch.value = epoch.value + 1 if self.started else math.floor(state.epoch or 0)
            self.started = True

    return EpochClock()
