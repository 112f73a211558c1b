"""Supervised training objectives, registered by name; each is a thin wrapper over a sentence-transformers loss.

An objective declares the *input format* it trains on (the columns handed to the loss, see
:data:`FORMATS`), its options (a small pydantic model: unknown options are errors) and the paper it
comes from. :mod:`sentemb.training.data` turns a dataset into that format; the conversions it
knows are the only ones allowed, so a mismatch is reported before training starts.

========================  ====================================  =========================================
name                      input columns                         loss (paper)
========================  ====================================  =========================================
``softmax``               sentence1, sentence2, label (class)   SoftmaxLoss on concat(u, v, |u-v|[, u*v])
                                                                (Sentence-BERT, Reimers & Gurevych 2019)
``cosine-mse``            sentence1, sentence2, score (0..1)    CosineSimilarityLoss: MSE(cos(u, v), score)
                                                                (Sentence-BERT 2019)
``cosent``                sentence1, sentence2, score           CoSENTLoss: ranking of cosines by score
                                                                (Su 2022, "CoSENT")
``angle``                 sentence1, sentence2, score           AnglELoss: CoSENT on angle differences
                                                                (Li & Li 2023, arXiv:2309.12871)
``mnrl``                  anchor, positive[, negative]          MultipleNegativesRankingLoss: in-batch
                                                                negatives (Henderson et al. 2017,
                                                                arXiv:1705.00652); ``cached: true`` uses
                                                                GradCache (Gao et al. 2021,
                                                                arXiv:2101.06983)
``triplet``               anchor, positive, negative            TripletLoss (Schroff et al. 2015, FaceNet)
``contrastive``           sentence1, sentence2, label (0/1)     ContrastiveLoss (Hadsell et al. 2006)
``online-contrastive``    sentence1, sentence2, label (0/1)     OnlineContrastiveLoss: hard pairs only
========================  ====================================  =========================================

Unsupervised objectives (``simcse``, ``esimcse``, ``tsdae``, ``ct``, ``ct2``, ``mlm``) train on plain
sentences; they are registered in :mod:`sentemb.training.unsupervised`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sentemb.errors import SentembError, unknown_name

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


def get_objective(name: str) -> Objective:
    if name not in OBJECTIVES:
        raise unknown_name("objective", name, OBJECTIVES)
    return OBJECTIVES[name]


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


# --- softmax -------------------------------------------------------------------------------------------------


class SoftmaxOptions(Options):
    concat_uv: bool = Field(True, description="include u and v in the classifier input")
    abs_diff: bool = Field(True, description="include |u - v|")
    product: bool = Field(False, description="include u * v")

    @model_validator(mode="after")
    def _some_part(self):
        if not (self.concat_uv or self.abs_diff or self.product):
            raise ValueError("at least one of concat_uv, abs_diff, product must be true")
        return self


@register_objective(
    "softmax", "class-pairs", SoftmaxOptions,
    "classifier on concat(u, v, |u-v|[, u*v]); NLI 3-way or binary labels",
    "Reimers & Gurevych 2019, Sentence-BERT (arXiv:1908.10084)",
)
def _softmax(model, opts: SoftmaxOptions, num_labels: int | None):
    from sentence_transformers.sentence_transformer.losses import SoftmaxLoss

    if not num_labels or num_labels < 2:
        raise SentembError("objective 'softmax' needs at least 2 label classes")
    return SoftmaxLoss(model, model.get_embedding_dimension(), num_labels,
                       concatenation_sent_rep=opts.concat_uv, concatenation_sent_difference=opts.abs_diff,
                       concatenation_sent_multiplication=opts.product)


# --- regression / ranking on a score ---------------------------------------------------------------------------


@register_objective(
    "cosine-mse", "scored-pairs", Options,
    "mean squared error between cos(u, v) and the score normalised to 0..1",
    "Reimers & Gurevych 2019, Sentence-BERT (arXiv:1908.10084)",
)
def _cosine_mse(model, opts: Options, num_labels):
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    return CosineSimilarityLoss(model)


class ScaleOptions(Options):
    scale: float = Field(20.0, gt=0, description="inverse temperature applied to the similarities")


@register_objective(
    "cosent", "scored-pairs", ScaleOptions,
    "ranking loss: every pair with a higher score should get a higher cosine",
    "Su 2022, CoSENT (kexue.fm/archives/8847)",
)
def _cosent(model, opts: ScaleOptions, num_labels):
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    return CoSENTLoss(model, scale=opts.scale)


@register_objective(
    "angle", "scored-pairs", ScaleOptions,
    "CoSENT ranking on angle differences in complex space",
    "Li & Li 2023, AnglE (arXiv:2309.12871)",
)
def _angle(model, opts: ScaleOptions, num_labels):
    from sentence_transformers.sentence_transformer.losses import AnglELoss

    return AnglELoss(model, scale=opts.scale)


# --- in-batch negatives ----------------------------------------------------------------------------------------


class MnrlOptions(Options):
    scale: float = Field(20.0, gt=0, description="inverse temperature applied to the cosines")
    hard_negatives: bool = Field(True, description="use a third (negative) column when the data has one")
    symmetric: bool = Field(False, description="also rank anchors given each positive")
    cached: bool = Field(False, description="GradCache: large batches in small memory")
    mini_batch_size: int = Field(32, ge=1, description="with cached: texts per forward pass")
    gather_across_devices: bool = Field(False, description="multi-process: negatives from every process")


@register_objective(
    "mnrl", "anchor-positive", MnrlOptions,
    "in-batch negatives: each anchor must pick its positive among all positives (and hard negatives) in the batch",
    "Henderson et al. 2017 (arXiv:1705.00652); cached: Gao et al. 2021, GradCache (arXiv:2101.06983)",
    in_batch=True,
)
def _mnrl(model, opts: MnrlOptions, num_labels):
    from sentence_transformers.sentence_transformer import losses

    kwargs = {"scale": opts.scale, "gather_across_devices": opts.gather_across_devices}
    if opts.symmetric:
        kwargs.update(directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction")
    if opts.cached:
        return losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=opts.mini_batch_size, **kwargs)
    return losses.MultipleNegativesRankingLoss(model, **kwargs)


# --- margin losses ---------------------------------------------------------------------------------------------


class TripletOptions(Options):
    distance: Literal["euclidean", "cosine", "manhattan"] = "euclidean"
    margin: float = Field(5.0, ge=0, description="the negative must be this much further than the positive")


@register_objective(
    "triplet", "triplets", TripletOptions,
    "margin loss: d(anchor, positive) + margin < d(anchor, negative)",
    "Schroff et al. 2015, FaceNet (arXiv:1503.03832)",
)
def _triplet(model, opts: TripletOptions, num_labels):
    from sentence_transformers.sentence_transformer.losses import TripletDistanceMetric, TripletLoss

    metric = {"euclidean": TripletDistanceMetric.EUCLIDEAN, "cosine": TripletDistanceMetric.COSINE,
              "manhattan": TripletDistanceMetric.MANHATTAN}[opts.distance]
    return TripletLoss(model, distance_metric=metric, triplet_margin=opts.margin)


class ContrastiveOptions(Options):
    distance: Literal["cosine", "euclidean", "manhattan"] = "cosine"
    margin: float = Field(0.5, ge=0, description="negatives should be at least this far apart")


def _siamese_metric(name: str):
    from sentence_transformers.sentence_transformer.losses import SiameseDistanceMetric

    return {"cosine": SiameseDistanceMetric.COSINE_DISTANCE, "euclidean": SiameseDistanceMetric.EUCLIDEAN,
            "manhattan": SiameseDistanceMetric.MANHATTAN}[name]


@register_objective(
    "contrastive", "binary-pairs", ContrastiveOptions,
    "pull label-1 pairs together, push label-0 pairs beyond the margin",
    "Hadsell, Chopra & LeCun 2006, Dimensionality Reduction by Learning an Invariant Mapping",
)
def _contrastive(model, opts: ContrastiveOptions, num_labels):
    from sentence_transformers.sentence_transformer.losses import ContrastiveLoss

    return ContrastiveLoss(model, distance_metric=_siamese_metric(opts.distance), margin=opts.margin)


@register_objective(
    "online-contrastive", "binary-pairs", ContrastiveOptions,
    "contrastive loss on the hard pairs of each batch only (far positives, close negatives)",
    "Hadsell et al. 2006, with online hard-pair mining as in sentence-transformers",
)
def _online_contrastive(model, opts: ContrastiveOptions, num_labels):
    from sentence_transformers.sentence_transformer.losses import OnlineContrastiveLoss

    return OnlineContrastiveLoss(model, distance_metric=_siamese_metric(opts.distance), margin=opts.margin)


# the unsupervised objectives register themselves on import (kept in their own module)
from sentemb.training import unsupervised as _unsupervised  # noqa: E402, F401
