"""The ``sentemb`` command line: thin wrappers that parse, call the library, and print."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from sentemb.errors import SentembError

app = typer.Typer(
    help="Sentence embeddings for Chinese and English: encode, evaluate, train, distil, export, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
out = Console()

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model folder, hub id or alias (minilm-offline).")]
PoolingOpt = Annotated[str | None, typer.Option(
    help="Pooling: cls, mean, max, first-last-avg, pooler, weighted-mean, last-token (default: the model's own).")]
DeviceOpt = Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, mps (default: best available).")]
MaxLenOpt = Annotated[int | None, typer.Option(help="Token limit; longer texts are truncated (and counted).")]


def main() -> None:
    """Console entry point: user errors are one clear line, not a traceback."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        app()
    except SentembError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}", markup=True, highlight=False)
        sys.exit(2)


import sentemb.commands  # noqa: E402,F401  (registers the commands)

if __name__ == "__main__":
    main()
