"""Load the model of a request and describe it for the manifest (the same on the driver and on workers)."""

from __future__ import annotations

import os

from sentemb.scale.resume import EncodeRequest


def model_key(req: EncodeRequest) -> str | None:
    """A fingerprint of the model's files (None for a hub id not downloaded); the requested pooling,
    normalisation and token limit are compared on their own, so a refusal can name them."""
    from sentemb.evaluation.cache import model_identity

    ident = model_identity(req.model)
    return ident[0] if ident else None


def load_model(req: EncodeRequest, device: str | None = None):
    """The encoder of ``req`` (a sentence-transformers model, or an ONNX export on onnxruntime)."""
    from sentemb.models import load

    return load(req.model, pooling=req.pooling, normalize=req.normalize, max_seq_length=req.max_seq_length,
                device=device)


def describe(model, req: EncodeRequest) -> dict:
    """Pooling, normalisation, token limit and weight precision of a loaded model."""
    manifest = getattr(model, "manifest", None)
    if manifest is not None:  # an ONNX export
        pooling, precision = manifest.get("pooling"), manifest["precision"]
        builtin_norm = bool(getattr(model, "normalize", manifest["normalize"]))
    else:
        from sentence_transformers.sentence_transformer.modules import Normalize

        from sentemb.models.loading import pooling_name

        pooling = pooling_name(model)
        builtin_norm = any(isinstance(m, Normalize) for m in model)
        params = next(iter(model.parameters()), None)
        precision = str(params.dtype).removeprefix("torch.") if params is not None else None
    return {"pooling": pooling, "normalize": bool(req.normalize) or builtin_norm,
            "max_seq_length": model.max_seq_length, "model_precision": precision,
            "backend": "onnx" if manifest is not None else "torch"}


def limit_threads(threads: int | None) -> None:
    """Cap this process's torch / OpenMP and onnxruntime threads (one encoder per core on a shared machine)."""
    from sentemb.runtime import limit_threads as limit_cpu_threads

    if not threads:
        return
    os.environ["SENTEMB_ONNX_THREADS"] = str(threads)
    limit_cpu_threads(threads)
    import torch

    torch.set_num_threads(threads)
