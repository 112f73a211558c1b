"""Checks before loading a model, and load failures explained in one line.

Each problem a user can fix becomes a ``SentembError`` naming the model and what to do: a name that is
close to an alias (``minilm-ofline``: did you mean ``minilm-offline``?), a Hub id that is not in the local
cache while offline, a model folder whose JSON files do not parse, a token limit above what the model's
position embeddings allow, and the errors Hugging Face raises while loading (network, missing repository).
"""

from __future__ import annotations

import difflib
import json
import os
from contextlib import contextmanager
from pathlib import Path

from sentemb.errors import SentembError

#: the JSON files a model folder is read from, checked before loading it
CONFIG_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")


def hub_offline() -> bool:
    """Whether Hugging Face downloads are switched off (``HF_HUB_OFFLINE``)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - a dependency of sentence-transformers
        return False
    return bool(constants.HF_HUB_OFFLINE)


def in_hub_cache(name: str) -> bool:
    """Whether the local Hugging Face cache holds a snapshot of ``name``."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return any(isinstance(try_to_load_from_cache(name, f), str) for f in ("modules.json", "config.json"))
    except Exception:  # a malformed id: not in the cache
        return False


def looks_like_path(name: str) -> bool:
    """A filesystem path rather than a Hub id (``org/name`` or ``name``)."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


def check_model_name(name: str, path: str, aliases) -> None:
    """Refuse early a name that cannot load: a near-miss of an alias, or a Hub id missing while offline."""
    if Path(path).exists() or name in aliases or looks_like_path(path):
        return
    close = difflib.get_close_matches(name, list(aliases), n=1, cutoff=0.75)
    if close and not in_hub_cache(name):
        raise SentembError(f"unknown model {name!r}: not a local folder, an alias or a downloaded Hub model; "
                           f"did you mean {close[0]}?")
    if hub_offline() and not in_hub_cache(name):
        raise SentembError(f"model {name!r} is not in the local cache and offline (HF_HUB_OFFLINE=1): download it "
                           f"where there is network (hf download {name}), or give a local model folder")


def check_folder_files(folder: str | Path) -> None:
    """Every JSON config of a model folder parses to an object; else name the file, line and column."""
    for fname in CONFIG_FILES:
        f = Path(folder) / fname
        if not f.is_file():
            continue
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise SentembError(f"{f}: not UTF-8 text; the model folder is damaged") from None
        except json.JSONDecodeError as exc:
            raise SentembError(f"{f}, line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg}); "
                               "the model folder is damaged or was not fully written") from None
        if not isinstance(data, (dict, list)):
            raise SentembError(f"{f}: expected a JSON object, found {type(data).__name__}")


def position_limit(transformer) -> int | None:
    """The most tokens the model's position embeddings cover (RoBERTa-style offsets subtracted), if known."""
    auto = getattr(transformer, "auto_model", None)
    limit = getattr(getattr(auto, "config", None), "max_position_embeddings", None)
    if not isinstance(limit, int) or limit <= 0:
        return None
    padding_idx = getattr(getattr(auto, "embeddings", None), "padding_idx", None)
    return limit - (padding_idx + 1) if isinstance(padding_idx, int) else limit


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def explained(name: str, path: str):
    """Turn the errors Hugging Face raises while loading ``name`` into one clear ``SentembError``."""
    try:
        yield
    except SentembError:
        raise
    except (OSError, ValueError) as exc:
        text = str(exc)
        if Path(path).is_dir():
            raise SentembError(f"could not load the model folder {path}: {_first_line(exc)}") from None
        if hub_offline() or "offline" in text.lower():
            raise SentembError(f"model {name!r} is not in the local cache and offline: download it where there is "
                               f"network (hf download {name}), or give a local model folder") from None
        if "couldn't connect" in text.lower() or "connection" in text.lower():
            raise SentembError(f"model {name!r} is not in the local cache and the Hugging Face Hub cannot be "
                               "reached; check the network, or give a local model folder") from None
        if "not a valid model identifier" in text or "404" in text or "Repository Not Found" in text:
            raise SentembError(f"no model {name!r} on the Hugging Face Hub or on disk (a private model needs "
                               "hf auth login)") from None
        raise SentembError(f"could not load model {name!r}: {_first_line(exc)}") from None
