"""Pipeline stage ``export``: a model to an ONNX folder (optionally int8 / fp16 / optimised)."""

from __future__ import annotations

from typing import Literal

from sentemb.export.quantize import INT8_MODES
from sentemb.stage_config import StageConfig
from sentemb.stage_registry import StageContext, register_stage
from sentemb.stages.checks import check_export


class ExportConfig(StageConfig):
    model: str
    format: Literal["onnx"] = "onnx"
    quantize: Literal["int8"] | None = None
    optimize: bool = False
    fp16: bool = False
    per_channel: bool = True
    int8_mode: Literal[INT8_MODES] | None = None  # the modes of sentemb.export.quantize
    opset: int = 17
    pooling: str | None = None
    normalize: bool | None = None
    max_seq_length: int | None = None
    output: str = "model"


@register_stage("export", ExportConfig, check=check_export,
                outputs={"model": "path", "precision": "str", "size_mb": "float", "min_cosine": "float"})
def run_export(cfg: ExportConfig, ctx: StageContext) -> dict:
    """Export a model to ONNX with pooling in the graph; outputs ``model`` (the folder, loadable by any stage)."""
    from sentemb.export import export_onnx

    target = ctx.output_dir / cfg.output
    local = ctx.path(cfg.model)
    model = str(local) if local.exists() else cfg.model  # a folder beside the pipeline file, or a name
    r = export_onnx(model, target, fmt=cfg.format, quantize=cfg.quantize, optimize=cfg.optimize, fp16=cfg.fp16,
                    per_channel=cfg.per_channel, int8_mode=cfg.int8_mode, opset=cfg.opset, pooling=cfg.pooling, normalize=cfg.normalize,
                    max_seq_length=cfg.max_seq_length)
    from sentemb.export.manifest import check_lines

    ctx.console.print(f"exported {cfg.model} -> {target} ({r.precision})\n  " + "\n  ".join(check_lines(r.check)),
                      highlight=False)
    return {"model": target, "precision": r.precision, "size_mb": round(r.size_bytes / 1e6, 2),
            "min_cosine": min(v["min_cosine"] for v in r.check.values() if v.get("checked", True))}
