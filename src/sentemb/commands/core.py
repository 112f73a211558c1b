"""Core commands: encode, similarity, run, stages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentemb.cli_app import DeviceOpt, MaxLenOpt, ModelOpt, PoolingOpt, ThreadsOpt, app, console, out
from sentemb.errors import SentembError


@app.command()
def encode(
    input: Annotated[Path | None, typer.Argument(help="Texts: .txt (one per line), .jsonl, .csv, .tsv or .parquet "
                                                 "(with --engine ray also s3://, gs://, hdfs://... URIs).")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model folder, hub id, alias (minilm-offline) "
                                              "or exported ONNX folder.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Vectors: .npy, .parquet (text + vector), "
                                                ".jsonl, or a folder (no suffix): sharded and resumable.")] = None,
    column: Annotated[str | None, typer.Option(help="Text column/field of .jsonl/.csv/.tsv/.parquet (default: text).")] = None,
    pooling: PoolingOpt = None,
    batch_size: Annotated[int, typer.Option(help="Texts per forward pass.")] = 32,
    device: DeviceOpt = None,
    normalize: Annotated[bool | None, typer.Option(
        "--normalize/--no-normalize", help="--normalize: L2-normalise the vectors; --no-normalize: drop the model's "
        "own Normalize module too (raw pooled vectors). Default: as the model outputs them.")] = None,
    max_seq_length: MaxLenOpt = None,
    allow_empty: Annotated[bool, typer.Option(help="Encode empty/whitespace-only texts as given instead of refusing.")] = False,
    threads: ThreadsOpt = None,
    shard_rows: Annotated[int | None, typer.Option(help="Folder output: rows per shard (default 100000, or the "
                                                   "folder's own on resume).", rich_help_panel="Folder output")] = None,
    store: Annotated[str, typer.Option(help="Folder output: keep each text (text), its hash (hash) or nothing (none).",
                                       rich_help_panel="Folder output")] = "text",
    engine: Annotated[str, typer.Option(help="Folder output: local (this process) or ray (a Ray cluster).",
                                        rich_help_panel="Folder output")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster: auto, ray://host:10001 or host:6379 (default: "
                                                "$RAY_ADDRESS, else a local cluster).", rich_help_panel="Folder output")] = None,
    num_workers: Annotated[int, typer.Option(help="Ray: encoder actors (each loads the model once).",
                                             rich_help_panel="Folder output")] = 1,
    gpus_per_worker: Annotated[float, typer.Option(help="Ray: GPUs per actor (0: CPU).",
                                                   rich_help_panel="Folder output")] = 0.0,
    verify: Annotated[Path | None, typer.Option(help="Check an encoded folder (every row once, finite vectors, "
                                                "counts as in the manifest) instead of encoding.")] = None,
):
    """Encode a file of texts; output row i is the vector of input row i.

    With a folder as output, the input is split into shards of --shard-rows rows, each written as a parquet
    file and recorded in manifest.json: a re-run after a crash skips the finished shards.
    """
    from sentemb.runtime import limit_threads
    from sentemb.scale import ENGINES, TEXT_MODES

    limit_threads(threads)
    if verify is not None:
        return _verify_encoded(verify)
    if input is None or model is None or output is None:
        raise SentembError("give INPUT, -m MODEL and -o OUTPUT (or --verify FOLDER)")
    if output.suffix == "" or output.is_dir():
        if engine not in ENGINES:
            raise SentembError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
        if store not in TEXT_MODES:
            raise SentembError(f"unknown --store {store!r}; use one of {', '.join(TEXT_MODES)}")
        return _encode_to_folder(input, model, output, column=column, pooling=pooling, normalize=normalize,
                                 max_seq_length=max_seq_length, text_mode=store, shard_rows=shard_rows,
                                 allow_empty=allow_empty, batch_size=batch_size, engine=engine, device=device,
                                 address=address, num_workers=num_workers, gpus_per_worker=gpus_per_worker)
    if engine != "local" or shard_rows is not None or address is not None:
        raise SentembError("--engine, --shard-rows and --address apply to a folder output (-o without a suffix)")
    from sentemb.encode import encode_model_file
    from sentemb.progress import make_progress

    with make_progress(console) as progress:
        s = encode_model_file(model, input, output, pooling=pooling, normalize=normalize,
                              max_seq_length=max_seq_length, device=device, column=column, batch_size=batch_size,
                              allow_empty=allow_empty, progress=progress)
    console.print(f"[green]encoded {s.rows} texts[/green] -> {s.output} (dim {s.dim})")
    if s.truncated:
        console.print(f"[yellow]{s.truncated} text(s) longer than {s.max_seq_length} tokens were truncated[/yellow]")


def _encode_to_folder(input: Path, model: str, output: Path, *, engine: str, device: str | None, address: str | None,
                      num_workers: int, gpus_per_worker: float, **request) -> None:
    from sentemb.scale import EncodeRequest, encode_to_dir

    req = EncodeRequest(model=model, input=str(input), **request)
    s = encode_to_dir(req, output, engine, device=device, address=address, num_workers=num_workers,
                      gpus_per_worker=gpus_per_worker)
    console.print(f"[green]encoded {s.encoded} shard(s)[/green], {s.skipped} already done, "
                  f"{s.shards} in all: {s.rows} texts -> {s.out_dir} "
                  f"(dim {s.dim}, {s.engine} engine, {s.seconds:.1f}s)")
    for reason in s.re_encoded:
        console.print(f"[yellow]re-encoded {reason}[/yellow]", highlight=False)
    if s.truncated:
        console.print(f"[yellow]{s.truncated} text(s) were truncated at the model's token limit[/yellow]")


def _verify_encoded(folder: Path) -> None:
    from sentemb.scale import verify_encoded

    r = verify_encoded(folder)
    if not r.ok:
        shown = "; ".join(r.problems[:10]) + (f"; and {len(r.problems) - 10} more" if len(r.problems) > 10 else "")
        raise SentembError(f"{folder}: {len(r.problems)} problem(s): {shown}")
    out.print(f"{folder}: OK: {r.rows} rows in {r.shards} shard(s), each row exactly once, "
              f"finite {r.dim}-dim vectors; input {r.input_status}", highlight=False)


@app.command()
def similarity(
    model: ModelOpt,
    text_a: Annotated[str | None, typer.Argument(help="First text.")] = None,
    text_b: Annotated[str | None, typer.Argument(help="Second text.")] = None,
    pairs: Annotated[Path | None, typer.Option(help="Score a file of pairs (.tsv/.csv/.jsonl) instead.")] = None,
    columns: Annotated[str | None, typer.Option(help="Pair columns, e.g. 'sentence1,sentence2' or '0,1'.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="With --pairs: write a .tsv of a, b, score "
                                                "(tab, newline and backslash inside a text escaped as \\t, \\n, \\\\).")] = None,
    header: Annotated[bool | None, typer.Option("--header/--no-header", help="With --pairs (.tsv/.csv): the first "
                                                "row is column names / is a pair (default: guessed, and said).")] = None,
    pooling: PoolingOpt = None,
    device: DeviceOpt = None,
    batch_size: int = 32,
    calibration: Annotated[str | None, typer.Option(help="Match calibration (.json or model folder; default: the "
                                                    "model's own from `sentemb calibrate`; 'none' to skip).")] = None,
):
    """Print the cosine similarity of two texts, or score every pair of a file.

    When the model is calibrated (``sentemb calibrate``), the match probability and is_match follow the score."""
    from sentemb.data.pairs import read_pairs
    from sentemb.models import load
    from sentemb.similarity import pair_cosine, scored_pair_lines, write_scored_pairs

    if pairs is None and (text_a is None or text_b is None):
        raise SentembError("give two texts, or --pairs FILE")
    if pairs is not None and (text_a is not None or text_b is not None):
        raise SentembError("give either two texts or --pairs FILE, not both")
    m = load(model, pooling=pooling, device=device)
    from sentemb.search.calibration import load_calibration

    if calibration == "none" or (calibration is None and pooling is not None):  # fitted for the model's own pooling
        cal = None
    else:
        cal = load_calibration(calibration or model)
    if pairs is None:
        score = float(pair_cosine(m, [text_a], [text_b])[0])
        extra = "" if cal is None else (f"\tprobability {float(cal.probability([score])[0]):.3f}\t"
                                        + ("match" if cal.is_match([score])[0] else "no-match"))
        typer.echo(f"{score:.4f}{extra}")
        return
    p = read_pairs(pairs, columns, header=header)
    if p.header is not None and header is None:
        console.print(f"first row read as column names ({', '.join(p.header)}); --no-header scores it as a pair",
                      markup=False, highlight=False)
    scores = pair_cosine(m, p.a, p.b, batch_size=batch_size)
    if output:
        write_scored_pairs(output, p.a, p.b, scores, cal)
        console.print(f"scored {len(p)} pairs -> {output}")
    else:
        for line in scored_pair_lines(p.a, p.b, scores, cal):  # plain TSV: rich would expand the tabs
            typer.echo(line)


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
    from sentemb.stages import load_stages

    for name, st in sorted(load_stages().items()):
        out.print(f"{name:12s} {st.doc}")
