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
  - ``per-token``: int8 weights with per-output-channel scales, and each activation row (one token's
    vector) quantised with its own scale, computed in the graph (:func:`per_token_matmuls`); the
    products are onnxruntime's integer GEMM (``MatMulIntegerToFloat``), the row scales applied after.
    A text's vector does not depend on its batch, it is closer to fp32 than ``dynamic`` (all-MiniLM-L6-v2,
    STSb test: mean cosine to fp32 0.9964 against 0.9923, Spearman 81.71 against 81.75) and it runs at
    about 0.9x the speed of ``dynamic`` (2.4x ``weight-only``), so it is the int8 to serve;
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
INT8_MODES = ("dynamic", "per-token", "weight-only")
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

    ``per_channel`` applies to ``dynamic`` mode (``per-token`` always scales per output channel,
    ``weight-only`` per block).
    """
    if mode not in INT8_MODES:
        raise unknown_name("int8 mode", mode, INT8_MODES)
    if mode in ("weight-only", "per-token"):
        matrices = dst.with_name(dst.stem + ".matmul.onnx")
        try:
            if mode == "weight-only":
                weight_only_matmuls(src, matrices, WEIGHT_ONLY_BLOCK)
            else:
                per_token_matmuls(src, matrices)
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


def per_token_matmuls(src: Path, dst: Path) -> int:
    """Rewrite each MatMul by a constant float matrix as per-token int8 arithmetic; returns how many.

    For ``Y = A @ W`` (``A``: [..., K], ``W``: [K, N]): ``W`` becomes int8 with one symmetric scale per
    output column; in the graph, ``A`` is flattened to rows, each row gets the scale max|row| / 127 and is
    quantised to uint8 around 128 (``QuantizeLinear`` per axis 0), multiplied by ``MatMulIntegerToFloat``
    (scaled by the column scales) and by its own row scale, and reshaped back. Rows never share a scale,
    so a text's vector does not depend on the rest of its batch. MatMuls that read the same input (query,
    key and value) share one quantisation of it. MatMuls inside fused operators (``Attention``) are not
    reached: optimise with ``attention=False``.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 13:
        raise SentembError(f"per-token int8 needs ONNX opset 13 or later (per-axis QuantizeLinear); this graph "
                           f"has opset {opset}: export with a later --opset")
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    added: list = []

    def const(name: str, value) -> str:
        added.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    one, inv127 = const("pt/one", np.float32(1.0)), const("pt/inv127", np.float32(1 / 127))
    tiny, zero_point = const("pt/tiny", np.float32(1e-12)), const("pt/zp", np.uint8(128))
    cols, first, last = (const("pt/axis1", np.array([1], np.int64)), const("pt/start", np.array([0], np.int64)),
                         const("pt/end", np.array([-1], np.int64)))
    rows_of: dict[str, str] = {}  # input name -> prefix of its quantised rows
    int8_of: dict[str, tuple[str, str, int]] = {}  # weight name -> (int8 weight, column scales, N)
    nodes: list = []
    count = 0
    for node in graph.node:
        w = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is None or len(w.dims) != 2 or w.data_type != TensorProto.FLOAT:
            nodes.append(node)
            continue
        k, n = (int(d) for d in w.dims)
        if w.name not in int8_of:
            matrix = numpy_helper.to_array(w).astype(np.float32)
            scale = np.maximum(np.abs(matrix).max(axis=0), 1e-12) / 127.0
            q = np.clip(np.rint(matrix / scale), -127, 127).astype(np.int8)
            tag = f"pt/w{len(int8_of)}"
            int8_of[w.name] = (const(tag, q), const(tag + "/scale", scale.astype(np.float32)), n)
        a = node.input[0]
        if a not in rows_of:
            r = rows_of[a] = f"pt/a{len(rows_of)}"
            nodes += [
                helper.make_node("Reshape", [a, const(r + "/2d", np.array([-1, k], np.int64))], [r + "/rows"]),
                helper.make_node("Abs", [r + "/rows"], [r + "/abs"]),
                helper.make_node("ReduceMax", [r + "/abs"], [r + "/max"], axes=[1], keepdims=0),
                helper.make_node("Mul", [r + "/max", inv127], [r + "/s0"]),
                helper.make_node("Max", [r + "/s0", tiny], [r + "/scale"]),  # an all-zero row
                helper.make_node("Shape", [r + "/scale"], [r + "/n"]),
                helper.make_node("Expand", [zero_point, r + "/n"], [r + "/zp"]),
                helper.make_node("QuantizeLinear", [r + "/rows", r + "/scale", r + "/zp"], [r + "/q"], axis=0),
                helper.make_node("Unsqueeze", [r + "/scale", cols], [r + "/col"]),
                helper.make_node("Shape", [a], [r + "/shape"]),
                helper.make_node("Slice", [r + "/shape", first, last], [r + "/lead"]),
            ]
        r = rows_of[a]
        q, scale, n = int8_of[w.name]
        y = f"pt/y{count}"
        count += 1
        nodes += [
            helper.make_node("MatMulIntegerToFloat", [r + "/q", q, one, scale, zero_point], [y + "/int"],
                             domain="com.microsoft"),
            helper.make_node("Mul", [y + "/int", r + "/col"], [y + "/rows"]),
            helper.make_node("Concat", [r + "/lead", const(y + "/n", np.array([n], np.int64))], [y + "/shape"],
                             axis=0),
            helper.make_node("Reshape", [y + "/rows", y + "/shape"], [node.output[0]]),
        ]
    used = {name for nd in nodes for name in nd.input}
    kept = [t for t in graph.initializer if t.name in used] + [t for t in added if t.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(dst))
    return count


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
