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

from typing import Literal

from pydantic import Field, model_validator

from sentemb.errors import SentembError, unknown_name
from sentemb.training.objective_base import (  # noqa: F401  (re-exported: the registry's public names)
    FORMATS,
    OBJECTIVES,
    Objective,
    Options,
    build_loss,
    parse_options,
    register_objective,
)


def get_objective(name: str) -> Objective:
    if name not in OBJECTIVES:
        raise unknown_name("objective", name, OBJECTIVES)
    return OBJECTIVES[name]


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
from sentemb.training import unsupervised  # noqa: E402, F401
