"""Load any encoder as a ``SentenceTransformer`` with a chosen pooling, and save it back.

Accepted: a sentence-transformers folder or hub id (its own pooling kept unless overridden), a plain
Hugging Face transformer folder or hub id (pooling added, ``mean`` by default), a saved sentemb
model (which is a sentence-transformers folder), or a built-in alias such as ``minilm-offline``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, Transformer
from sentence_transformers.util.file_io import is_sentence_transformer_model

from sentemb.atomic import atomic_path
from sentemb.errors import SentembError
from sentemb.models.assembly import apply_assembly, freeze_fixed_pooling, pooling_span, tag, write_assembly
from sentemb.models.assembly import pooling_name as assembly_pooling_name
from sentemb.models.load_errors import check_folder_files, check_model_name, explained, position_limit
from sentemb.models.names import ALIASES, resolve_model_path  # noqa: F401  (light; re-exported here)
from sentemb.models.pooling import POOLINGS, pooling_modules

DEFAULT_POOLING = "mean"


def _is_st_model(path: str, trust_remote_code: bool) -> bool:
    if Path(path).is_dir():
        if not (Path(path) / "modules.json").exists() and not (Path(path) / "config.json").exists():
            raise SentembError(f"{path} is neither a sentence-transformers nor a Hugging Face model folder")
        return (Path(path) / "modules.json").exists()
    if Path(path).exists():
        raise SentembError(f"{path} is a file, not a model folder")
    if path.startswith(("/", ".", "~")) or path.count("/") > 1 or "\\" in path:
        raise SentembError(f"model folder not found: {path}")
    try:
        return is_sentence_transformer_model(path)
    except Exception as exc:
        raise SentembError(
            f"could not load model {path!r}: not a local folder and the Hugging Face Hub lookup failed ({exc})"
        ) from exc


def load(
    name_or_path: str | os.PathLike,
    pooling: str | None = None,
    normalize: bool | None = None,
    max_seq_length: int | None = None,
    device: str | None = None,
    trust_remote_code: bool = False,
) -> SentenceTransformer:
    """Load an encoder as a ``SentenceTransformer``.

    Args:
        name_or_path: local folder, hub id or alias.
        pooling: one of :data:`POOLINGS`; ``None`` keeps a sentence-transformers model's own pooling
            (``mean`` for a plain transformer).
        normalize: ``True`` appends L2 normalisation, ``False`` removes it, ``None`` keeps the model's.
        max_seq_length: token limit; longer texts are truncated.
        device: ``cpu``, ``cuda``, ``cuda:1``, ``mps``...; ``None`` picks the best available.
        trust_remote_code: run code shipped with a hub model (off unless asked for).
    """
    if pooling is not None and pooling not in POOLINGS:
        raise SentembError(f"unknown pooling {pooling!r}; valid poolings: {', '.join(POOLINGS)}")
    path = resolve_model_path(name_or_path)
    check_model_name(str(name_or_path), path, ALIASES)
    if Path(path).is_dir():
        check_folder_files(path)
    if (Path(path) / "sentemb_onnx.json").is_file():  # a `sentemb export` folder: runs on onnxruntime
        from sentemb.export.backend import load_onnx

        return load_onnx(path, pooling=pooling, normalize=normalize, max_seq_length=max_seq_length, device=device)
    with explained(str(name_or_path), path):
        model = _assemble(path, pooling, device, trust_remote_code, str(name_or_path))
    if pooling is None and Path(path).is_dir():  # a calibration holds for the model's own pooling only
        from sentemb.search.calibration_file import attach_calibration

        attach_calibration(model, path)
    if normalize is True and not any(isinstance(m, Normalize) for m in model):
        model = SentenceTransformer(modules=[*model, tag(Normalize(), "normalize")], device=device)
    elif normalize is False and any(isinstance(m, Normalize) for m in model):
        model = SentenceTransformer(modules=[m for m in model if not isinstance(m, Normalize)], device=device)
    if max_seq_length is not None:
        if max_seq_length < 1:
            raise SentembError(f"max_seq_length must be positive, got {max_seq_length}")
        limit = position_limit(model[0]) if len(model) else None
        if limit is not None and max_seq_length > limit:
            raise SentembError(f"max_seq_length {max_seq_length} is above the {limit} tokens that {name_or_path}'s "
                               f"position embeddings cover; use {limit} or less")
        model.max_seq_length = max_seq_length
    return model


def _assemble(path: str, pooling: str | None, device: str | None, trust_remote_code: bool, name: str):
    """The model from a sentence-transformers or Hugging Face folder / hub id, with the pooling asked for."""
    if _is_st_model(path, trust_remote_code):
        from sentemb.models.trusted import trusted_module_classes  # sentemb's own classes, no trust flag

        model = SentenceTransformer._load_with_module_classes(path, trusted_module_classes(), device=device,
                                                              trust_remote_code=trust_remote_code)
        apply_assembly(model, path if Path(path).is_dir() else _hub_snapshot(path))
        freeze_fixed_pooling(model)
        if pooling is not None:
            model = _replace_pooling(model, pooling, device, name)
        return model
    kwargs = {"model_kwargs": {"trust_remote_code": True}} if trust_remote_code else {}
    transformer = tag(Transformer(path, **kwargs), "transformer")
    modules = [transformer, *pooling_modules(pooling or DEFAULT_POOLING, transformer)]
    return SentenceTransformer(modules=modules, device=device)


def _hub_snapshot(name: str) -> str | None:
    """The local snapshot folder of a hub model (where ``sentemb.json`` would be), or None."""
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(name, "modules.json")
    except Exception:  # a malformed id or an unreadable cache
        return None
    return str(Path(hit).parent) if isinstance(hit, str) else None


def _replace_pooling(model, pooling: str, device: str | None, name: str):
    """The model with another pooling; refused when a head after the pooling was fitted on the old one."""
    from sentence_transformers import SentenceTransformer

    from sentemb.models.assembly import roles

    modules = list(model)
    transformer = modules[0]
    if not isinstance(transformer, Transformer):
        raise SentembError(f"cannot change pooling: the model's first module is {type(transformer).__name__}")
    span = pooling_span(model)
    if span is None:
        raise SentembError("cannot change pooling: the model has no pooling module")
    current = pooling_name(model)
    if pooling == current:
        return model  # already assembled this way: keep the saved modules as they are
    start, end = span
    heads = [(r, type(m).__name__) for m, r in zip(modules[end:], roles(model)[end:]) if r != "normalize"]
    if heads:
        role, kind = heads[0]
        what = {"whitening": "whitening", "projection": "projection"}.get(role, f"{kind} layer")
        raise SentembError(
            f"cannot load {name} with pooling {pooling!r}: its {what} after the {current!r} pooling was fitted "
            f"on {current} vectors and would be left stale; load it without a pooling override, or choose the "
            "pooling on the model it was built from")
    new = modules[:start] + pooling_modules(pooling, transformer) + modules[end:]
    return SentenceTransformer(modules=new, device=device)


def save(model, path: str | os.PathLike) -> Path:
    """Save in the standard sentence-transformers layout (safetensors) with ``sentemb.json``, atomically."""
    with atomic_path(path) as tmp:
        model.save(str(tmp), safe_serialization=True)
        write_assembly(model, tmp)
        from sentemb.search.calibration_file import write_attached

        write_attached(model, tmp)
    return Path(path)


def pooling_name(model) -> str:
    """The sentemb name of the model's pooling, for reports and model cards (see ``models.assembly``)."""
    return assembly_pooling_name(model)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
