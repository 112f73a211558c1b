"""The ``mlm`` objective: continued masked-language-model pre-training of a model's transformer backbone.

A masked-LM head is put on the sentence model's own backbone module (the head's decoder tied to the
word embeddings; loaded from the backbone's checkpoint when it has one, fresh otherwise), trained with
transformers' ``Trainer`` and ``DataCollatorForLanguageModeling``, then dropped: the sentence model keeps
the updated backbone and its pooling.

Whole-word masking groups tokens into words by their character offsets. Unsegmented Chinese has no gaps
between words, so the whole sentence would count as one word; with ``whole_word: jieba`` (or ``auto`` on
Chinese text) the offsets are spread so that each jieba word is separated from the next, and the stock
collator then masks jieba words (Cui et al. 2019, arXiv:1906.08101). Token ids are never changed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from sentemb.errors import SentembError


def masked_lm_for(backbone):
    """A masked-LM model whose encoder *is* ``backbone`` (shared parameters, decoder tied to the embeddings)."""
    from transformers import AutoModelForMaskedLM

    source = getattr(backbone.config, "_name_or_path", None)
    mlm = None
    if source and Path(source).is_dir():  # keep a pre-trained MLM head when the checkpoint has one
        try:
            mlm = AutoModelForMaskedLM.from_pretrained(source)
        except Exception:  # noqa: BLE001 — no usable head: start a fresh one
            mlm = None
    if mlm is None:
        try:
            mlm = AutoModelForMaskedLM.from_config(backbone.config)
        except ValueError as exc:
            raise SentembError(f"'mlm' needs a backbone with a masked-LM head; {type(backbone).__name__} has none "
                               f"({exc})") from None
    setattr(mlm, mlm.base_model_prefix, backbone)
    mlm.tie_weights()
    return mlm


def word_offsets(text: str, offsets: list[tuple[int, int]], level: str) -> list[tuple[int, int]]:
    """Offsets shifted by the index of the jieba word each token starts in, so words are separated by gaps."""
    if level != "jieba":
        return offsets
    from sentemb.training.noise import split_units

    starts, pos = [], 0
    for w in split_units(text, "word"):
        starts.append(pos)
        pos += len(w)
    out, k = [], 0
    for s, e in offsets:
        if s == e:  # special tokens
            out.append((s, e))
            continue
        while k + 1 < len(starts) and starts[k + 1] <= s:
            k += 1
        out.append((s + k, e + k))
    return out


def _resolve_level(whole_word: str, texts: list[str]) -> str | None:
    if whole_word == "none":
        return None
    if whole_word == "auto":
        from sentemb.training.noise import is_chinese

        sample = texts[:200]
        return "jieba" if sum(is_chinese(t) for t in sample) * 2 >= len(sample) else "whitespace"
    return whole_word


def tokenize_corpus(tokenizer, texts: list[str], max_length: int, level: str | None) -> dict[str, list]:
    """Token ids (+ word-grouping offsets when masking whole words) for the MLM collator."""
    if level is not None and not tokenizer.is_fast:
        raise SentembError("whole-word masking needs a fast tokenizer (character offsets); use whole_word: none")
    enc = tokenizer(texts, truncation=True, max_length=max_length, return_special_tokens_mask=True,
                    return_offsets_mapping=level is not None)
    cols = {k: list(v) for k, v in enc.items()}
    if level is not None:
        cols["offset_mapping"] = [word_offsets(t, [tuple(o) for o in offs], level)
                                  for t, offs in zip(texts, cols["offset_mapping"])]
    return cols


def _collator(tokenizer, probability: float, whole_word: bool, seed: int):
    import warnings

    from transformers import DataCollatorForLanguageModeling

    class _Collator(DataCollatorForLanguageModeling):
        """The stock collator; offsets are padded first so that a batch of ragged offsets becomes a tensor."""

        def torch_call(self, examples):
            if examples and "offset_mapping" in examples[0]:
                width = max(len(e["input_ids"]) for e in examples)
                examples = [{**e, "offset_mapping": list(e["offset_mapping"]) + [(0, 0)] * (width - len(e["input_ids"]))}
                            for e in examples]
            return super().torch_call(examples)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "random replacement is not supported with whole word masking"
        return _Collator(tokenizer, mlm=True, mlm_probability=probability, whole_word_mask=whole_word, seed=seed)


def train_mlm_stage(model, plan, ckpt_dir: Path, seed: int, device: str | None, resume: bool, console: Console,
                    callbacks=None) -> dict[str, Any]:
    """Train the backbone of ``model`` (a SentenceTransformer) with masked-LM on the stage's sentences."""
    import torch
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback

    from sentemb.runs import is_main_process, last_checkpoint, training_arguments, world_size
    from sentemb.training.evalsets import dev_evaluator, dev_scores
    from sentemb.training.progress import use_rich_progress

    spec, p = plan.spec, plan.datasets[0]
    transformer = model[0]
    backbone, tokenizer = getattr(transformer, "auto_model", None), getattr(transformer, "tokenizer", None)
    if backbone is None or tokenizer is None or tokenizer.mask_token is None:
        raise SentembError("'mlm' needs a transformer model whose tokenizer has a mask token")
    texts = p.prepared.columns["text"]
    level = _resolve_level(p.options.whole_word, texts)
    data = Dataset.from_dict(tokenize_corpus(tokenizer, texts, model.max_seq_length or 512, level))
    mlm = masked_lm_for(backbone)
    args = training_arguments(spec, ckpt_dir, seed, device, has_eval=False, in_batch=False)
    args.remove_unused_columns = False  # the collator needs special_tokens_mask / offset_mapping
    evaluator = dev_evaluator(plan.eval_sets, spec.batch_size) if plan.eval_sets else None
    curve: list[dict] = []

    class DevCurve(TrainerCallback):
        """Score the sentence model on the dev sets at every checkpoint (MLM loss is not the goal)."""

        def on_save(self, args, state, control, **kwargs):
            if evaluator is not None and state.is_world_process_zero:
                was_training = model.training
                with torch.inference_mode():
                    scores = dev_scores(evaluator(model), plan.eval_sets)
                model.train(was_training)
                curve.append({"step": state.global_step, "epoch": round(state.epoch or 0, 3), **scores})
                console.print(f"step {state.global_step}: dev {scores}")

    dev_before = dev_scores(evaluator(model), plan.eval_sets) if evaluator is not None and is_main_process() else None
    if dev_before:
        console.print(f"dev before training: {dev_before}")
    trainer = Trainer(model=mlm, args=args, train_dataset=data, data_collator=_collator(
        tokenizer, p.options.probability, level is not None, seed), callbacks=[DevCurve(), *(callbacks or [])])
    use_rich_progress(trainer, console, "masked-LM training")
    ckpt = last_checkpoint(ckpt_dir) if resume else None
    if ckpt is not None:
        console.print(f"resuming from {ckpt}")
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    state = trainer.state
    losses = [r["loss"] for r in state.log_history if "loss" in r]
    return {
        "id": spec.id,
        "datasets": [p.report()],
        "hyper_parameters": spec.model_dump(exclude={"id", "datasets", "eval"}, mode="json"),
        "eval_sets": [s.name for s in plan.eval_sets],
        "steps": state.global_step,
        "epochs": round(state.epoch or 0, 3),
        "train_loss": round(float(result.training_loss), 5),
        "loss_first_last": [losses[0], losses[-1]] if losses else None,
        "whole_word_masking": level,
        "resumed_from": str(ckpt) if ckpt else None,
        "dev_before": dev_before,
        "dev_curve": curve,
        "best_checkpoint": None,
        "best_dev": None,
        "note": "mlm keeps the last step (no best-checkpoint selection on dev)",
        "train_seconds": round(time.perf_counter() - t0, 1),
        "processes": world_size(),
    }
