"""The model behind the server: any encoder ``sentemb.load`` opens (torch or an ONNX export), with its
token counter, so the batcher can budget tokens and the API can report real usage."""

from __future__ import annotations

import copy
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentemb.errors import SentembError

BACKENDS = ("auto", "torch", "onnx")


@dataclass
class ModelInfo:
    """What ``/v1/models`` reports about the served model."""

    name: str
    backend: str
    dimension: int
    max_seq_length: int | None


class EncoderBackend:
    """Wraps a loaded encoder: ``token_lengths(texts)`` and ``encode(texts) -> float32 rows``.

    Args:
        model: an object with the ``SentenceTransformer.encode`` interface (``sentemb.load`` returns one).
        name: the model name clients send in ``model`` and see in responses.
        backend: ``torch`` or ``onnx`` (for reports).
        fault_text: testing aid: a batch holding exactly this input raises, as a failing model would.
        calibration: the model's :class:`sentemb.search.calibration.Calibration` (cosine -> match probability).
    """

    def __init__(self, model, name: str, backend: str, fault_text: str | None = None, calibration=None):
        self.model = model
        self.fault_text = fault_text
        self.calibration = calibration
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:  # some models only know their dimension after a forward pass
            dim = int(np.asarray(model.encode(["dimension probe"], convert_to_numpy=True)).shape[1])
        self.info = ModelInfo(name=name, backend=backend, dimension=int(dim),
                              max_seq_length=getattr(model, "max_seq_length", None))
        # Token counting runs beside the model thread. A fast tokenizer keeps its truncation/padding settings
        # in shared state that each call rewrites, so counting with the model's own tokenizer (truncation
        # off) could switch truncation off under a concurrent forward pass: each counting thread gets its
        # own copy (no lock, so a long count in a worker thread never blocks the event loop).
        tok = getattr(model, "tokenizer", None)
        self._hf_tokenizer = callable(tok) and hasattr(tok, "model_max_length")
        self._template = copy.deepcopy(tok) if self._hf_tokenizer else tok
        self._local = threading.local()

    def _counter(self):
        if not self._hf_tokenizer:
            return self._template
        tok = getattr(self._local, "tokenizer", None)
        if tok is None:
            tok = copy.deepcopy(self._template)
            rust = getattr(tok, "backend_tokenizer", None)  # a fast tokenizer's own Rust tokenizer: counting
            if rust is not None:  # through it skips transformers' per-call work (a third of the time)
                rust.no_truncation()
                rust.no_padding()
                tok = rust
            self._local.tokenizer = tok
        return tok

    def token_lengths(self, texts: list[str]) -> tuple[list[int], int]:
        """Token count of each text as the model sees it (after truncation), and how many were cut."""
        limit = self.info.max_seq_length
        tok = self._counter()
        if self._hf_tokenizer and hasattr(tok, "encode_batch"):  # this thread's copy of the Rust tokenizer
            lengths = [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=True)]
        elif self._hf_tokenizer:  # a slow (Python) Hugging Face tokenizer
            lengths = tok(texts, add_special_tokens=True, truncation=False, return_length=True,
                          verbose=False)["length"]
        elif tok is not None and hasattr(tok, "tokenize"):  # word-vector tokenizers (jieba, whitespace)
            lengths = [len(tok.tokenize(t)) for t in texts]
        else:
            lengths = [len(t.split()) for t in texts]
        if not limit:
            return [max(1, int(n)) for n in lengths], 0
        cut = sum(int(n) > limit for n in lengths)
        return [max(1, min(int(n), limit)) for n in lengths], cut

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` in order, as one batch (float32, shape ``(len(texts), dimension)``)."""
        if self.fault_text is not None and self.fault_text in texts:
            raise RuntimeError("fault injected by --fault-text")
        vectors = self.model.encode(texts, batch_size=max(1, len(texts)), convert_to_numpy=True,
                                    show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def load_backend(model: str, backend: str = "auto", name: str | None = None, pooling: str | None = None,
                 device: str | None = None, max_seq_length: int | None = None, threads: int | None = None,
                 trust_remote_code: bool = False, fault_text: str | None = None) -> EncoderBackend:
    """Open ``model`` for serving; a model that cannot be loaded raises :class:`SentembError`."""
    if backend not in BACKENDS:
        raise SentembError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    from sentemb.export.manifest import is_onnx_folder
    from sentemb.models.loading import resolve_model_path

    path = resolve_model_path(model)
    is_onnx = is_onnx_folder(path)
    if backend == "onnx" and not is_onnx:
        raise SentembError(f"{model} is not an ONNX export; make one with `sentemb export {model} -o DIR` "
                           "and serve DIR, or use --backend torch")
    if backend == "torch" and is_onnx:
        raise SentembError(f"{model} is an ONNX export; serve it with --backend onnx (or auto)")
    if threads is not None and threads < 1:
        raise SentembError(f"--threads must be positive, got {threads}")
    if is_onnx:
        from sentemb.export.backend import load_onnx

        encoder = load_onnx(path, device=device, max_seq_length=max_seq_length, threads=threads, pooling=pooling,
                            spinning=False)  # between model calls the event loop needs the CPU
    else:
        import torch

        from sentemb.models import load

        if threads:
            torch.set_num_threads(threads)
        try:
            encoder = load(path, pooling=pooling, max_seq_length=max_seq_length, device=device,
                           trust_remote_code=trust_remote_code)
        except SentembError:
            raise
        except Exception as exc:  # a folder with broken weights or config: one clear line
            raise SentembError(f"could not load model {model!r}: {type(exc).__name__}: {exc}") from None
        encoder.eval()
    label = name or (Path(path).name if os.path.isdir(path) and path == str(model) else str(model))
    return EncoderBackend(encoder, label, "onnx" if is_onnx else "torch", fault_text=fault_text,
                          calibration=model_calibration(encoder, path, pooling))


def model_calibration(encoder, path: str, pooling: str | None):
    """The calibration the model folder carries (``sentemb calibrate``), or None. It holds for the model's
    own pooling only, so a ``--pooling`` override serves uncalibrated scores."""
    from sentemb.search.calibration import load_calibration

    if pooling is not None:
        return None
    return load_calibration(encoder) or (load_calibration(path) if os.path.isdir(path) else None)
