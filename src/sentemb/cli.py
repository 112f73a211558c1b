"""The ``sentemb`` command line: thin wrappers that parse, call the library, and print."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperGroup

from sentemb.errors import SentembError

console = Console(stderr=True)
out = Console()


class _Commands(TyperGroup):
    """Prints a user error as one line (exit code 2) instead of a traceback."""

    def invoke(self, ctx):
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-weight loading bars; our own progress stays
        try:
            return super().invoke(ctx)
        except SentembError as exc:
            console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Commands,
    help="Sentence embeddings for Chinese and English: encode, evaluate, train, distil, export, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model folder, hub id or alias (minilm-offline).")]
PoolingOpt = Annotated[
    str | None,
    typer.Option(
        help="Pooling: cls, mean, max, first-last-avg, pooler, weighted-mean, last-token (default: the model's own)."
    ),
]
DeviceOpt = Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, mps (default: best available).")]
MaxLenOpt = Annotated[int | None, typer.Option(help="Token limit; longer texts are truncated (and counted).")]


def main() -> None:
    """Console entry point: user errors are one clear line, not a traceback."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()


import sentemb.commands  # noqa: E402,F401  (registers the commands)

if __name__ == "__main__":
    main()
