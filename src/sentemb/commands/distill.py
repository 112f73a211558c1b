"""``sentemb distill``: a smaller student trained to reproduce a teacher's sentence vectors."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from sentemb.cli_app import DeviceOpt, MaxLenOpt, app, console, out
from sentemb.errors import SentembError

# DistillConfig's defaults, shown in the help without importing pydantic (a test keeps them equal).
HELP_DEFAULTS = {"sim_weight": 0.0, "epochs": 4.0, "batch_size": 32, "learning_rate": 3e-4, "warmup": 0.1, "seed": 42}


def _default(name: str) -> str:
    return f" (default: {HELP_DEFAULTS[name]:g})"


def _items(values: list[str] | None) -> list[str]:
    """Repeatable options that also accept comma-separated lists."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@app.command()
def distill(
    teacher: Annotated[str, typer.Option("--teacher", "-t", help="Teacher: model folder, hub id or alias "
                                         "(minilm-offline).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the student (sentence-transformers "
                                         "format), its README.md and distill_summary.json.")],
    layers: Annotated[int | None, typer.Option(help="Keep N evenly spaced teacher layers (12 -> 4 keeps 1,4,7,10; "
                                               "6 -> 3 keeps 1,3,5).")] = None,
    keep: Annotated[str | None, typer.Option(help="Keep exactly these teacher layers, 0-based, e.g. 0,2,4.")] = None,
    student: Annotated[str | None, typer.Option(help="Distil into this model instead of a layer-reduced teacher "
                                                "(a linear projection is added if its size differs).")] = None,
    corpus: Annotated[list[Path] | None, typer.Option(help="Sentences to train on: .txt (one per line), .jsonl, "
                                                      ".csv, .tsv, .parquet. Repeatable.")] = None,
    column: Annotated[str | None, typer.Option(help="Text column/field of .jsonl/.csv/.tsv/.parquet corpus files "
                                               "(default: text); several comma-separated, e.g. sentence1,sentence2.")] = None,
    corpus_dataset: Annotated[list[str] | None, typer.Option(help="Also train on the sentences of a registered "
                                                             "dataset (e.g. stsb-train). Repeatable.")] = None,
    max_sentences: Annotated[int | None, typer.Option(help="Train on a sample of this many unique corpus "
                                                      "sentences, drawn with --seed before the teacher encodes "
                                                      "them (default: all).")] = None,
    eval_: Annotated[list[str] | None, typer.Option("--eval", help="Registered sets scored during training; "
                                                    "the best checkpoint on them is kept. Repeatable.")] = None,
    test: Annotated[list[str] | None, typer.Option(help="Registered sets scored at the end for teacher and "
                                                   "student. Repeatable.")] = None,
    sim_weight: Annotated[float | None, typer.Option(help="Weight of the in-batch cosine-similarity-matrix term "
                                                     "added to the MSE (0: MSE only)." + _default("sim_weight"))] = None,
    epochs: Annotated[float | None, typer.Option(help="Passes over the corpus." + _default("epochs"))] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps (overrides --epochs).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Sentences per training step." + _default("batch_size"))] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate (linear warm-up and decay)."
                                             + _default("learning_rate"))] = None,
    warmup: Annotated[float | None, typer.Option(help="Warm-up: a fraction of the steps (< 1) or a step count."
                                                 + _default("warmup"))] = None,
    eval_steps: Annotated[int | None, typer.Option(help="Evaluate and checkpoint every N steps "
                                                   "(default: each epoch).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed." + _default("seed"))] = None,
    max_seq_length: MaxLenOpt = None,
    device: DeviceOpt = None,
    data_dir: Annotated[str | None, typer.Option(help="Benchmark data folder (default: $SENTEMB_DATA).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Encode the corpus with the teacher even if its "
                                           "vectors are cached.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run in the output folder.")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the run summary here.")] = None,
):
    """Distil a teacher into a smaller student that reproduces its sentence vectors.

    The student keeps the teacher's embeddings, N of its transformer layers and its pooling / Dense /
    Normalize modules, and is trained with MSE to the teacher's vectors of the corpus (plus, with
    --sim-weight, the in-batch similarity structure). The teacher's corpus vectors are cached, so a rerun
    does not encode again. Example:

    sentemb distill -t minilm-offline --layers 3 --corpus-dataset stsb-train --corpus-dataset stsb-dev
    --eval stsb-dev --test stsb-test -o runs/minilm-l3
    """
    from pydantic import ValidationError

    from sentemb.atomic import write_text
    from sentemb.distill import DistillConfig, run_distill
    from sentemb.stage_config import validation_message

    try:
        given = dict(sim_weight=sim_weight, epochs=epochs, batch_size=batch_size, learning_rate=lr, warmup=warmup,
                     seed=seed)  # unset: the config's defaults
        cfg = DistillConfig(teacher=teacher, layers=layers, keep=keep, student=student,
                            corpus=[str(p) for p in corpus or []], corpus_column=column,
                            corpus_datasets=_items(corpus_dataset), max_sentences=max_sentences,
                            eval=_items(eval_), test=_items(test),
                            max_steps=max_steps, eval_steps=eval_steps, max_seq_length=max_seq_length,
                            device=device, cache=not no_cache, **{k: v for k, v in given.items() if v is not None})
    except ValidationError as err:
        raise SentembError(validation_message(err, "distill").replace("\n", "; ")) from None
    command = "sentemb " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None
    with contextlib.redirect_stdout(sys.stderr):  # the trainer's logs; stdout keeps the result table
        summary = run_distill(cfg, output, data_dir=data_dir, resume=resume, console=console, command=command)
    if json_out:
        write_text(json_out, json.dumps(summary, indent=2, ensure_ascii=False))
    print_summary(summary)


def print_summary(summary: dict) -> None:
    from rich.table import Table

    tr = summary["training"]
    best = f", best dev {tr['best_dev']} at {tr['best_checkpoint']}" if tr.get("best_checkpoint") else ""
    console.print(f"trained {tr['steps']} steps in {tr['train_seconds']} s{best}")
    if summary["results"]:
        out.print(summary["metric"] + "; gap = student - teacher", highlight=False)
        table = Table("split", "dataset", "n", "teacher", "student", "gap")
        for r in summary["results"]:
            table.add_row(r["split"], r["dataset"], str(r["n"]), f"{r['teacher']:.2f}", f"{r['student']:.2f}",
                          f"{r['gap']:+.2f}")
        out.print(table)
    p = summary["parameters"]
    console.print(f"[green]student saved[/green] -> {summary['output']} ({p['student'] / 1e6:.1f} M parameters, "
                  f"teacher {p['teacher'] / 1e6:.1f} M; {summary['wall_seconds']} s)")
