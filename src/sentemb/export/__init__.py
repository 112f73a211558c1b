"""Lightweight deployment: ONNX export with pooling inside the graph, int8 / fp16, an onnxruntime encoder.

>>> from sentemb.export import export_onnx
>>> export_onnx("minilm-offline", "out/minilm-int8", quantize="int8", optimize=True)  # doctest: +SKIP
>>> sentemb.load("out/minilm-int8").encode(["a sentence"])  # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from sentemb.lazy import lazy_exports

__all__ = ["export_onnx", "ExportResult", "OnnxEncoder", "load_onnx", "is_onnx_folder", "read_manifest",
           "MANIFEST", "FORMATS", "QUANTIZATIONS"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "OnnxEncoder": "sentemb.export.backend",
    "load_onnx": "sentemb.export.backend",
    "MANIFEST": "sentemb.export.manifest",
    "is_onnx_folder": "sentemb.export.manifest",
    "read_manifest": "sentemb.export.manifest",
    "FORMATS": "sentemb.export.onnx",
    "QUANTIZATIONS": "sentemb.export.onnx",
    "ExportResult": "sentemb.export.onnx",
    "export_onnx": "sentemb.export.onnx",
})

if TYPE_CHECKING:
    from sentemb.export.backend import OnnxEncoder, load_onnx
    from sentemb.export.manifest import MANIFEST, is_onnx_folder, read_manifest
    from sentemb.export.onnx import FORMATS, QUANTIZATIONS, ExportResult, export_onnx
