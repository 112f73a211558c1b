"""Graph transformations of an exported model, all done by onnxruntime's own tools.

* :func:`optimize_graph`: operator fusion (attention, skip-layer-norm, GELU, embedding-layer-norm) by
  ``onnxruntime.transformers.optimizer``, for CPU or GPU;
* :func:`quantize_int8`: int8 weights, in one of two modes (:data:`INT8_MODES`):

  - ``weight-only``: every weight matrix becomes a ``MatMulNBits`` node (8-bit weights, symmetric scales
    per block of :data:`WEIGHT_ONLY_BLOCK` input channels; ``accuracy_level`` 4, int8 arithmetic). The
    kernel quantises each activation row per block by itself, so a text's vector does not depend on the
    other texts (or the padding) of its batch. The embedding tables are int8 too (their rows are looked
    up, not multiplied, so nothing depends on the batch either). On all-MiniLM-L6-v2 (STSb test): mean
    cosine to fp32 0.9993 (dynamic 0.9923), Spearman 82.03 (dynamic 81.83); but onnxruntime 1.32's
    8-bit kernel runs batches at about 0.4x the speed of dynamic (``benchmarks/int8_modes.py``);
  - ``dynamic`` (``quantize_dynamic``): int8 weights with per-channel scales, activations quantised on
    the fly with ONE scale per tensor over the whole batch, so a text's vector moves with its
    batch-mates (cosine 0.97-0.99 between a text encoded alone and inside a batch on all-MiniLM-L6-v2).
    With per-channel weight scales the mean cosine to the fp32 vectors was 0.994 (0.969 per tensor);

* :func:`convert_fp16`: half-precision weights and arithmetic for GPU inference, inputs and output kept
  in their original types (int64 ids in, float32 vectors out).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sentemb.errors import SentembError, unknown_name

#: how an int8 export quantises (see the module docstring); the first is the default
INT8_MODES = ("dynamic", "weight-only")
#: input channels per weight scale in ``weight-only`` mode. On all-MiniLM-L6-v2 blocks of 32 gave the same
#: vector for a text alone and inside a batch (min cosine 1.000000 over 200 STSb texts); with blocks of
#: 128 the kernel's single-row and batched paths differ (min cosine 0.998)
WEIGHT_ONLY_BLOCK = 32


def optimize_graph(src: Path, dst: Path, num_heads: int = 0, hidden_size: int = 0,
                   use_gpu: bool = False, attention: bool = True) -> dict[str, int]:
    """Fuse transformer sub-graphs; returns the fused-operator counts (empty when nothing matched).

    The encoder ("bert") patterns are used for every model: sub-graphs they do not match stay as they are.
    ``attention=False`` leaves self-attention as plain MatMul / Softmax nodes (then the embeddings' layer
    norm is not fused either), so that weight-only quantisation reaches the query / key / value matrices.
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
    options = FusionOptions("bert")
    options.enable_attention = attention
    try:
        model = optimize_model(str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                               use_gpu=use_gpu, optimization_options=options)
    except Exception as exc:  # an exotic graph the fusion code cannot walk
        raise SentembError(f"graph optimisation failed ({type(exc).__name__}: {exc}); "
                           "export without --optimize") from None
    model.save_model_to_file(str(dst))
    return {k: v for k, v in model.get_fused_operator_statistics().items() if v}


#: operators whose float weights become int8 in ``dynamic`` mode: the projections (plain or fused into
#: Attention) and the embedding tables (plain Gather, or fused into EmbedLayerNormalization by optimize_graph)
INT8_OPS = ["MatMul", "Attention", "Gather", "EmbedLayerNormalization"]
#: the embedding-table operators; int8 tables dequantise looked-up rows, whatever the batch
TABLE_OPS = ["Gather", "EmbedLayerNormalization"]


def quantize_int8(src: Path, dst: Path, per_channel: bool = True, mode: str = "dynamic") -> None:
    """int8 weight matrices and embedding tables, ``mode`` one of :data:`INT8_MODES`.

    ``per_channel`` applies to ``dynamic`` mode (``weight-only`` has its own per-block scales).
    """
    if mode not in INT8_MODES:
        raise unknown_name("int8 mode", mode, INT8_MODES)
    if mode == "weight-only":
        matrices = dst.with_name(dst.stem + ".matmul.onnx")
        try:
            weight_only_matmuls(src, matrices, WEIGHT_ONLY_BLOCK)
            quantize_dynamic_ops(matrices, dst, per_channel=True, ops=TABLE_OPS)
        finally:
            matrices.unlink(missing_ok=True)
    else:
        quantize_dynamic_ops(src, dst, per_channel=per_channel, ops=INT8_OPS)


def weight_only_matmuls(src: Path, dst: Path, block_size: int = WEIGHT_ONLY_BLOCK) -> int:
    """Replace each MatMul by a constant matrix with an 8-bit ``MatMulNBits`` node; returns how many.

    MatMuls inside fused operators (``Attention``) are not reached: export with ``attention=False`` fusion.
    """
    import onnx

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        # the module configures the root logger at import (basicConfig at INFO); undone below
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )
    except ImportError as exc:
        raise SentembError(f"weight-only int8 needs onnx-ir and a recent onnxruntime (1.32 tested): {exc}; "
                           "pip install -U 'sentemb[onnx]'") from None
    finally:
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=True, accuracy_level=4, bits=8)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), algo_config=config)
    quantizer.process()
    model = quantizer.model.model
    onnx.save(model, str(dst))
    return sum(n.op_type == "MatMulNBits" for n in model.graph.node)


def quantize_dynamic_ops(src: Path, dst: Path, per_channel: bool, ops: list[str]) -> None:
    """``quantize_dynamic`` restricted to the operator types ``ops`` (int8 weights, QInt8)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser's advice to pre-process applies to static image models
    try:
        quantize_dynamic(
            str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel, op_types_to_quantize=ops,
            # fused operators from optimize_graph live in the com.microsoft domain, where shape inference
            # cannot give every tensor a type: those are float32
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


def convert_fp16(src: Path, dst: Path) -> None:
    """Half-precision graph for GPU execution; ids stay int64 and the output stays float32."""
    import onnx
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = OnnxModel(onnx.load(str(src)))
    model.convert_float_to_float16(keep_io_types=True)
    model.save_model_to_file(str(dst))
