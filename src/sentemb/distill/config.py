"""The settings of a distillation run (``sentemb distill`` options, or the pipeline's ``distill`` stage).

Hyper-parameters are the training config's (``sentemb.training.config.HyperParams``) with defaults
chosen for distillation: a learning rate well above fine-tuning's, since the student starts from the
teacher's own weights and the targets are exact vectors rather than noisy labels.
"""

from __future__ import annotations

from pydantic import Field

from sentemb.stage_config import StageConfig
from sentemb.training.config import HyperParams


class DistillConfig(HyperParams, StageConfig):
    """Teacher, student, corpus, loss, evaluation and optimisation of one distillation run."""

    teacher: str
    layers: int | None = None  # keep N evenly spaced teacher layers
    keep: list[int] | str | None = None  # or exactly these (0-based), e.g. "0,2,4"
    student: str | None = None  # or distil into this model instead
    corpus: list[str] = Field(default_factory=list)  # files: .txt one sentence per line, .jsonl/.csv/.tsv/.parquet
    corpus_column: str | None = None  # the text column(s) of tabular / jsonl corpus files: "text", "sentence1,sentence2"
    corpus_datasets: list[str] = Field(default_factory=list)  # registry datasets: their unique sentences
    max_sentences: int | None = Field(None, ge=1, description="train on a seeded sample of this many unique "
                                      "corpus sentences (drawn with `seed` before the teacher encodes them)")
    sim_weight: float = Field(0.0, ge=0, description="weight of the in-batch similarity-matrix term")
    test: list[str] = Field(default_factory=list)  # registry sets scored at the end (teacher vs student)
    max_seq_length: int | None = Field(None, ge=1)
    device: str | None = None
    seed: int = 42
    cache: bool = True  # keep the teacher's corpus vectors in sentemb's embedding cache
    keep_checkpoints: bool = False
    # distillation defaults (the rest as for fine-tuning)
    epochs: float = Field(4.0, gt=0)
    learning_rate: float = Field(3e-4, gt=0)
    batch_size: int = Field(32, ge=1)
