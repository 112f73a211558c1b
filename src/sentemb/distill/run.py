"""One distillation run: check everything, build the student, train it on the teacher's vectors, report.

Order: the teacher and the layer choice, the corpus, the evaluation sets (every input error is raised
before any encoding or training); then the teacher's corpus vectors (cached), training with
sentence-transformers' ``SentenceTransformerTrainer`` (checkpoints in ``OUT/checkpoints``, the best dev
checkpoint kept), the teacher and the student scored on the dev and test sets, and the student written
to ``OUT`` in sentence-transformers format with ``README.md`` (model card) and ``distill_summary.json``.
``resume=True`` continues an interrupted run from its last checkpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from sentemb.distill.config import DistillConfig
from sentemb.errors import SentembError
from sentemb.runs import (
    CHECKPOINTS,
    check_run_output,
    dev_curve,
    fingerprint,
    last_checkpoint,
    publish_run,
    save_model_files,
    training_arguments,
    write_fingerprint,
)

SUMMARY = "distill_summary.json"


def build_student(cfg: DistillConfig, teacher, console: Console) -> tuple[Any, dict]:
    """The student model and how it was made (kept layers or the other model)."""
    from sentemb.distill.student import (
        check_transformer,
        choose_layers,
        fit_student,
        parse_keep,
        reduce_layers,
        refuse_exported,
        teacher_layer_count,
    )
    from sentemb.models import load

    check_transformer(teacher, cfg.teacher, "teacher")
    total = teacher_layer_count(teacher, cfg.teacher) if cfg.student is None else None
    if cfg.student is not None:
        if cfg.layers is not None or cfg.keep is not None:
            raise SentembError("--student replaces layer reduction: give --student MODEL or --layers/--keep, "
                               "not both")
        refuse_exported(cfg.student, "student")
        student = load(cfg.student, max_seq_length=cfg.max_seq_length, device=cfg.device)
        check_transformer(student, cfg.student, "student")
        student, projected = fit_student(student, teacher)
        info = {"kind": "model", "model": cfg.student, "projection": projected}
        console.print(f"student: {cfg.student}" + (f" + a linear projection to {teacher.get_embedding_dimension()} "
                                                   "dimensions" if projected else ""))
        return student, info
    keep = choose_layers(total, cfg.layers, parse_keep(cfg.keep))
    student = reduce_layers(teacher, keep)
    info = {"kind": "layers", "teacher_layers": total, "kept_layers": keep,
            "selection": "given (--keep)" if cfg.keep is not None else "evenly spaced"}
    console.print(f"student: teacher layers {', '.join(map(str, keep))} of 0-{total - 1} "
                  f"({len(keep)} of {total}, {info['selection']}), embeddings and "
                  f"{', '.join(type(m).__name__ for m in list(student)[1:]) or 'no other modules'} kept")
    return student, info


def _eval_table(teacher, student, dev_sets, test_sets, data_dir, seed) -> tuple[list[dict], str]:
    from sentemb.training.evalsets import score_sets

    rows, method = [], ""
    for split, sets in (("dev", dev_sets), ("test", test_sets)):
        if not sets:
            continue
        t_rows, method = score_sets(teacher, sets, data_dir, seed)
        s_rows, _ = score_sets(student, sets, data_dir, seed)
        for t, s in zip(t_rows, s_rows):
            rows.append({"split": split, "dataset": t["dataset"], "n": t["n"], "teacher": t["spearman"],
                         "student": s["spearman"], "gap": round(s["spearman"] - t["spearman"], 2),
                         "teacher_ci95": t["ci95"], "student_ci95": s["ci95"]})
    return rows, method


def _train(cfg, student, texts, vectors, dev_sets, ckpt_dir: Path, resume: bool, console: Console) -> dict:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer
    from transformers import set_seed

    from sentemb.distill.losses import build_loss
    from sentemb.distill.teacher_cache import float32_rows
    from sentemb.training.evalsets import dev_evaluator, dev_scores
    from sentemb.training.progress import use_rich_progress

    set_seed(cfg.seed)
    data = Dataset.from_dict({"sentence": texts, "label": float32_rows(vectors)})
    loss = build_loss(student, cfg.sim_weight)
    args = training_arguments(cfg, ckpt_dir, cfg.seed, cfg.device, bool(dev_sets), in_batch=False)
    evaluator = dev_evaluator(dev_sets, cfg.batch_size) if dev_sets else None
    dev_before = None
    if evaluator is not None and cfg.eval_on_start:
        dev_before = dev_scores(evaluator(student), dev_sets)
        console.print(f"student dev before training: {dev_before}")
    trainer = SentenceTransformerTrainer(model=student, args=args, train_dataset=data, loss=loss,
                                         evaluator=evaluator)
    use_rich_progress(trainer, console, "distilling")
    ckpt = last_checkpoint(ckpt_dir) if resume else None
    if ckpt is not None:
        console.print(f"resuming from {ckpt}")
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    state = trainer.state
    return {
        "steps": state.global_step,
        "epochs": round(state.epoch or 0, 3),
        "train_loss": round(float(result.training_loss), 6),
        "loss": "mse" + (f" + {cfg.sim_weight} x similarity-matrix mse" if cfg.sim_weight else ""),
        "resumed_from": str(ckpt) if ckpt else None,
        "dev_before": dev_before,
        "dev_curve": dev_curve(state.log_history, dev_sets),
        "best_checkpoint": Path(state.best_model_checkpoint).name if state.best_model_checkpoint else None,
        "best_dev": round(100 * state.best_metric, 2) if state.best_metric is not None else None,
        "train_seconds": round(time.perf_counter() - t0, 1),
    }


def run_distill(cfg: DistillConfig, output_dir: str | Path, *, data_dir: str | None = None,
                base_dir: Path | None = None, resume: bool = False, console: Console | None = None,
                command: str | None = None, run_key: dict | None = None) -> dict[str, Any]:
    """Distil ``cfg.teacher`` into a smaller student written to ``output_dir``; returns the run summary.

    ``run_key``: what else the run depends on (a pipeline stage's upstream runs and input files); it is part
    of the run's fingerprint, so a run with another key neither resumes nor reuses this one.
    """
    from transformers import set_seed

    from sentemb.data.registry import resolve_data_dir
    from sentemb.distill.card import write_card
    from sentemb.distill.corpus import build_corpus, check_size, sample_corpus
    from sentemb.distill.student import count_parameters, refuse_exported
    from sentemb.distill.teacher_cache import corpus_hash, teacher_vectors
    from sentemb.models import load
    from sentemb.models.loading import pooling_name
    from sentemb.training.evalsets import load_eval_sets

    console = console or Console(stderr=True)
    out = Path(output_dir).expanduser().resolve()
    root = resolve_data_dir(data_dir)
    data_dir = str(root) if root else None
    fp = fingerprint(cfg, DistillConfig) | ({"run_key": run_key} if run_key else {})
    finished = check_run_output(out, fp, resume, kind="distillation", summary=SUMMARY)
    if finished is not None:
        console.print(f"{out}: this run finished earlier; nothing to resume")
        return finished
    t0 = time.perf_counter()

    # every check before the first encoding
    refuse_exported(cfg.teacher, "teacher")
    set_seed(cfg.seed)
    teacher = load(cfg.teacher, max_seq_length=cfg.max_seq_length, device=cfg.device)
    student, student_info = build_student(cfg, teacher, console)
    corpus = sample_corpus(build_corpus(cfg.corpus, cfg.corpus_datasets, data_dir, cfg.corpus_column, base_dir),
                           cfg.max_sentences, cfg.seed)
    check_size(corpus, cfg.batch_size)
    console.print(f"corpus: {corpus.describe_sample()} from {corpus.describe()} "
                  f"({corpus.duplicates} duplicates" + (f", {corpus.blank} blank lines" if corpus.blank else "")
                  + " removed)")
    dev_sets = load_eval_sets(cfg.eval, data_dir, base_dir)
    test_sets = load_eval_sets(cfg.test, data_dir, base_dir)

    tv = teacher_vectors(teacher, cfg.teacher, corpus.texts, cfg.max_seq_length, use_cache=cfg.cache,
                         batch_size=max(cfg.batch_size, 64), show_progress=True)
    console.print(f"teacher vectors: {tv.encoded} encoded, {tv.cached} from the cache ({tv.seconds} s)"
                  + (f" [dim]{tv.cache_dir}[/dim]" if tv.cache_dir else ""))
    out.mkdir(parents=True, exist_ok=True)
    write_fingerprint(out, fp)
    training = _train(cfg, student, corpus.texts, tv.vectors, dev_sets, out / CHECKPOINTS, resume, console)

    console.rule("teacher vs student")
    t1 = time.perf_counter()
    results, method = _eval_table(teacher, student, dev_sets, test_sets, data_dir, cfg.seed)
    summary = {
        "finished": True,
        "teacher": cfg.teacher,
        "student": student_info,
        "pooling": pooling_name(teacher),
        "modules": [type(m).__name__ for m in student],
        "parameters": {"teacher": count_parameters(teacher), "student": count_parameters(student)},
        "output": str(out),
        "command": command,
        "corpus": {**corpus.report(), "sha256": corpus_hash(corpus.texts)},
        "teacher_vectors": {"encoded": tv.encoded, "cached": tv.cached, "cache_dir": tv.cache_dir,
                            "seconds": tv.seconds},
        "hyper_parameters": {k: v for k, v in fingerprint(cfg, DistillConfig).items()
                             if k not in ("teacher", "layers", "keep", "student", "corpus", "corpus_column",
                                          "corpus_datasets", "max_sentences", "eval", "test", "cache",
                                          "keep_checkpoints")},
        "eval_sets": [s.name for s in dev_sets],
        "test_sets": [s.name for s in test_sets],
        "training": training,
        "results": results,
        "metric": method,
        "eval_seconds": round(time.perf_counter() - t1, 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }

    def write(folder: Path) -> None:
        save_model_files(student, folder)
        write_card(student, folder, summary)
        (folder / SUMMARY).write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")

    # student, card and summary replace the run folder in one rename; checkpoints stay only when asked for
    publish_run(out, write, carry=(CHECKPOINTS,) if cfg.keep_checkpoints else ())
    return summary
