"""``sentemb push``: publish a model folder to the Hugging Face Hub with a model card of its results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentemb.cli_app import app, out


@app.command()
def push(
    model: Annotated[Path, typer.Argument(help="Model folder (written by sentemb train / distill / whiten / wordvec).")],
    repo_id: Annotated[str, typer.Argument(help="Hub repository, e.g. my-org/my-model.")],
    private: Annotated[bool, typer.Option(help="Create the repository as private.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only write the folder that would be uploaded.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to stage the upload (default: MODEL-upload beside the model).")] = None,
    results: Annotated[Path | None, typer.Option(help="Benchmark JSON from `sentemb eval --json` for the card's table (default: the run's own final scores).")] = None,
    command: Annotated[str | None, typer.Option(help="The command that produced --results, quoted in the card.")] = None,
    token: Annotated[str | None, typer.Option(help="Hub token (default: the one saved by `hf auth login`, or $HF_TOKEN).")] = None,
):
    """Publish a model through sentence-transformers' push_to_hub, with a model card that carries its benchmark
    table (Spearman with 95% CIs and the command), its training or distillation config, its pooling and how to
    load it in plain sentence-transformers. Needs the network unless --dry-run.
    """
    from sentemb.publish import push_model

    staged = output or model.parent / f"{model.resolve().name}-upload"
    url = push_model(model, repo_id, staged, private=private, dry_run=dry_run, results=results, command=command,
                     token=token)
    out.print(f"staged {staged}" + ("" if dry_run else f"\nuploaded {url}"), highlight=False, soft_wrap=True)
