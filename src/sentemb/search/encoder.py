"""The model side of an index: which model it is, what it does to vectors, and encoding with a query prompt."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sentemb.errors import SentembError


def model_identity(name: str) -> str:
    """A comparable name for a model: the resolved absolute folder for local models, else the hub id."""
    from sentemb.models.loading import resolve_model_path

    path = resolve_model_path(name)
    p = Path(path).expanduser()
    return str(p.resolve()) if p.exists() else str(name)


def embedding_dim(model) -> int:
    """The vector size of a loaded encoder (sentence-transformers or exported ONNX)."""
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def describe_model(model) -> dict:
    """Pooling, normalisation and dimension of a loaded encoder, for the index manifest."""
    dim = embedding_dim(model)
    manifest = getattr(model, "manifest", None)
    if isinstance(manifest, dict):  # an exported ONNX folder
        return {"pooling": manifest.get("pooling"), "model_normalizes": bool(manifest.get("normalize")),
                "dimension": int(dim), "runtime": f"onnx-{manifest.get('precision')}"}
    from sentence_transformers.sentence_transformer.modules import Normalize

    from sentemb.models.loading import pooling_name

    return {"pooling": pooling_name(model), "model_normalizes": any(isinstance(m, Normalize) for m in model),
            "dimension": int(dim), "runtime": "torch"}


def resolve_query_prompt(model, prompt: str | None, prompt_name: str | None) -> str | None:
    """The query prompt text: given, or looked up in the model's own ``prompts`` by name."""
    if prompt is not None and prompt_name is not None:
        raise SentembError("give --query-prompt or --query-prompt-name, not both")
    if prompt_name is None:
        return prompt or None
    prompts = getattr(model, "prompts", None) or {}
    if prompt_name not in prompts:
        have = ", ".join(sorted(prompts)) or "none"
        raise SentembError(f"the model has no prompt named {prompt_name!r} (its prompts: {have})")
    return prompts[prompt_name] or None


def count_truncated(model, texts: list[str]) -> int:
    """Texts over the model's token limit (they are truncated, not dropped)."""
    from sentemb.encode import count_truncated as count

    try:
        return count(model, texts)
    except Exception:  # a tokenizer without lengths: nothing to count
        return 0


def encode_normalized(model, texts: list[str], prompt: str | None = None, batch_size: int = 32,
                      show_progress: bool = False, progress=None) -> np.ndarray:
    """L2-normalised float32 vectors of ``texts`` (``prompt`` prepended to each, as sentence-transformers does).

    ``progress``: a rich progress (:func:`sentemb.progress.make_progress`) advanced as batches finish."""
    from sentemb.encode import encode_texts

    if prompt:
        texts = [prompt + t for t in texts]
    if not texts:
        return np.zeros((0, embedding_dim(model)), dtype=np.float32)
    vecs = encode_texts(model, texts, batch_size=batch_size, show_progress=show_progress, progress=progress)
    return normalize_rows(vecs)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if not np.isfinite(vectors).all():
        raise SentembError("the vectors contain NaN or infinite values")
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
