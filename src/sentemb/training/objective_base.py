"""The objective registry: input formats, the :class:`Objective` record, options and registration.

Objective modules (:mod:`sentemb.training.objectives` for supervised ones,
:mod:`sentemb.training.unsupervised` for sentence ones) register here;
:func:`sentemb.training.objectives.get_objective` looks a name up once all are registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from sentemb.errors import SentembError

if TYPE_CHECKING:
    from torch import nn

#: input format -> the dataset columns the loss receives (the last column of a labelled format is the label)
FORMATS: dict[str, tuple[str, ...]] = {
    "scored-pairs": ("sentence1", "sentence2", "score"),
    "class-pairs": ("sentence1", "sentence2", "label"),
    "binary-pairs": ("sentence1", "sentence2", "label"),
    "anchor-positive": ("anchor", "positive", "negative"),  # negative optional
    "triplets": ("anchor", "positive", "negative"),
    "sentences": ("text",),  # unsupervised: plain sentences; each objective builds its own columns
}


class Options(BaseModel):
    """Base of every objective's options: unknown options are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Objective:
    """A named objective: the input format it needs, its options, and how to build the loss."""

    name: str
    format: str
    options: type[Options]
    build: Callable[..., nn.Module] | None
    summary: str
    paper: str
    #: sentence objectives: ``(sentences, options) -> columns`` handed to the loss
    make_columns: Callable[[list[str], Options], dict[str, list[str]]] | None = None
    #: sentence objectives: ``(options, sentences, draws) -> batch transform`` re-drawing augmentations per epoch
    #: (``draws``: :class:`sentemb.training.augment.Draws`; rows carry the hidden row column)
    make_transform: Callable[..., Callable[[dict], dict]] | None = None
    #: the loss contrasts each row with the rest of its batch (no duplicate texts in a batch)
    in_batch: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return FORMATS[self.format]


OBJECTIVES: dict[str, Objective] = {}


def register_objective(name: str, format: str, options: type[Options], summary: str, paper: str, **extra):
    """Decorator: register ``build(model, opts, num_labels) -> loss`` as objective ``name``."""

    def deco(fn):
        OBJECTIVES[name] = Objective(name, format, options, fn, summary, paper, **extra)
        return fn

    return deco


def parse_options(objective: Objective, options: dict | None, where: str = "") -> Options:
    """Validate an objective's options; the error names the option and lists the valid ones."""
    try:
        return objective.options.model_validate(options or {})
    except ValidationError as err:
        valid = ", ".join(objective.options.model_fields) or "(none)"
        msgs = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: "
                         f"{'unknown option' if e['type'] == 'extra_forbidden' else e['msg']}" for e in err.errors())
        raise SentembError(f"{where}objective {objective.name!r}: {msgs} (valid options: {valid})") from None


def build_loss(objective: Objective, model, options: Options, num_labels: int | None = None) -> nn.Module:
    """The sentence-transformers loss module for ``objective`` on ``model``."""
    return objective.build(model, options, num_labels)
