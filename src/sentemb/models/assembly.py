"""How a model was assembled: which modules form its pooling, and which heads follow it.

A sentence-transformers folder lists its modules but not what they are for: ``Pooling("cls")`` followed by
a ``Dense`` may be BERT's pooler (sentemb's ``pooler`` pooling), a whitening map fitted on CLS vectors or a
trained projection. sentemb tags the modules it builds with a role (attribute ``sentemb_role``), writes
the roles to ``sentemb.json`` beside ``modules.json`` when it saves a model, and tags the modules again
when it loads one. Names in reports, pooling overrides and the embedding cache's key come from these
roles; a folder without ``sentemb.json`` (any other sentence-transformers model) gets roles inferred
from its modules, where a ``Dense`` counts as ``pooler`` only when it is BERT's own pooler layer.

Roles: ``transformer``, ``pooling`` (every module of the pooling strategy, the pooler ``Dense`` and the
first-last-avg layer weights included), ``whitening``, ``projection``, ``dense`` (a ``Dense`` of unknown
purpose), ``normalize``, ``other``.
"""

from __future__ import annotations

import json
from pathlib import Path

ASSEMBLY_FILE = "sentemb.json"
ROLE_ATTR = "sentemb_role"
#: roles of modules after the pooling that a pooling override would leave fitted to the old vectors
HEAD_ROLES = ("whitening", "projection", "dense", "other")
_STOCK_NAMES = {"cls": "cls", "mean": "mean", "max": "max", "weightedmean": "weighted-mean",
                "lasttoken": "last-token"}


def tag(module, role: str):
    """Mark ``module`` with its role; returns the module."""
    setattr(module, ROLE_ATTR, role)
    return module


def _pooling_mode(module) -> str:
    mode = module.pooling_mode
    return mode if isinstance(mode, str) else "+".join(mode)


def _is_pooler_copy(dense, transformer) -> bool:
    """Whether ``dense`` is a tanh copy of the transformer's own pooler layer (BERT's pooler output)."""
    import torch

    pooler = getattr(getattr(transformer, "auto_model", None), "pooler", None)
    linear = getattr(pooler, "dense", None)
    inner = getattr(dense, "linear", None)
    if not isinstance(linear, torch.nn.Linear) or not isinstance(inner, torch.nn.Linear):
        return False
    if not isinstance(getattr(dense, "activation_function", None), torch.nn.Tanh):
        return False
    if inner.weight.shape != linear.weight.shape or (inner.bias is None) != (linear.bias is None):
        return False
    with torch.no_grad():
        same = torch.equal(inner.weight.cpu(), linear.weight.cpu())
        return same and (inner.bias is None or torch.equal(inner.bias.cpu(), linear.bias.cpu()))


def _inferred_role(modules: list, i: int, whitened_folder: bool) -> str:
    from sentence_transformers.sentence_transformer.modules import (
        Dense,
        Normalize,
        Pooling,
        Transformer,
        WeightedLayerPooling,
    )

    m = modules[i]
    if isinstance(m, Transformer):
        return "transformer"
    if isinstance(m, (Pooling, WeightedLayerPooling)):
        return "pooling"
    if isinstance(m, Normalize):
        return "normalize"
    if isinstance(m, Dense):
        prev = modules[i - 1] if i else None
        if (isinstance(prev, Pooling) and _pooling_mode(prev) == "cls" and modules
                and _is_pooler_copy(m, modules[0])):
            return "pooling"
        later_dense = any(isinstance(x, Dense) for x in modules[i + 1:])
        return "whitening" if whitened_folder and not later_dense else "dense"
    return "other"


def roles(model) -> list[str]:
    """The role of each module of ``model``: its tag, else inferred."""
    modules = list(model)
    return [getattr(m, ROLE_ATTR, None) or _inferred_role(modules, i, False) for i, m in enumerate(modules)]


def pooling_span(model) -> tuple[int, int] | None:
    """(start, end) of the modules that make up the pooling, or None when there is no pooling."""
    found = [i for i, r in enumerate(roles(model)) if r == "pooling"]
    return (found[0], found[-1] + 1) if found else None


def pooling_name(model) -> str:
    """The sentemb name of the model's pooling (``pooler`` only for BERT's pooler, never for a head)."""
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling, WeightedLayerPooling

    span = pooling_span(model)
    if span is None:
        return "unknown"
    parts = list(model)[span[0]:span[1]]
    if any(isinstance(m, WeightedLayerPooling) for m in parts):
        return "first-last-avg"
    pool = next((m for m in parts if isinstance(m, Pooling)), None)
    if pool is None:
        return "unknown"
    mode = _pooling_mode(pool)
    if mode == "cls" and any(isinstance(m, Dense) for m in parts):
        return "pooler"
    return _STOCK_NAMES.get(mode, mode)


def describe(model) -> dict:
    """What ``sentemb.json`` records: the pooling, each module's type and role, and the heads."""
    modules, rs = list(model), roles(model)
    heads = {r: [type(m).__name__ for m, rr in zip(modules, rs) if rr == r] for r in HEAD_ROLES}
    return {
        "format": 1,
        "pooling": pooling_name(model),
        "whitening": bool(heads["whitening"]),
        "projection": bool(heads["projection"]),
        "normalize": "normalize" in rs,
        "modules": [{"type": type(m).__name__, "role": r} for m, r in zip(modules, rs)],
    }


def write_assembly(model, folder: str | Path) -> Path:
    """Write ``sentemb.json`` for ``model`` into the (being saved) folder."""
    path = Path(folder) / ASSEMBLY_FILE
    path.write_text(json.dumps(describe(model), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_assembly(folder: str | Path) -> dict | None:
    """The folder's ``sentemb.json``, or None when absent or unreadable."""
    path = Path(folder) / ASSEMBLY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("modules"), list) else None


def apply_assembly(model, folder: str | Path | None) -> None:
    """Tag a loaded model's modules from the folder's ``sentemb.json`` (if it matches them), else by inference."""
    modules = list(model)
    recorded = read_assembly(folder) if folder is not None else None
    if recorded is not None and [e.get("type") for e in recorded["modules"]] == [type(m).__name__ for m in modules]:
        for m, entry in zip(modules, recorded["modules"]):
            tag(m, str(entry.get("role") or "other"))
        return
    whitened = folder is not None and (Path(folder) / "whitening.json").is_file()
    for i, m in enumerate(modules):
        tag(m, _inferred_role(modules, i, whitened))


def freeze_fixed_pooling(model) -> None:
    """First-last-avg's layer weights are a fixed choice of layers, not a learned mix: no gradient."""
    from sentence_transformers.sentence_transformer.modules import WeightedLayerPooling

    for m in model:
        if isinstance(m, WeightedLayerPooling):
            m.layer_weights.requires_grad_(False)


def folder_pooling(folder: str | Path) -> str | None:
    """The pooling name a model folder loads with, read from its files without loading weights.

    ``sentemb.json`` when present; a plain Hugging Face folder gets sentemb's default (``mean``); a
    sentence-transformers folder's single stock ``Pooling`` followed by no ``Dense`` is named by its
    mode. None when it cannot be told without loading the weights.
    """
    folder = Path(folder)
    recorded = read_assembly(folder)
    if recorded is not None and isinstance(recorded.get("pooling"), str):
        return recorded["pooling"]
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return "mean" if (folder / "config.json").is_file() else None
    try:
        entries = json.loads(modules_file.read_text(encoding="utf-8"))
        types = [str(e.get("type", "")).rsplit(".", 1)[-1] for e in entries]
        if types.count("Pooling") != 1 or "WeightedLayerPooling" in types or "Dense" in types:
            return None
        entry = entries[types.index("Pooling")]
        cfg = json.loads((folder / entry.get("path", "") / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    mode = cfg.get("pooling_mode")
    if mode is None:  # older configs: pooling_mode_<name>_tokens flags
        on = [k for k, v in cfg.items() if k.startswith("pooling_mode_") and v is True]
        legacy = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
                  "pooling_mode_max_tokens": "max", "pooling_mode_weightedmean_tokens": "weightedmean",
                  "pooling_mode_lasttoken": "lasttoken"}
        mode = legacy.get(on[0]) if len(on) == 1 else None
    return _STOCK_NAMES.get(mode) if isinstance(mode, str) else None


def folder_normalizes(folder: str | Path) -> bool:
    """Whether a model folder ends with ``Normalize`` (False for a plain Hugging Face folder)."""
    try:
        entries = json.loads((Path(folder) / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(entries) and str(entries[-1].get("type", "")).endswith("Normalize")
