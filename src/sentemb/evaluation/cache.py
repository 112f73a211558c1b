"""On-disk embedding cache: vectors keyed by model identity and text, so re-running a table is nearly free.

Layout: ``<root>/embeddings/<model key>/`` holds ``model.json`` (what the key was computed from) and
shards ``<uuid>.npz``, each with ``keys`` (16-byte BLAKE2b digests of the UTF-8 texts, as an (n, 16)
uint8 array) and ``vectors`` (float32). Encoding adds a shard per chunk as it goes (written atomically,
so a run killed midway keeps what it encoded and concurrent runs cannot corrupt each other); when there
are many shards, all but the largest are merged into one.

The root is ``$SENTEMB_CACHE``, else ``$XDG_CACHE_HOME/sentemb``, else ``~/.cache/sentemb``.

The model key hashes everything the vectors depend on:

* the model's files: the resolved folder's path and, for each file, relative path, size and modification
  time; a hub id is looked up in the local Hugging Face cache and keyed by the resolved revision (the
  commit hash of the snapshot it loads), not by the bare id;
* the effective assembly, not the options as typed: the pooling the model ends up with (an explicit
  ``pooling="mean"`` on a model whose own pooling is mean is the same entry), normalisation and token limit;
* the installed versions of sentemb, sentence-transformers, transformers, torch and onnxruntime;
* :data:`CACHE_FORMAT`, which is bumped whenever the code that assembles models or pools vectors changes
  what a model outputs, so every older entry stops matching.

A model that cannot be identified (an in-memory model, a hub id not downloaded yet) is not cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import numpy as np

from sentemb.atomic import atomic_path, write_text

#: bump when model assembly or pooling code changes the vectors a model gives (invalidates every entry)
CACHE_FORMAT = 2
#: the packages whose versions are part of every key (missing ones are recorded as absent)
KEY_PACKAGES = ("sentemb", "sentence-transformers", "transformers", "torch", "onnxruntime")
CACHE_ENV = "SENTEMB_CACHE"
_MERGE_AT = 8  # merge the shards of a model once there are this many


def cache_root() -> Path:
    """Where the cache lives (see the module docstring)."""
    if os.environ.get(CACHE_ENV, "").strip():
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "sentemb"


def _local_folder(name: str) -> tuple[Path, str | None] | None:
    """(folder, hub revision) a model name loads from: a local folder or an alias's folder (revision None),
    or a downloaded hub snapshot with the commit hash it resolves to; None when not on disk."""
    from sentemb.models.names import resolve_model_path

    path = Path(resolve_model_path(name)).expanduser()
    if path.is_dir():
        return path.resolve(), None
    if path.exists() or len(str(name).split("/")) > 2:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        for probe in ("modules.json", "config.json"):
            hit = try_to_load_from_cache(str(name), probe)  # follows refs/main to a commit, offline
            if isinstance(hit, str):
                snapshot = Path(hit).parent  # .../snapshots/<commit hash>
                return snapshot, snapshot.name
    except Exception:  # a malformed id or an unreadable cache: just do not cache
        return None
    return None


def package_versions() -> dict[str, str | None]:
    """Installed versions of :data:`KEY_PACKAGES` (None for one that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for pkg in KEY_PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _folder_files(folder: Path) -> list[list]:
    files = []
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not f.is_file():
            continue
        st = f.stat()
        files.append([rel.as_posix(), st.st_size, st.st_mtime_ns])
    return files


def _own_max_seq_length(folder: Path) -> int | None:
    try:
        value = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8")).get("max_seq_length")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def effective_options(folder: Path, pooling: str | None, normalize: bool | None,
                      max_seq_length: int | None) -> dict:
    """The pooling / normalisation / token limit a load of ``folder`` ends up with, independent of whether
    they were asked for explicitly or are the model's own (``own`` where it cannot be told from the files)."""
    from sentemb.models.assembly import folder_normalizes, folder_pooling

    own_pooling = folder_pooling(folder)
    own_length = _own_max_seq_length(folder)
    return {
        "pooling": pooling or own_pooling or "own",
        "normalize": folder_normalizes(folder) if normalize is None else bool(normalize),
        "max_seq_length": max_seq_length or own_length or "own",
    }


def model_identity(name, pooling: str | None = None, normalize: bool | None = None,
                   max_seq_length: int | None = None) -> tuple[str, dict] | None:
    """(key, description) identifying what ``sentemb.load(name, pooling, normalize, max_seq_length)`` returns.

    None when the model cannot be identified without loading it (then nothing is cached).
    """
    if not isinstance(name, (str, os.PathLike)):
        return None
    found = _local_folder(str(name))
    if found is None:
        return None
    folder, revision = found
    key_desc = {"format": CACHE_FORMAT, "versions": package_versions(), "folder": str(folder),
                "revision": revision, **effective_options(folder, pooling, normalize, max_seq_length)}
    payload = json.dumps({**key_desc, "files": _folder_files(folder)}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32], {"model": str(name), **key_desc}


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EmbeddingCache:
    """The cached vectors of one model."""

    def __init__(self, key: str, description: dict | None = None, root: str | Path | None = None):
        self.dir = Path(root or cache_root()) / "embeddings" / key
        self.description = description or {}
        self._index: dict[bytes, tuple[int, int]] | None = None
        self._shards: list[np.ndarray] = []

    def _shard_files(self) -> list[Path]:
        return sorted(self.dir.glob("*.npz")) if self.dir.is_dir() else []

    def _load(self) -> None:
        self._index, self._shards = {}, []
        for f in self._shard_files():
            try:
                with np.load(f) as z:
                    keys, vecs = z["keys"], z["vectors"]
            except (OSError, ValueError, KeyError, EOFError):  # merged away meanwhile, or unreadable: skip it
                continue
            s = len(self._shards)
            self._shards.append(vecs)
            raw = np.ascontiguousarray(keys).tobytes()
            for i in range(len(vecs)):
                self._index.setdefault(raw[16 * i: 16 * i + 16], (s, i))

    def __len__(self) -> int:
        if self._index is None:
            self._load()
        return len(self._index)

    def lookup(self, texts: list[str]) -> tuple[np.ndarray | None, list[int]]:
        """Vectors of the cached texts (rows in ``texts`` order, missing rows zero) and the missing positions."""
        if self._index is None:
            self._load()
        hits = [self._index.get(text_key(t)) for t in texts]
        missing = [i for i, h in enumerate(hits) if h is None]
        if len(missing) == len(texts):
            return None, missing
        shard = np.array([-1 if h is None else h[0] for h in hits])
        row = np.array([0 if h is None else h[1] for h in hits])
        dim = self._shards[shard[shard >= 0][0]].shape[1]
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for s in np.unique(shard[shard >= 0]):
            sel = shard == s
            out[sel] = self._shards[s][row[sel]]
        return out, missing

    def add(self, texts: list[str], vectors: np.ndarray) -> None:
        """Store new vectors (one new shard, written atomically); merges small shards when there are many."""
        if not texts:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.dir / "model.json").exists():
            write_text(self.dir / "model.json", json.dumps(self.description, indent=2, ensure_ascii=False))
        keys = np.frombuffer(b"".join(text_key(t) for t in texts), dtype=np.uint8).reshape(-1, 16)
        self._write(self.dir / f"{uuid.uuid4().hex}.npz", keys, np.asarray(vectors, dtype=np.float32))
        self._index = None
        shards = self._shard_files()
        if len(shards) >= _MERGE_AT:  # all but the largest: a long run's chunks do not rewrite everything each time
            largest = max(shards, key=lambda f: f.stat().st_size if f.exists() else 0)
            self._merge([f for f in shards if f != largest])

    @staticmethod
    def _write(path: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, keys=keys, vectors=vectors)

    def _merge(self, shards: list[Path]) -> None:
        keys, vecs = [], []
        for f in shards:
            try:
                with np.load(f) as z:
                    keys.append(z["keys"])
                    vecs.append(z["vectors"])
            except (OSError, ValueError, KeyError, EOFError):
                return  # another run is merging: leave it to that one
        self._write(self.dir / f"{uuid.uuid4().hex}.npz", np.concatenate(keys), np.concatenate(vecs))
        for f in shards:
            f.unlink(missing_ok=True)
