"""Vector storage and search in Milvus through ``pymilvus.MilvusClient``.

With no URI the database is Milvus Lite, embedded in the process (``DIR/milvus.db``); with
``http://host:19530`` (and a token where the server wants one) the same code talks to a Milvus server or
cluster. A collection holds ``id`` (string primary key), ``vector`` (float, inner product of L2-normalised
vectors = cosine), ``text`` and ``metadata`` (JSON). Writes are upserts in batches, so re-running a build
or an add after a failure writes each id once; a batch that still fails after retries is an error that
says which rows are written.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sentemb.errors import SentembError

LITE_FILE = "milvus.db"
DEFAULT_COLLECTION = "sentemb"
BATCH = 1000
RETRIES = 3
MAX_TEXT = 65535
MAX_LIMIT = 16384  # Milvus' largest top-k
INDEX_TYPES = {"flat": "FLAT", "hnsw": "HNSW", "ivf": "IVF_FLAT"}


def lite_uri(folder: str | Path) -> str:
    return str(Path(folder).resolve() / LITE_FILE)


def connect(uri: str, token: str | None = None, timeout: float = 10.0):
    """A ``MilvusClient``; a server that does not answer within ``timeout`` seconds is a clear error."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise SentembError("the milvus backend needs pymilvus and milvus-lite: pip install 'sentemb[milvus]'") from None
    try:
        return MilvusClient(uri=uri, token=token or "", timeout=timeout)
    except Exception as exc:
        raise SentembError(f"cannot reach Milvus at {uri} within {timeout:g} s ({type(exc).__name__}: "
                           f"{str(exc).strip()[:200]}); check the URI/--token and that the server is running") from None


class MilvusStore:
    """One collection of one Milvus database."""

    def __init__(self, uri: str, collection: str, dimension: int, token: str | None = None,
                 index_type: str = "flat", timeout: float = 10.0):
        self.uri = uri
        self.collection = collection
        self.dimension = int(dimension)
        self.index_type = index_type
        self.client = connect(uri, token, timeout)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass

    def create(self, overwrite: bool = False) -> None:
        from pymilvus import DataType

        c = self.client
        if c.has_collection(self.collection):
            if not overwrite:
                raise SentembError(f"Milvus collection {self.collection!r} already exists at {self.uri}; "
                                   "pick another --collection, or use `sentemb index add` to add to it")
            c.drop_collection(self.collection)
        schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("metadata", DataType.JSON)
        params = c.prepare_index_params()
        extra = {"M": 32, "efConstruction": 200} if self.index_type == "hnsw" else (
            {"nlist": 128} if self.index_type == "ivf" else {})
        params.add_index(field_name="vector", index_type=INDEX_TYPES[self.index_type], metric_type="IP", params=extra)
        c.create_collection(self.collection, schema=schema, index_params=params)

    def check(self) -> None:
        if not self.client.has_collection(self.collection):
            raise SentembError(f"Milvus collection {self.collection!r} not found at {self.uri}")

    def upsert(self, ids: list[str], texts: list[str], metadata: list[dict], vectors: np.ndarray,
               progress=None) -> int:
        """Write rows in batches (each retried); returns the rows written."""
        too_long = [i for i, t in zip(ids, texts) if len(t.encode("utf-8")) > MAX_TEXT]
        if too_long:
            raise SentembError(f"{len(too_long)} text(s) exceed Milvus' {MAX_TEXT}-byte text field, first id "
                               f"{too_long[0]!r}; shorten them before indexing")
        done = 0
        for start in range(0, len(ids), BATCH):
            rows = [{"id": i, "vector": v.tolist(), "text": t, "metadata": m}
                    for i, t, m, v in zip(ids[start:start + BATCH], texts[start:start + BATCH],
                                          metadata[start:start + BATCH], vectors[start:start + BATCH])]
            for attempt in range(1, RETRIES + 1):
                try:
                    self.client.upsert(self.collection, rows)
                    break
                except Exception as exc:
                    if attempt == RETRIES:
                        raise SentembError(
                            f"Milvus at {self.uri}: writing rows {start}-{start + len(rows) - 1} failed after "
                            f"{RETRIES} tries ({type(exc).__name__}: {str(exc)[:200]}); rows 0-{start - 1} are "
                            "written. Re-run the same command: upserts by id write each row once") from None
                    time.sleep(0.5 * attempt)
            done += len(rows)
            if progress is not None:
                progress(len(rows))
        self.client.flush(self.collection) if hasattr(self.client, "flush") else None
        return done

    def existing(self, ids: list[str]) -> list[str]:
        found: list[str] = []
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            res = self.client.get(self.collection, ids=chunk, output_fields=["id"])
            found.extend(r["id"] for r in res)
        return found

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), BATCH):
            self.client.delete(self.collection, ids=ids[start:start + BATCH])

    def count(self) -> int:
        res = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"])

    def search(self, queries: np.ndarray, k: int, ef_search: int | None = None, nprobe: int | None = None) -> list[list[dict]]:
        """Per query, up to ``k`` hits ``{"id", "score", "text", "metadata"}``, best first."""
        k = min(int(k), MAX_LIMIT)
        if k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        params: dict = {"metric_type": "IP", "params": {}}
        if self.index_type == "hnsw":
            params["params"]["ef"] = max(int(ef_search or 64), k)
        elif self.index_type == "ivf":
            params["params"]["nprobe"] = int(nprobe or 16)
        res = self.client.search(self.collection, data=[q.tolist() for q in queries], limit=k,
                                 output_fields=["text", "metadata"], search_params=params)
        return [[{"id": h["id"], "score": float(h["distance"]), "text": h["entity"]["text"],
                  "metadata": h["entity"].get("metadata") or {}} for h in hits] for hits in res]
