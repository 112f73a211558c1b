"""Export a sentence encoder to ONNX as ONE graph: token ids in, the final sentence vector out.

The graph holds the whole ``SentenceTransformer`` forward: the transformer and every module after it
(``Pooling``, the ``WeightedLayerPooling`` of first-last-avg, the ``Dense`` of pooler pooling or of a
projection, ``Normalize``), so
the exported model gives the same vectors as the original rather than raw token states that a caller
would have to pool. Batch and sequence axes are dynamic.

It uses torch's TorchScript-based ONNX exporter: sentence-transformers' own ONNX backend needs
``optimum-onnx``, which requires transformers < 4.58, and it exports only the token states (pooling
stays in Python). Before the folder is final, sample sentences go through it (saved tokenizer, graph) and
through the torch model, and the two sets of vectors must agree.

int8 comes in three modes (``int8_mode``, recorded in the manifest; see :mod:`sentemb.export.quantize`):
``dynamic`` (the default, fastest on CPU) quantises activations with one scale per batch, so a text's
vector depends a little on the other texts of its batch; ``per-token`` gives each token's activations
their own scale, so every text gets the same vector in any batch, at about 0.9x the speed of dynamic;
``weight-only`` also gives batch-independent vectors and stays closest to fp32, but with onnxruntime 1.32
its 8-bit kernel runs batches at about 0.3x the speed of dynamic int8 (``benchmarks/int8_modes.py``).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentemb.atomic import atomic_path
from sentemb.errors import SentembError, unknown_name
from sentemb.export.manifest import write_manifest
from sentemb.export.quantize import INT8_MODES, WEIGHT_ONLY_BLOCK

FORMATS = ("onnx",)
QUANTIZATIONS = ("int8",)
ONNX_FILE = "model.onnx"
OUTPUT = "sentence_embedding"
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DEFAULT_OPSET = 17
#: an fp32 graph whose vectors differ more than this from the torch model's is refused
MIN_COSINE_FP32 = 0.9999
#: an int8 graph passes its accuracy check when every check sentence keeps this cosine to the fp32 model's
#: vector. all-MiniLM-L6-v2 gives 0.965 with per-channel scales (STSb test within 0.5 points of fp32) and
#: 0.844 with per-tensor ones; a failed check is recorded in the manifest and reported, not hidden
MIN_COSINE_INT8 = 0.95
#: why an fp16 graph carries no numeric check on a machine without CUDA
FP16_UNCHECKED = ("not checked numerically: fp16 graphs run on CUDA and onnxruntime has no CUDA execution "
                  "provider here; check the folder on a GPU (e.g. sentemb eval -m OUT)")
#: one ONNX protobuf file holds at most 2 GB
MAX_BYTES = 2 * 10**9
#: sentences the exported graph is checked on (mixed lengths, both languages, one long enough to pad others)
CHECK_TEXTS = [
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden gate.",
    "为什么我的花呗额度不能用了",
    "今天天气很好",
    "ok",
    "Three children are running along the beach, laughing as the waves roll in behind them.",
]


class SentenceGraph(torch.nn.Module):
    """The full sentence-transformers forward as a function of the token tensors, for tracing."""

    def __init__(self, model, input_names: list[str]):
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        features = dict(zip(self.input_names, tensors))
        return self.model(features)[OUTPUT]


@dataclass
class ExportResult:
    path: Path
    precision: str
    optimized: bool
    size_bytes: int
    check: dict[str, Any] = field(default_factory=dict)
    fused: dict[str, int] = field(default_factory=dict)


def check_options(fmt: str, quantize: str | None, fp16: bool, int8_mode: str | None = None) -> None:
    """Refuse an unknown format, quantisation or int8 mode, or a contradictory combination."""
    if fmt not in FORMATS:
        raise unknown_name("export format", fmt, FORMATS)
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise unknown_name("quantisation", quantize, QUANTIZATIONS)
    if quantize and fp16:
        raise SentembError("choose int8 quantisation (CPU) or fp16 (GPU), not both")
    if int8_mode is not None:
        if int8_mode not in INT8_MODES:
            raise unknown_name("int8 mode", int8_mode, INT8_MODES)
        if quantize != "int8":
            raise SentembError(f"int8 mode {int8_mode!r} applies to int8 quantisation only: add --quantize int8")


def check_exportable(model) -> None:
    """Refuse models the graph export does not cover, with the reason.

    The first module must be a text transformer; the modules after it (pooling, Dense, Normalize, ...) are
    traced as they are, and the exported graph is then compared with the model on real sentences.
    """
    from sentence_transformers.sentence_transformer.modules import Transformer

    modules = list(model)
    if not modules or not isinstance(modules[0], Transformer):
        first = type(modules[0]).__name__ if modules else "nothing"
        raise SentembError(
            f"cannot export to ONNX: the model's first module is {first}, not a transformer; export covers "
            "transformer encoders followed by pooling / Dense / Normalize modules"
        )
    if "text" not in getattr(modules[0], "modality_config", {"text": None}):
        raise SentembError("cannot export to ONNX: the transformer takes no text input")
    if modules[0].tokenizer is None:
        raise SentembError("cannot export to ONNX: the model has no tokenizer")


def _token_inputs(model, texts: list[str]) -> tuple[list[str], tuple[torch.Tensor, ...]]:
    tok = model[0].tokenizer
    feats = tok(texts, padding=True, truncation="longest_first", max_length=model.max_seq_length,
                return_tensors="pt")
    names = [n for n in TOKEN_INPUTS if n in feats]
    if "input_ids" not in names or "attention_mask" not in names:
        raise SentembError("cannot export to ONNX: the tokenizer does not return input_ids and attention_mask")
    return names, tuple(feats[n] for n in names)


def _trace_onnx(model, path: Path, opset: int) -> list[str]:
    # a padded batch, so the traced graph keeps the attention-mask path for every later batch
    names, example = _token_inputs(model, CHECK_TEXTS[:2])
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes[OUTPUT] = {0: "batch"}
    graph = SentenceGraph(model, names).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(graph, example, str(path), input_names=names, output_names=[OUTPUT],
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=True, dynamo=False)
        except Exception as exc:
            modules = ", ".join(type(m).__name__ for m in model)
            raise SentembError(f"torch could not export this model ({modules}) to ONNX: "
                               f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    import onnx

    # the exporter drops inputs the model ignores (e.g. token_type_ids of DistilBERT): the graph's own list counts
    return [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]


def _eager_attention(model) -> str | None:
    """Switch to the plain attention implementation (its ONNX sub-graph is the one ORT's fusion recognises)."""
    auto = model[0].auto_model
    before = getattr(auto.config, "_attn_implementation", None)
    try:
        auto.set_attn_implementation("eager")
    except Exception:  # a model that supports one implementation only
        return None
    return before


def check_folder(model, folder: Path, manifest: dict[str, Any], graph: str, device: str = "cpu") -> dict[str, float]:
    """Encode :data:`CHECK_TEXTS` through the folder (its saved tokenizer, ``graph``) and through the model.

    The whole path a user takes is compared: tokenizer files as saved, length sorting, the graph.
    """
    from sentemb.export.backend import OnnxEncoder

    write_manifest(folder, {**manifest, "file": graph})
    got = OnnxEncoder(folder, device=device).encode(CHECK_TEXTS, batch_size=4).astype(np.float64)
    want = np.asarray(model.encode(CHECK_TEXTS, batch_size=4, convert_to_numpy=True, show_progress_bar=False),
                      dtype=np.float64)
    cos = (got * want).sum(1) / np.maximum(np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1), 1e-12)
    return {"checked": True, "reference": "the torch model (fp32)", "min_cosine": round(float(cos.min()), 6),
            "mean_cosine": round(float(cos.mean()), 6), "max_abs_diff": float(np.abs(got - want).max()),
            "texts": len(CHECK_TEXTS)}


def _describe(model, source: str | None, names: list[str], precision: str, optimize: bool, quantize, per_channel,
              int8_mode: str | None, opset: int) -> dict[str, Any]:
    import onnxruntime
    from sentence_transformers.sentence_transformer.modules import Normalize

    from sentemb.models.loading import pooling_name

    config = model[0].auto_model.config
    return {
        "file": ONNX_FILE,
        "inputs": names,
        "output": OUTPUT,
        "dimension": int(model.get_embedding_dimension()),
        "max_seq_length": model.max_seq_length,
        "normalize": any(isinstance(m, Normalize) for m in model),
        "pooling": pooling_name(model),
        "precision": precision,
        "optimized": bool(optimize),
        "int8_mode": int8_mode if quantize else None,
        # dynamic mode's weight scales per output channel; weight-only has per-block scales
        "per_channel": bool(per_channel) if quantize and int8_mode == "dynamic" else None,
        "block_size": WEIGHT_ONLY_BLOCK if quantize and int8_mode == "weight-only" else None,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "model_type": getattr(config, "model_type", None),
        "source": source or str(getattr(config, "_name_or_path", "") or "") or None,
        "similarity_fn_name": getattr(model, "similarity_fn_name", None) or "cosine",
        "opset": opset,
        "exporter": f"torch.onnx (TorchScript) {torch.__version__}",
        "onnxruntime": onnxruntime.__version__,
    }


def export_onnx(model, output: str | os.PathLike, fmt: str = "onnx", quantize: str | None = None,
                optimize: bool = False, fp16: bool = False, per_channel: bool = True, int8_mode: str | None = None,
                opset: int = DEFAULT_OPSET,
                pooling: str | None = None, normalize: bool | None = None, max_seq_length: int | None = None,
                overwrite: bool = False) -> ExportResult:
    """Export ``model`` (a name, folder or loaded ``SentenceTransformer``) to an ONNX folder at ``output``.

    Args:
        fmt: export format; only ``onnx``.
        quantize: ``int8`` for int8 weights (CPU), ``None`` for float.
        optimize: fuse attention / layer-norm / GELU sub-graphs with onnxruntime's transformer optimiser
            (with ``per-token`` and ``weight-only`` int8, attention stays unfused so its projections are
            quantised too).
        fp16: half-precision graph for GPU execution (not with ``quantize``).
        per_channel: dynamic int8: weight scales per output channel (more accurate) rather than per tensor.
        int8_mode: ``dynamic`` (default: activations quantised per batch, fastest), ``per-token`` (each
            token's activations quantised by themselves: a text's vector is the same in any batch, ~0.9x the
            speed) or ``weight-only`` (8-bit MatMulNBits, batch-independent, closest to fp32, ~0.3x the speed).
        pooling, normalize, max_seq_length: as for :func:`sentemb.load`, when ``model`` is a name.
        overwrite: replace ``output`` even if it holds files that are not an earlier export (refused otherwise).

    The folder holds ``model.onnx``, the tokenizer files and ``sentemb_onnx.json``; ``sentemb.load`` reads it.
    """
    check_options(fmt, quantize, fp16, int8_mode)
    int8_mode = (int8_mode or INT8_MODES[0]) if quantize else None
    from sentemb.export.manifest import MANIFEST
    from sentemb.runs import check_output_folder

    check_output_folder(output, MANIFEST, "sentemb export", overwrite)
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise SentembError("ONNX export needs onnx and onnxruntime: pip install 'sentemb[onnx]'") from exc

    source = None
    if isinstance(model, (str, os.PathLike)):
        from sentemb.export.manifest import is_onnx_folder
        from sentemb.models.loading import load, resolve_model_path

        source = str(model)
        path = resolve_model_path(source)
        if not Path(path).exists() and (source.startswith((".", "/", "~")) or source.count("/") > 1):
            raise SentembError(f"model folder not found: {source}")
        if is_onnx_folder(path):
            raise SentembError(f"{source} is already an exported ONNX folder; export the original model")
        model = load(source, pooling=pooling, normalize=normalize, max_seq_length=max_seq_length, device="cpu")
    elif pooling is not None or normalize is not None or max_seq_length is not None:
        raise SentembError("pooling / normalize / max_seq_length apply to a model name or folder, not a loaded model")
    check_exportable(model)
    if sum(p.numel() for p in model.parameters()) * 4 > MAX_BYTES:
        raise SentembError("models over 2 GB in float32 exceed a single ONNX file; their export is not supported yet")

    from sentemb.export.quantize import convert_fp16, optimize_graph, quantize_int8

    device = model.device
    was_training = model.training
    model.to("cpu").eval()
    attn_before = _eager_attention(model)
    config = model[0].auto_model.config
    precision = "int8" if quantize else "fp16" if fp16 else "fp32"
    try:
        with atomic_path(output) as folder:
            folder.mkdir()
            model[0].tokenizer.save_pretrained(str(folder))
            names = _trace_onnx(model, folder / "traced.onnx", opset)
            manifest = _describe(model, source, names, precision, optimize, quantize, per_channel, int8_mode, opset)
            graphs = ["traced.onnx"]
            as_fp32 = {**manifest, "precision": "fp32"}
            check = {"fp32": check_folder(model, folder, as_fp32, graphs[-1])}
            if check["fp32"]["min_cosine"] < MIN_COSINE_FP32:
                raise SentembError(f"the exported graph does not reproduce the model (min cosine "
                                   f"{check['fp32']['min_cosine']} < {MIN_COSINE_FP32}); please report this model")
            fused: dict[str, int] = {}
            if optimize:
                graphs.append("optimized.onnx")
                fused = optimize_graph(folder / graphs[-2], folder / graphs[-1],
                                       num_heads=getattr(config, "num_attention_heads", 0) or 0,
                                       hidden_size=getattr(config, "hidden_size", 0) or 0, use_gpu=fp16,
                                       attention=int8_mode not in ("weight-only", "per-token"))
                if not fp16:
                    check["optimized"] = check_folder(model, folder, as_fp32, graphs[-1])
                    if check["optimized"]["min_cosine"] < MIN_COSINE_FP32:
                        raise SentembError("graph optimisation changed the vectors (min cosine "
                                           f"{check['optimized']['min_cosine']}); export without --optimize")
            if quantize:
                graphs.append("int8.onnx")
                quantize_int8(folder / graphs[-2], folder / graphs[-1], per_channel=per_channel, mode=int8_mode)
                c = check_folder(model, folder, {**manifest, "precision": "int8"}, graphs[-1])
                check["int8"] = {**c, "mode": int8_mode, "threshold": MIN_COSINE_INT8,
                                 "passed": c["min_cosine"] >= MIN_COSINE_INT8}
            if fp16:
                import onnxruntime

                graphs.append("fp16.onnx")
                convert_fp16(folder / graphs[-2], folder / graphs[-1])
                if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
                    check["fp16"] = check_folder(model, folder, manifest, graphs[-1], device="cuda")
                else:
                    check["fp16"] = {"checked": False, "note": FP16_UNCHECKED}
            os.replace(folder / graphs[-1], folder / ONNX_FILE)
            for g in graphs[:-1]:
                (folder / g).unlink()
            write_manifest(folder, {**manifest, "fused_operators": fused, "check": check})
            from sentemb.search.calibration import write_attached

            write_attached(model, folder)  # a calibration of the source model stays with its export
    finally:
        if attn_before is not None:
            try:
                model[0].auto_model.set_attn_implementation(attn_before)
            except Exception:
                pass
        model.to(device)
        model.train(was_training)
    onnx_size = (Path(output) / ONNX_FILE).stat().st_size
    return ExportResult(Path(output), precision, bool(optimize), onnx_size, check, fused)
