"""The typer app every command registers on, its consoles, and the option types commands share.

Command modules import it from here (``sentemb.cli``, the entry point, imports the command modules).
Importing it is cheap (typer and rich only): command modules import heavy libraries inside their
functions, so ``sentemb --help`` does not load torch.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperGroup

from sentemb.errors import SentembError

console = Console(stderr=True)  # progress, status lines and warnings (silenced by --quiet)
out = Console()  # results
errors = Console(stderr=True)  # user errors: printed even with --quiet


class _Commands(TyperGroup):
    """Prints a user error as one line (exit code 2) instead of a traceback."""

    def invoke(self, ctx):
        # transformers reads this when it is first imported: no per-weight "Loading weights" bars;
        # sentemb's own rich progress stays.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            return super().invoke(ctx)
        except SentembError as exc:
            errors.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Commands,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from sentemb import __version__

        out.print(f"sentemb {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only results and errors: no progress bars, "
                                        "status lines or library logs (also SENTEMB_QUIET=1).")] = False,
) -> None:
    """Sentence embeddings for Chinese and English: encode, evaluate, train, distil, export, serve.

    Benchmark data is read from --data-dir, else $SENTEMB_DATA. Set HF_HUB_OFFLINE=1 to never reach the Hub.
    """
    from sentemb.progress import set_quiet

    set_quiet(quiet or os.environ.get("SENTEMB_QUIET", "").strip() not in ("", "0"), console)


ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model folder, hub id or alias (minilm-offline).")]
PoolingOpt = Annotated[
    str | None,
    typer.Option(
        help="Pooling: cls, mean, max, first-last-avg, pooler, weighted-mean, last-token (default: the model's own)."
    ),
]
DeviceOpt = Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, mps (default: best available).")]
MaxLenOpt = Annotated[int | None, typer.Option(help="Token limit; longer texts are truncated (and counted).")]
DataDirOpt = Annotated[str | None, typer.Option(
    help="Benchmark data folder (default: $SENTEMB_DATA; see `sentemb datasets`).")]
ThreadsOpt = Annotated[int | None, typer.Option(
    help="CPU threads for torch / OpenMP (default: all cores; 1-2 is often faster on a busy machine).")]
