"""Unsupervised objectives: they train on plain sentences (labels, if the data has any, are ignored).

========  ==========================================  ==========================================================
name      columns handed to the loss                  loss (paper)
========  ==========================================  ==========================================================
simcse    anchor = positive = the sentence            MultipleNegativesRankingLoss with scale 1/temperature;
                                                      dropout is the only augmentation (Gao et al. 2021,
                                                      arXiv:2104.08821)
esimcse   anchor, positive = anchor with repeated     :class:`~sentemb.training.esimcse.ESimCSELoss`: momentum
          units (re-drawn at every access)            encoder + negative queue (Wu et al. 2022, arXiv:2109.04380)
tsdae     damaged = units deleted (re-drawn at        DenoisingAutoEncoderLoss, decoder tied to the encoder
          every access), original                     (Wang et al. 2021, arXiv:2104.06979)
ct        text1, text2 = text1 (1 in pos_neg_ratio)   ContrastiveTensionLoss: two encoders, binary tension
          or another sentence (re-drawn)              (Carlsson et al. 2021, ICLR)
ct2       text                                        ContrastiveTensionLossInBatchNegatives (CT with in-batch
                                                      negatives)
mlm       text                                        masked-language-model pre-training of the backbone
                                                      (:mod:`sentemb.training.mlm`), optional whole-word masking
                                                      with jieba words for Chinese
========  ==========================================  ==========================================================

Augmentations are drawn in a dataset transform, so every epoch sees fresh noise; each draw is a pure
function of (seed, stage and dataset, epoch, row) (:mod:`sentemb.training.augment`), so a resumed run
draws what the uninterrupted run drew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field

from sentemb.training.augment import Draws, augment_transform
from sentemb.training.noise import delete_units, repeat_units
from sentemb.training.objective_base import Options, register_objective

UNSUPERVISED = ("simcse", "esimcse", "tsdae", "ct", "ct2", "mlm")


def _same(sentences: list[str], opts) -> dict[str, list[str]]:
    return {"anchor": list(sentences), "positive": list(sentences)}


def _text(sentences: list[str], opts) -> dict[str, list[str]]:
    return {"text": list(sentences)}


def _redraw(target: str, source: str, draw: Callable) -> Callable[..., Callable[[dict], dict]]:
    """A ``make_transform(opts, sentences, draws)``: column ``target`` becomes
    ``draw(text, options, sentences, rng)`` of column ``source``, with ``rng`` from ``draws`` (a
    :class:`~sentemb.training.augment.Draws`) for the row and epoch."""

    def make(opts, sentences: list[str], draws: Draws) -> Callable[[dict], dict]:
        return augment_transform(target, source, lambda t, rng: draw(t, opts, sentences, rng), draws)

    return make


# --- SimCSE ----------------------------------------------------------------------------------------------------


class SimCSEOptions(Options):
    temperature: float = Field(0.05, gt=0, description="softmax temperature (scale = 1 / temperature)")


@register_objective(
    "simcse", "sentences", SimCSEOptions,
    "each sentence must find itself (a second dropout pass) among the batch's sentences",
    "Gao, Yao & Chen 2021, SimCSE (arXiv:2104.08821)",
    make_columns=_same, in_batch=True,
)
def _simcse(model, opts: SimCSEOptions, num_labels):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    return MultipleNegativesRankingLoss(model, scale=1.0 / opts.temperature)


# --- ESimCSE ---------------------------------------------------------------------------------------------------


class ESimCSEOptions(Options):
    temperature: float = Field(0.05, gt=0)
    repetition_rate: float = Field(0.32, ge=0, le=1, description="up to this share of units is repeated")
    level: Literal["auto", "char", "word", "whitespace"] = Field(
        "auto", description="repeated units: auto = characters for Chinese, whitespace words otherwise")
    momentum: float = Field(0.995, ge=0, lt=1, description="momentum encoder: m * momentum + (1 - m) * model")
    queue_size: int = Field(64, ge=0, description="negatives kept from earlier batches (0: SimCSE + repetition)")


_repeat_transform = _redraw("positive", "positive",
                            lambda t, opts, _, rng: repeat_units(t, opts.repetition_rate, opts.level, rng))


@register_objective(
    "esimcse", "sentences", ESimCSEOptions,
    "SimCSE with repetition-augmented positives and a momentum-encoder queue of extra negatives",
    "Wu et al. 2022, ESimCSE (arXiv:2109.04380)",
    make_columns=_same, make_transform=_repeat_transform, in_batch=True,
)
def _esimcse(model, opts: ESimCSEOptions, num_labels):
    from sentemb.training.esimcse import ESimCSELoss

    return ESimCSELoss(model, temperature=opts.temperature, momentum=opts.momentum, queue_size=opts.queue_size)


# --- TSDAE -----------------------------------------------------------------------------------------------------


class TSDAEOptions(Options):
    deletion_ratio: float = Field(0.6, ge=0, lt=1, description="share of units deleted from the encoder input")
    level: Literal["auto", "char", "word", "whitespace"] = Field(
        "auto", description="deleted units: auto = jieba words for Chinese, whitespace words otherwise")
    decoder: str | None = Field(None, description="a separate decoder model (untied); default: tied to the encoder")


_deletion_transform = _redraw("damaged", "original",
                              lambda t, opts, _, rng: delete_units(t, opts.deletion_ratio, opts.level, rng))


@register_objective(
    "tsdae", "sentences", TSDAEOptions,
    "denoising auto-encoder: a decoder rebuilds the sentence from the vector of its damaged copy",
    "Wang, Reimers & Gurevych 2021, TSDAE (arXiv:2104.06979)",
    make_columns=lambda s, o: {"damaged": list(s), "original": list(s)}, make_transform=_deletion_transform,
)
def _tsdae(model, opts: TSDAEOptions, num_labels):
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss

    return DenoisingAutoEncoderLoss(model, decoder_name_or_path=opts.decoder, tie_encoder_decoder=opts.decoder is None)


# --- Contrastive Tension ---------------------------------------------------------------------------------------


class CTOptions(Options):
    pos_neg_ratio: int = Field(8, ge=2, description="one identical pair per this many pairs; the rest are random")


_ct_transform = _redraw("text2", "text1", lambda t, opts, sentences, rng: t if rng.random() < 1 / opts.pos_neg_ratio
                        else sentences[rng.randrange(len(sentences))])


@register_objective(
    "ct", "sentences", CTOptions,
    "two encoders; the dot product of their vectors is pushed up for identical pairs, down for random ones",
    "Carlsson et al. 2021, Semantic Re-tuning with Contrastive Tension (ICLR)",
    make_columns=lambda s, o: {"text1": list(s), "text2": list(s)}, make_transform=_ct_transform,
)
def _ct(model, opts: CTOptions, num_labels):
    from sentence_transformers.sentence_transformer.losses import ContrastiveTensionLoss

    return ContrastiveTensionLoss(model)


class CT2Options(Options):
    scale: float = Field(20.0, gt=0, description="initial inverse temperature (learned during training)")


@register_objective(
    "ct2", "sentences", CT2Options,
    "Contrastive Tension with in-batch negatives: encoder 1's vector must find encoder 2's vector of the same text",
    "Carlsson et al. 2021 (ICLR); in-batch variant as in sentence-transformers",
    make_columns=_text, in_batch=True,
)
def _ct2(model, opts: CT2Options, num_labels):
    from sentence_transformers.sentence_transformer.losses import ContrastiveTensionLossInBatchNegatives

    return ContrastiveTensionLossInBatchNegatives(model, scale=opts.scale)


# --- MLM -------------------------------------------------------------------------------------------------------


class MLMOptions(Options):
    probability: float = Field(0.15, gt=0, lt=1, description="share of tokens (or words) masked")
    whole_word: Literal["none", "auto", "jieba", "whitespace"] = Field(
        "none", description="mask whole words: jieba words (Chinese), whitespace words, or auto by language")


@register_objective(
    "mlm", "sentences", MLMOptions,
    "continued masked-language-model pre-training of the backbone (pooling applies afterwards)",
    "Devlin et al. 2019, BERT (arXiv:1810.04805); Chinese whole-word masking: Cui et al. 2019 (arXiv:1906.08101)",
    make_columns=_text,
)
def _mlm(model, opts: MLMOptions, num_labels):
    return None  # trained by sentemb.training.mlm, not through a sentence-transformers loss
