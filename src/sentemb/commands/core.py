"""Core commands: encode, similarity, run, stages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentemb.cli import DeviceOpt, MaxLenOpt, ModelOpt, PoolingOpt, app, console, out
from sentemb.errors import SentembError


@app.command()
def encode(
    input: Annotated[Path, typer.Argument(help="Texts: .txt (one per line), .jsonl, .csv, .tsv or .parquet.")],
    model: ModelOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Vectors: .npy, .parquet (text + vector) or .jsonl.")],
    column: Annotated[str | None, typer.Option(help="Text column/field of .jsonl/.csv/.tsv/.parquet (default: text).")] = None,
    pooling: PoolingOpt = None,
    batch_size: Annotated[int, typer.Option(help="Texts per forward pass.")] = 32,
    device: DeviceOpt = None,
    normalize: Annotated[bool, typer.Option("--normalize/--no-normalize", help="L2-normalise the vectors.")] = False,
    max_seq_length: MaxLenOpt = None,
    allow_empty: Annotated[bool, typer.Option(help="Encode empty/whitespace-only texts as given instead of refusing.")] = False,
):
    """Encode a file of texts; output row i is the vector of input row i."""
    from sentemb.encode import encode_file
    from sentemb.models import load

    m = load(model, pooling=pooling, max_seq_length=max_seq_length, device=device)
    s = encode_file(m, input, output, column=column, batch_size=batch_size, normalize=normalize,
                    allow_empty=allow_empty)
    console.print(f"[green]encoded {s.rows} texts[/green] -> {s.output} (dim {s.dim})")
    if s.truncated:
        console.print(f"[yellow]{s.truncated} text(s) longer than {s.max_seq_length} tokens were truncated[/yellow]")


@app.command()
def similarity(
    model: ModelOpt,
    text_a: Annotated[str | None, typer.Argument(help="First text.")] = None,
    text_b: Annotated[str | None, typer.Argument(help="Second text.")] = None,
    pairs: Annotated[Path | None, typer.Option(help="Score a file of pairs (.tsv/.csv/.jsonl) instead.")] = None,
    columns: Annotated[str | None, typer.Option(help="Pair columns, e.g. 'sentence1,sentence2' or '0,1'.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="With --pairs: write a .tsv of a, b, score.")] = None,
    pooling: PoolingOpt = None,
    device: DeviceOpt = None,
    batch_size: int = 32,
):
    """Print the cosine similarity of two texts, or score every pair of a file."""
    from sentemb.data.pairs import read_pairs
    from sentemb.models import load
    from sentemb.similarity import pair_cosine

    if pairs is None and (text_a is None or text_b is None):
        raise SentembError("give two texts, or --pairs FILE")
    if pairs is not None and (text_a is not None or text_b is not None):
        raise SentembError("give either two texts or --pairs FILE, not both")
    m = load(model, pooling=pooling, device=device)
    if pairs is None:
        out.print(f"{float(pair_cosine(m, [text_a], [text_b])[0]):.4f}")
        return
    p = read_pairs(pairs, columns)
    scores = pair_cosine(m, p.a, p.b, batch_size=batch_size)
    lines = [f"{a}\t{b}\t{s:.6f}" for a, b, s in zip(p.a, p.b, scores)]
    if output:
        from sentemb.atomic import write_text

        write_text(output, "sentence1\tsentence2\tscore\n" + "\n".join(lines) + "\n")
        console.print(f"scored {len(lines)} pairs -> {output}")
    else:
        for line in lines:
            out.print(line, markup=False, highlight=False)


@app.command()
def run(
    pipeline: Annotated[Path | None, typer.Argument(help="Pipeline YAML (none: the built-in demo).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output folder (overrides the config's).")] = None,
    data_dir: Annotated[str | None, typer.Option(help="Benchmark data folder (default: $SENTEMB_DATA).")] = None,
    resume: Annotated[bool, typer.Option(help="Reuse stages that finished earlier with the same config.")] = False,
):
    """Run a pipeline of stages (encode, eval, train, ...); with no file, the built-in demo."""
    from sentemb.pipeline import run_pipeline

    results = run_pipeline(pipeline, output, data_dir=data_dir, resume=resume, console=console)
    console.print(f"[green]pipeline finished:[/green] {len(results)} stage(s)")
    for sid, outputs in results.items():
        console.print(f"  {sid}: " + ", ".join(f"{k}={v}" for k, v in outputs.items()))


@app.command()
def stages():
    """List the registered pipeline stages."""
    from sentemb.pipeline import STAGES, _load_stages

    _load_stages()
    for name, st in sorted(STAGES.items()):
        out.print(f"{name:12s} {st.doc}")
