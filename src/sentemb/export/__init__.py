"""Lightweight deployment: ONNX export with pooling inside the graph, int8 / fp16, an onnxruntime encoder.

>>> from sentemb.export import export_onnx
>>> export_onnx("minilm-offline", "out/minilm-int8", quantize="int8", optimize=True)  # doctest: +SKIP
>>> sentemb.load("out/minilm-int8").encode(["a sentence"])  # doctest: +SKIP
"""

from sentemb.export.backend import OnnxEncoder, load_onnx
from sentemb.export.manifest import MANIFEST, is_onnx_folder, read_manifest
from sentemb.export.onnx import FORMATS, QUANTIZATIONS, ExportResult, export_onnx

__all__ = ["export_onnx", "ExportResult", "OnnxEncoder", "load_onnx", "is_onnx_folder", "read_manifest",
           "MANIFEST", "FORMATS", "QUANTIZATIONS"]
