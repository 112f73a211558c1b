"""Build, open, grow and search an index folder (faiss embedded or Milvus) of one model's vectors.

>>> from sentemb.search import build_index, open_index
>>> build_index("faq.jsonl", "minilm-offline", "faq-index", precision="int8")  # doctest: +SKIP
>>> open_index("faq-index").search(["how do I reset my password"], k=5)  # doctest: +SKIP

The folder holds ``index.json`` (the manifest: model, pooling, normalisation, dimension, precision, rows,
query prompt) and, for faiss, the vectors and ``rows.parquet`` (ids, texts, metadata). Search results
never exceed the number of rows: asking for ``k`` larger than the index returns every row, ranked.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentemb.errors import SentembError
from sentemb.search.corpus import Records, check_ids, read_corpus
from sentemb.search.encoder import (
    count_truncated,
    describe_model,
    embedding_dim,
    encode_normalized,
    model_identity,
    normalize_rows,
    resolve_query_prompt,
)
from sentemb.search.manifest import (
    BACKENDS,
    INDEX_TYPES,
    PRECISIONS,
    is_index_folder,
    read_index_manifest,
    write_index_manifest,
)


@dataclass
class Hit:
    """One search result: the row's id, text, metadata and its cosine score with the query."""

    id: str
    text: str
    score: float
    rank: int
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "score": round(float(self.score), 6), "rank": self.rank,
                "metadata": self.metadata}


def _check_choice(kind: str, value: str, valid) -> None:
    if value not in valid:
        raise SentembError(f"unknown {kind} {value!r}; valid: {', '.join(valid)}")


def _as_records(corpus, ids=None, metadata=None, column=None, id_column=None, start_id: int = 0) -> Records:
    if isinstance(corpus, Records):
        return corpus
    if isinstance(corpus, (str, os.PathLike)):
        return read_corpus(corpus, column=column, id_column=id_column, start_id=start_id)
    texts = [corpus] if isinstance(corpus, str) else list(corpus)
    if not texts:
        raise SentembError("empty corpus: no texts to index")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise SentembError(f"text {bad[0]} is empty or not a string ({len(bad)} in all)")
    ids = [str(i) for i in ids] if ids is not None else [str(start_id + i) for i in range(len(texts))]
    check_ids(ids, "ids")
    return Records(ids, texts, list(metadata) if metadata is not None else [])


class SearchIndex:
    """An opened index folder. ``search`` encodes queries with the index's own model (loaded on first use)."""

    def __init__(self, folder: str | Path, model=None, model_name: str | None = None, uri: str | None = None,
                 token: str | None = None, timeout: float = 10.0):
        self.folder = Path(folder)
        self.manifest = read_index_manifest(self.folder)
        m = self.manifest
        if model_name is not None and model_identity(model_name) != m.get("model_id", model_identity(m["model"])):
            raise SentembError(f"the index {self.folder} was built with model {m['model']!r}, not {model_name!r}; "
                               "search with the same model (or rebuild the index with this one)")
        if model is not None and embedding_dim(model) != m["dimension"]:
            raise SentembError(f"the index {self.folder} was built with model {m['model']!r} "
                               f"({m['dimension']} dims); the given model has {embedding_dim(model)} dims")
        self._model = model
        self._model_name = model_name
        self.last_truncated = 0
        if m["backend"] == "faiss":
            from sentemb.search.faiss_backend import FaissStore
            from sentemb.search.store import read_rows

            self.store = FaissStore(self.folder, m["precision"], m["index"], m["dimension"], m.get("params")).load()
            self.rows = read_rows(self.folder)
            if len(self.rows) != len(self.store.codes):
                raise SentembError(f"{self.folder}: {len(self.rows)} rows but {len(self.store.codes)} vectors; "
                                   "the folder is inconsistent, rebuild the index")
            self._positions = {i: p for p, i in enumerate(self.rows.ids)}
        else:
            from sentemb.search.milvus_backend import MilvusStore, lite_uri

            self.store = MilvusStore(uri or m.get("uri") or lite_uri(self.folder), m["collection"], m["dimension"],
                                     token=token, index_type=m["index"], timeout=timeout)
            self.store.check()
            self.rows = None

    # --- model ---------------------------------------------------------------------------------
    @property
    def model(self):
        if self._model is None:
            from sentemb.models import load

            self._model = load(self._model_name or self.manifest["model"], device=os.environ.get("SENTEMB_DEVICE"),
                               **(self.manifest.get("load") or {}))
        return self._model

    @property
    def loaded_model(self):
        """The encoder if already loaded (or given), else None: nothing is loaded."""
        return self._model

    @property
    def query_prompt(self) -> str | None:
        return self.manifest.get("query_prompt")

    def __len__(self) -> int:
        return int(self.manifest["rows"])

    def __repr__(self) -> str:
        m = self.manifest
        return (f"SearchIndex({str(self.folder)!r}, backend={m['backend']}, model={m['model']!r}, rows={m['rows']}, "
                f"index={m['index']}, precision={m['precision']})")

    def encode_queries(self, queries: list[str], batch_size: int = 32) -> np.ndarray:
        self.last_truncated = count_truncated(self.model, queries)
        return encode_normalized(self.model, queries, prompt=self.query_prompt, batch_size=batch_size)

    # --- search --------------------------------------------------------------------------------
    def search(self, queries: str | list[str], k: int = 10, batch_size: int = 32, **params) -> list[list[Hit]]:
        """The top ``k`` rows for each query (one list per query, best first; at most ``len(self)`` hits).

        ``params``: ``rescore_multiplier`` (int8/binary), ``ef_search`` (hnsw), ``nprobe`` (ivf).
        ``self.last_truncated`` counts queries cut at the model's token limit.
        """
        single = isinstance(queries, str)
        qs = [queries] if single else list(queries)
        if any(not isinstance(q, str) or not q.strip() for q in qs):
            raise SentembError("empty query: every query needs some text")
        hits = self.search_vectors(self.encode_queries(qs, batch_size), k, **params)
        return hits

    def search_vectors(self, vectors: np.ndarray, k: int = 10, **params) -> list[list[Hit]]:
        """As :meth:`search`, for query vectors made by the index's model (query prompt included)."""
        if k < 1:
            raise SentembError(f"k must be at least 1, got {k}")
        vectors = normalize_rows(np.atleast_2d(vectors))
        if vectors.shape[1] != self.manifest["dimension"]:
            raise SentembError(f"query vectors have {vectors.shape[1]} dims; the index has {self.manifest['dimension']}")
        if self.manifest["backend"] == "milvus":
            return [[Hit(h["id"], h["text"], h["score"], r, h["metadata"]) for r, h in enumerate(hits, 1)]
                    for hits in self.store.search(vectors, k, **{k_: v for k_, v in params.items()
                                                                 if k_ in ("ef_search", "nprobe")})]
        scores, positions = self.store.search(vectors, k, **params)
        out = []
        for srow, prow in zip(scores, positions):
            out.append([Hit(self.rows.ids[p], self.rows.texts[p], float(s), r, self.rows.metadata[p])
                        for r, (s, p) in enumerate(zip(srow, prow), 1) if p >= 0])
        return out

    # --- changes -------------------------------------------------------------------------------
    def add(self, corpus, ids=None, metadata=None, column: str | None = None, id_column: str | None = None,
            replace: bool = False, batch_size: int = 32, show_progress: bool = False, vectors=None,
            progress=None) -> int:
        """Add rows (a corpus file, a list of texts or :class:`Records`); returns how many were added.

        Ids already in the index are an error unless ``replace`` (then the old rows are replaced).
        Texts without ids get numbers continuing after the current row count.
        """
        recs = _as_records(corpus, ids, metadata, column, id_column, start_id=self.next_id())
        present = self._present(recs.ids)
        if present and not replace:
            raise SentembError(f"{len(present)} id(s) already in the index, first {present[0]!r}; "
                               "use other ids, or replace those rows (--replace)")
        vecs = self._vectors_for(recs, vectors, batch_size, show_progress, progress)
        if self.manifest["backend"] == "faiss":
            if present:
                self._delete_faiss(present)
            from sentemb.search.store import write_rows

            self.store.add(vecs)
            self.manifest["index"] = self.store.index_type
            self.rows = Records(self.rows.ids + recs.ids, self.rows.texts + recs.texts,
                                self.rows.metadata + recs.metadata)
            self._positions = {i: p for p, i in enumerate(self.rows.ids)}
            self.store.save()
            write_rows(self.folder, self.rows)
            rows = len(self.rows)
        else:
            self.store.upsert(recs.ids, recs.texts, recs.metadata, vecs)
            rows = self.store.count()
            numeric = [int(i) for i in recs.ids if i.isdigit()]
            if numeric:
                self.manifest["next_id"] = max(int(self.manifest.get("next_id", 0)), max(numeric) + 1)
        self._update_manifest(rows=rows)
        return len(recs)

    def delete(self, ids: list[str]) -> tuple[int, list[str]]:
        """Remove rows by id; returns (rows deleted, ids not found)."""
        ids = [str(i) for i in dict.fromkeys(ids)]
        present = set(self._present(ids))
        missing = [i for i in ids if i not in present]
        found = [i for i in ids if i in present]
        if not found:
            return 0, missing
        if self.manifest["backend"] == "faiss":
            self._delete_faiss(found)
            from sentemb.search.store import write_rows

            self.store.save()
            write_rows(self.folder, self.rows)
            rows = len(self.rows)
            self.manifest["index"] = self.store.index_type  # an ivf index left with too few rows becomes flat
        else:
            self.store.delete(found)
            rows = self.store.count()
        self._update_manifest(rows=rows)
        return len(found), missing

    # --- internals -----------------------------------------------------------------------------
    def next_id(self) -> int:
        """The first free row number (ids given to rows added without ids)."""
        if self.rows is None:
            return int(self.manifest.get("next_id", self.manifest["rows"]))
        numeric = [int(i) for i in self.rows.ids if i.isdigit()]
        return max(numeric, default=-1) + 1

    def _present(self, ids: list[str]) -> list[str]:
        if self.rows is not None:
            return [i for i in ids if i in self._positions]
        return self.store.existing(ids)

    def _delete_faiss(self, ids: list[str]) -> None:
        drop = {self._positions[i] for i in ids}
        keep = np.array([p not in drop for p in range(len(self.rows))], dtype=bool)
        self.store.remove(keep)
        r = self.rows
        self.rows = Records([x for x, k in zip(r.ids, keep) if k], [x for x, k in zip(r.texts, keep) if k],
                            [x for x, k in zip(r.metadata, keep) if k])
        self._positions = {i: p for p, i in enumerate(self.rows.ids)}

    def _vectors_for(self, recs: Records, vectors, batch_size: int, show_progress: bool, progress=None) -> np.ndarray:
        if vectors is not None:
            vecs = normalize_rows(vectors)
            if vecs.shape != (len(recs), self.manifest["dimension"]):
                raise SentembError(f"got vectors of shape {vecs.shape} for {len(recs)} rows of "
                                   f"{self.manifest['dimension']} dims")
            return vecs
        self.last_truncated = count_truncated(self.model, recs.texts)
        return encode_normalized(self.model, recs.texts, batch_size=batch_size, show_progress=show_progress,
                                 progress=progress)

    def _update_manifest(self, **changes) -> None:
        self.manifest.update(changes)
        write_index_manifest(self.folder, self.manifest)


def open_index(folder: str | Path, model=None, model_name: str | None = None, uri: str | None = None,
               token: str | None = None, timeout: float = 10.0) -> SearchIndex:
    """Open an index folder. ``model_name`` other than the index's model is an error naming both;
    ``model`` (a loaded encoder) skips loading the index's model."""
    return SearchIndex(folder, model=model, model_name=model_name, uri=uri, token=token, timeout=timeout)


def build_index(corpus, model: str, output: str | Path, index: str = "flat", precision: str = "float32",
                backend: str = "faiss", uri: str | None = None, collection: str | None = None,
                token: str | None = None, query_prompt: str | None = None, query_prompt_name: str | None = None,
                column: str | None = None, id_column: str | None = None, ids=None, metadata=None,
                batch_size: int = 32, overwrite: bool = False, show_progress: bool = False,
                encoder=None, vectors=None, params: dict | None = None, timeout: float = 10.0,
                load_options: dict | None = None, progress=None) -> SearchIndex:
    """Encode ``corpus`` with ``model`` and write an index folder at ``output``.

    Args:
        corpus: a corpus file (any format ``sentemb encode`` reads), a list of texts or :class:`Records`.
        model: model name/folder/alias; recorded in the manifest and used for every query.
        index: ``flat`` (exact), ``hnsw`` or ``ivf`` (approximate).
        precision: ``float32``, ``int8`` or ``binary`` (faiss only; quantised with rescoring).
        backend: ``faiss`` (embedded files) or ``milvus`` (Milvus Lite at ``output/milvus.db``, or ``uri``).
        query_prompt / query_prompt_name: text put before every query (or the name of one of the model's
            own prompts), recorded in the manifest.
        encoder: an already loaded ``model`` (skips loading); vectors: precomputed corpus vectors.
        load_options: ``pooling`` / ``max_seq_length`` to load ``model`` with (recorded for the queries).
        params: backend settings (``hnsw_m``, ``ef_search``, ``nlist``, ``nprobe``, ``rescore_multiplier``).
    """
    _check_choice("backend", backend, BACKENDS)
    _check_choice("index type", index, INDEX_TYPES)
    _check_choice("precision", precision, PRECISIONS)
    if backend == "milvus" and precision != "float32":
        raise SentembError("the milvus backend stores float32 vectors; use --precision float32 "
                           "(int8/binary quantisation is a faiss-backend option)")
    if backend == "faiss" and (uri or collection or token):
        raise SentembError("--uri/--collection/--token apply to --backend milvus")
    output = Path(output)
    if output.exists() and not (output.is_dir() and not any(output.iterdir())):
        if not (is_index_folder(output) and overwrite):
            raise SentembError(f"{output} exists and is not an empty folder"
                               + (" (an index: pass --overwrite to replace it)" if is_index_folder(output) else ""))
    recs = _as_records(corpus, ids, metadata, column, id_column)
    from sentemb.models import load

    load_options = dict(load_options or {})
    enc = encoder if encoder is not None else load(model, device=os.environ.get("SENTEMB_DEVICE"), **load_options)
    prompt = resolve_query_prompt(enc, query_prompt, query_prompt_name)
    info = describe_model(enc)
    truncated = count_truncated(enc, recs.texts) if vectors is None else 0
    if vectors is not None:
        vecs = normalize_rows(vectors)
        if vecs.shape != (len(recs), info["dimension"]):
            raise SentembError(f"got vectors of shape {vecs.shape} for {len(recs)} rows of {info['dimension']} dims")
    else:
        vecs = encode_normalized(enc, recs.texts, batch_size=batch_size, show_progress=show_progress,
                                 progress=progress)
    manifest = {"backend": backend, "model": str(model), "model_id": model_identity(str(model)), **info,
                "normalize": True, "metric": "cosine", "precision": precision, "index": index, "rows": len(recs),
                "query_prompt": prompt, "query_prompt_name": query_prompt_name, "truncated_at_build": truncated,
                "max_seq_length": getattr(enc, "max_seq_length", None), "load": load_options}
    if backend == "faiss":
        from sentemb.atomic import atomic_path
        from sentemb.search.faiss_backend import FaissStore
        from sentemb.search.store import write_rows

        with atomic_path(output) as tmp:
            tmp.mkdir()
            store = FaissStore(tmp, precision, index, info["dimension"], params)
            store.create(vecs)
            store.save()
            write_rows(tmp, recs)
            write_index_manifest(tmp, {**manifest, "params": store.params})
    else:
        from sentemb.search.milvus_backend import DEFAULT_COLLECTION, MilvusStore, lite_uri

        if output.exists() and overwrite:
            shutil.rmtree(output)
        output.mkdir(parents=True, exist_ok=True)
        name = collection or DEFAULT_COLLECTION
        store = MilvusStore(uri or lite_uri(output), name, info["dimension"], token=token, index_type=index,
                            timeout=timeout)
        try:
            store.create(overwrite=overwrite or uri is None)
            store.upsert(recs.ids, recs.texts, recs.metadata, vecs)
            numeric = [int(i) for i in recs.ids if i.isdigit()]
            write_index_manifest(output, {**manifest, "uri": uri, "collection": name, "params": params or {},
                                          "next_id": max(numeric, default=-1) + 1})
        finally:
            store.close()
    return SearchIndex(output, model=enc, uri=uri, token=token, timeout=timeout)
