"""``sentemb export``: a model to an ONNX folder (pooling and normalisation inside the graph), int8 or fp16."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentemb.cli_app import MaxLenOpt, PoolingOpt, app, console, out


@app.command()
def export(
    model: Annotated[str, typer.Argument(help="Model folder, hub id or alias (minilm-offline) to export.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write: model.onnx, tokenizer, sentemb_onnx.json.")],
    fmt: Annotated[str, typer.Option("--format", help="Export format: onnx.")] = "onnx",
    quantize: Annotated[str | None, typer.Option(help="int8: int8 weights for CPU inference (see --int8-mode).")] = None,
    int8_mode: Annotated[str | None, typer.Option(
        help="int8: dynamic (default; activations quantised per batch, fastest), per-token (each token's "
             "activations quantised by themselves: a text gets the same vector in any batch, closer to fp32, "
             "about 0.9x the speed of dynamic: the int8 to serve) or weight-only (8-bit weights, fp32 "
             "arithmetic: closest to fp32, about 0.3x the speed).")] = None,
    optimize: Annotated[bool, typer.Option(help="Fuse attention, layer-norm and GELU sub-graphs (onnxruntime optimiser).")] = False,
    fp16: Annotated[bool, typer.Option(help="Half-precision graph for GPU inference (onnxruntime-gpu).")] = False,
    per_channel: Annotated[bool, typer.Option(help="dynamic int8: one weight scale per output channel (more accurate).")] = True,
    opset: Annotated[int, typer.Option(help="ONNX opset version.")] = 17,
    pooling: PoolingOpt = None,
    normalize: Annotated[bool | None, typer.Option("--normalize/--no-normalize",
                                                   help="Add / remove L2 normalisation in the graph (default: the model's).")] = None,
    max_seq_length: MaxLenOpt = None,
    overwrite: Annotated[bool, typer.Option(help="Replace the output folder even if it holds other files (by default "
                                            "only an empty folder or an earlier export is replaced).")] = False,
):
    """Export a model to ONNX: one graph from token ids to the final sentence vector.

    The graph includes pooling (first-last-avg and pooler too), Dense layers and normalisation, so it gives
    the model's own vectors. It is checked against the torch model before the folder is written. The
    folder loads with sentemb.load(OUT) and works with every command (-m OUT): encode, eval, bench, serve.
    """
    from sentemb.export import export_onnx
    from sentemb.export.onnx import check_options

    check_options(fmt, quantize, fp16, int8_mode)
    what = f" ({quantize}, {int8_mode or 'dynamic'})" if quantize else " (fp16)" if fp16 else ""
    console.print(f"exporting {model} to {fmt}{what}")
    r = export_onnx(model, output, fmt=fmt, quantize=quantize, optimize=optimize, fp16=fp16, per_channel=per_channel,
                    int8_mode=int8_mode, opset=opset, pooling=pooling, normalize=normalize, max_seq_length=max_seq_length,
                    overwrite=overwrite)
    from sentemb.export.manifest import check_lines

    for line in check_lines(r.check):
        bad = "FAILED" in line or "not checked" in line
        console.print(f"  [yellow]{line}[/yellow]" if bad else f"  {line}", highlight=False)
    if r.fused:
        console.print("  fused: " + ", ".join(f"{k} x{v}" for k, v in r.fused.items()), highlight=False)
    out.print(f"{r.path}  ({r.precision}{', optimized' if r.optimized else ''}, graph {r.size_bytes / 1e6:.1f} MB)",
              highlight=False)
