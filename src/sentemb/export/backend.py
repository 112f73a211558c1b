"""Run an exported ONNX folder with onnxruntime behind the ``SentenceTransformer.encode`` interface.

:class:`OnnxEncoder` is what ``sentemb.load(folder)`` returns for an exported folder, so encoding,
evaluation and serving take it like any other model. Texts are tokenised in one call, sorted by token
count and cut into batches of similar length, so little compute goes into padding; the vectors come
back in input order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sentemb.errors import SentembError
from sentemb.export.manifest import read_manifest


def _providers(device: str | None, precision: str) -> tuple[list, str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device is None:
        device = "cuda" if precision == "fp16" and "CUDAExecutionProvider" in available else "cpu"
    if device == "cpu":
        if precision == "fp16":
            raise SentembError("this ONNX graph is fp16, which runs on a GPU (CUDAExecutionProvider); "
                               f"this onnxruntime offers {', '.join(available)}. Export without --fp16 for CPU.")
        return ["CPUExecutionProvider"], "cpu"
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in available:
            raise SentembError(f"device {device!r} needs onnxruntime-gpu (CUDAExecutionProvider); "
                               f"this onnxruntime offers {', '.join(available)}")
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"], f"cuda:{index}"
    raise SentembError(f"unsupported device {device!r} for an ONNX model; use cpu or cuda[:N]")


class OnnxEncoder:
    """An exported sentence encoder: ``encode(texts) -> vectors`` like ``SentenceTransformer.encode``.

    Args:
        path: folder written by :func:`sentemb.export.export_onnx`.
        device: ``cpu`` or ``cuda[:N]``; ``None`` picks the GPU for fp16 graphs and the CPU otherwise.
        threads: onnxruntime intra-op threads; ``None`` or 0 leaves onnxruntime's default (one per core).
        normalize: override the folder's L2 normalisation (``None`` keeps it; ``False`` on a graph that
            normalises inside cannot be honoured and is refused).
        max_seq_length: token limit (at most the exported one's model limit).
        spinning: let idle onnxruntime threads spin (fastest for back-to-back calls, as in offline encoding);
            a server turns it off so that waiting threads do not take the CPU its event loop needs.
    """

    def __init__(self, path: str | os.PathLike, device: str | None = None, threads: int | None = None,
                 normalize: bool | None = None, max_seq_length: int | None = None, spinning: bool = True):
        try:
            import onnxruntime as ort
        except ImportError:
            raise SentembError("running an exported ONNX model needs onnxruntime: pip install 'sentemb[onnx]'") from None
        from transformers import AutoTokenizer

        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        m = self.manifest
        if normalize is False and m["normalize"]:
            raise SentembError(f"{path}: L2 normalisation is part of this exported graph; re-export without it")
        self.normalize = bool(normalize) or bool(m["normalize"])
        providers, self.device = _providers(device, m["precision"])
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        if not spinning:  # idle worker threads sleep instead of spinning: they leave the CPU to a server's
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # event loop
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.threads = int(threads) if threads else None
        try:
            self.session = ort.InferenceSession(str(self.path / m["file"]), options, providers=providers)
        except Exception as exc:
            raise SentembError(f"{self.path / m['file']}: onnxruntime cannot load it ({exc})") from None
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        self.input_names = list(m["inputs"])
        self._max_seq_length = int(m["max_seq_length"] or self.tokenizer.model_max_length)
        if max_seq_length is not None:
            self.max_seq_length = max_seq_length
        self.similarity_fn_name = m.get("similarity_fn_name") or "cosine"

    # --- the SentenceTransformer surface that sentemb uses -------------------------------------------
    @property
    def max_seq_length(self) -> int:
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if value is None or int(value) < 1:
            raise SentembError(f"max_seq_length must be positive, got {value}")
        self._max_seq_length = int(value)

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.manifest["dimension"])

    get_embedding_dimension = get_sentence_embedding_dimension

    @property
    def precision(self) -> str:
        return self.manifest["precision"]

    def __repr__(self) -> str:
        m = self.manifest
        return (f"OnnxEncoder({str(self.path)!r}, precision={m['precision']}, optimized={m.get('optimized')}, "
                f"pooling={m.get('pooling')}, dim={m['dimension']}, device={self.device})")

    def tokenize(self, texts: list[str]) -> dict[str, Any]:
        return self.tokenizer(texts, padding=True, truncation="longest_first", max_length=self.max_seq_length,
                              return_tensors="np")

    def encode(self, sentences: str | list[str], batch_size: int = 32, show_progress_bar: bool | None = None,
               convert_to_numpy: bool = True, convert_to_tensor: bool = False,
               normalize_embeddings: bool = False, output_value: str | None = "sentence_embedding",
               precision: str = "float32", prompt: str | None = None, prompt_name: str | None = None,
               **kwargs) -> Any:
        """Vectors of ``sentences`` (one vector for a single string), in input order."""
        if output_value not in (None, "sentence_embedding"):
            raise SentembError(f"an exported ONNX model gives sentence embeddings only, not {output_value!r}")
        if precision != "float32":
            raise SentembError(f"an exported ONNX model returns float32 vectors, not {precision!r}")
        if prompt or prompt_name:
            raise SentembError("prompts are not supported by exported ONNX models; add the prompt to the texts")
        if batch_size < 1:
            raise SentembError(f"batch size must be positive, got {batch_size}")
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        vectors = self._encode(texts, batch_size, bool(show_progress_bar))
        if normalize_embeddings or self.normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        out = vectors[0] if single else vectors
        if convert_to_tensor:
            import torch

            return torch.from_numpy(out)
        return out

    def similarity(self, a, b):
        """Cosine similarity matrix of two sets of vectors (as ``SentenceTransformer.similarity``)."""
        import torch

        a, b = (torch.as_tensor(np.asarray(x, dtype=np.float32)) for x in (a, b))
        a, b = (x.unsqueeze(0) if x.ndim == 1 else x for x in (a, b))
        return torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T

    # --- internals ---------------------------------------------------------------------------------
    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        dim = self.get_sentence_embedding_dimension()
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        enc = self.tokenizer(texts, padding=False, truncation="longest_first", max_length=self.max_seq_length,
                             return_attention_mask=False, return_token_type_ids="token_type_ids" in self.input_names)
        ids = enc["input_ids"]
        types = enc.get("token_type_ids")
        order = np.argsort([-len(x) for x in ids], kind="stable")  # longest first: a memory error shows early
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        left = self.tokenizer.padding_side == "left"
        out = np.empty((len(texts), dim), dtype=np.float32)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc="Batches", unit="text")
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(ids[i]) for i in idx)
            input_ids = np.full((len(idx), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            type_ids = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(ids[i])
                cols = slice(width - n, width) if left else slice(0, n)
                input_ids[row, cols] = ids[i]
                mask[row, cols] = 1
                if types is not None:
                    type_ids[row, cols] = types[i]
            feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": type_ids}
            result = self.session.run([self.manifest["output"]], {n: feeds[n] for n in self.input_names})[0]
            out[idx] = result.astype(np.float32, copy=False)
            if bar is not None:
                bar.update(len(idx))
        if bar is not None:
            bar.close()
        return out


def load_onnx(path: str | os.PathLike, device: str | None = None, normalize: bool | None = None,
              max_seq_length: int | None = None, threads: int | None = None, pooling: str | None = None,
              spinning: bool = True) -> OnnxEncoder:
    """Open an exported folder; ``threads`` defaults to ``$SENTEMB_ONNX_THREADS`` when set.

    ``pooling`` is accepted for the signature of :func:`sentemb.load` only: the pooling is part of the graph.
    """
    if pooling is not None:
        raise SentembError(f"{path}: the pooling of an exported ONNX model is fixed in its graph "
                           f"({read_manifest(path).get('pooling')}); export the original model with --pooling")
    if threads is None and os.environ.get("SENTEMB_ONNX_THREADS", "").strip():
        threads = int(os.environ["SENTEMB_ONNX_THREADS"])
    return OnnxEncoder(path, device=device, threads=threads, normalize=normalize, max_seq_length=max_seq_length,
                       spinning=spinning)
