"""Load test of an OpenAI-compatible embedding server: N concurrent clients for a bounded time each.

    # start sentemb servers itself (batching on, then --max-batch-size 1) and compare with offline encode
    python benchmarks/load.py --serve minilm-offline --data-dir ../shared/datasets
    python benchmarks/load.py --serve out/minilm-int8 --data-dir ../shared/datasets --min-cosine 0.99

    # any running OpenAI-compatible server on loopback (sentemb, text-embeddings-inference, infinity...)
    python benchmarks/load.py --url http://127.0.0.1:8080 --name MODEL --reference minilm-offline --texts FILE

Every client sends single-sentence requests (``--inputs-per-request`` to change it) one after the other, in
the encoding the official ``openai`` client uses by default (base64 float32), over one keep-alive
connection, for ``--duration`` seconds per level (``--clients 1,8,32``). Each returned row is compared with
the reference vector of its text (the model's offline ``encode``, computed here): a row below
``--min-cosine`` is a wrong row; a non-200 answer or a broken connection is an error. The table gives
requests/s, sentences/s, p50/p95/p99 latency, errors and wrong rows per level, and the CPU time per request
spent by the load clients (this process) and by the server (``--serve``, or ``--server-pid``: its process and
children), so a machine shared by both shows where its cores went; with ``--serve`` also the
same server with batching off (``--max-batch-size 1``) and the offline ``encode`` throughput on the same
texts (batches of 32, same thread count), with the ratios. Targets loopback only; stops by itself.

The client is a minimal HTTP/1.1 client on asyncio streams, so that its own CPU use (the server and the
clients share the machine) stays small next to the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _loads(body: bytes):
    try:
        import orjson

        return orjson.loads(body)
    except ImportError:
        return json.loads(body)


class Connection:
    """One keep-alive HTTP/1.1 connection; ``post`` sends JSON and returns (status, body)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n{self.extra}\r\n").encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, chunked, close = None, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            parts = []
            while (size := int((await self.reader.readline()).split(b";")[0], 16)) > 0:
                parts.append(await self.reader.readexactly(size + 2))
            await self.reader.readline()
            data = b"".join(p[:-2] for p in parts)
        else:
            data = await self.reader.readexactly(length or 0)
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


@dataclass
class Level:
    label: str
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    sentences: int = 0
    errors: int = 0
    wrong: int = 0
    min_cosine: float = 1.0
    first_error: str = ""
    client_cpu: float = 0.0
    server_cpu: float = float("nan")

    def row(self) -> dict:
        lat = sorted(self.latencies)

        def pct(p):
            return 1000 * lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")

        return {"server": self.label, "clients": self.clients, "requests": len(lat) + self.errors,
                "req_s": len(lat) / self.seconds, "sent_s": self.sentences / self.seconds,
                "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99), "errors": self.errors,
                "wrong_rows": self.wrong, "min_cosine": self.min_cosine,
                "client_cpu_ms": 1000 * self.client_cpu / max(len(lat), 1),
                "server_cpu_ms": 1000 * self.server_cpu / max(len(lat), 1)}


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` and its children (NaN without psutil or a pid)."""
    if pid is None:
        return float("nan")
    try:
        import psutil

        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
        return sum(sum(p.cpu_times()[:2]) for p in procs)
    except Exception:  # psutil missing, or the process is gone
        return float("nan")


def _vectors(payload: dict, n: int) -> np.ndarray:
    data = sorted(payload["data"], key=lambda d: d["index"])
    if len(data) != n:
        raise ValueError(f"{len(data)} rows for {n} inputs")
    rows = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") if isinstance(d["embedding"], str)
            else np.asarray(d["embedding"], dtype=np.float32) for d in data]
    return np.stack(rows)


async def run_level(url: str, name: str | None, texts: list[str], reference: np.ndarray, clients: int,
                    duration: float, per_request: int, min_cosine: float, label: str, headers: dict,
                    server_pid: int | None = None) -> Level:
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/v1/embeddings"
    unit = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    level = Level(label, clients)
    counter = iter(range(10**12))
    deadline = time.perf_counter() + duration

    async def client():
        conn = Connection(parts.hostname, parts.port or 80, headers)
        try:
            while time.perf_counter() < deadline:
                start = next(counter) * per_request % len(texts)
                idx = [(start + j) % len(texts) for j in range(per_request)]
                body = {"input": [texts[i] for i in idx], "encoding_format": "base64"}
                if name:
                    body["model"] = name
                t0 = time.perf_counter()
                try:
                    status, data = await conn.post(path, json.dumps(body).encode())
                    if status != 200:
                        raise ValueError(f"HTTP {status}: {data[:200]!r}")
                    got = _vectors(_loads(data), len(idx))
                except Exception as exc:  # counted, and the connection is replaced
                    level.errors += 1
                    level.first_error = level.first_error or f"{type(exc).__name__}: {exc}"
                    await conn.close()
                    continue
                level.latencies.append(time.perf_counter() - t0)
                level.sentences += len(idx)
                if got.shape[1] != unit.shape[1]:
                    level.wrong += len(idx)
                    continue
                cos = (got / np.linalg.norm(got, axis=1, keepdims=True) * unit[idx]).sum(1)
                level.wrong += int((cos < min_cosine).sum())
                level.min_cosine = min(level.min_cosine, float(cos.min()))
        finally:
            await conn.close()

    t0, c0, s0 = time.perf_counter(), time.process_time(), cpu_seconds(server_pid)
    await asyncio.gather(*(client() for _ in range(clients)))
    level.seconds = time.perf_counter() - t0
    level.client_cpu, level.server_cpu = time.process_time() - c0, cpu_seconds(server_pid) - s0
    return level


def load_texts(args) -> list[str]:
    if args.texts:
        texts = [line.strip() for line in Path(args.texts).read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        data = Path(args.data_dir or "") / "stsbenchmark-en" / "sts-test.csv"
        if not data.is_file():
            raise SystemExit("give --texts FILE, or --data-dir with stsbenchmark-en/sts-test.csv")
        seen: dict[str, None] = {}
        for line in data.read_text(encoding="utf-8").splitlines():
            cols = line.split("\t")
            seen.setdefault(cols[5], None)
            seen.setdefault(cols[6], None)
        texts = list(seen)
    return list(dict.fromkeys(texts))[: args.max_texts]


def offline(model_name: str, texts: list[str], threads: int, batch_size: int) -> tuple[np.ndarray, float]:
    """Reference vectors and the offline encode throughput (sentences/s, best of two passes)."""
    import torch

    import sentemb

    torch.set_num_threads(threads)
    os.environ["SENTEMB_ONNX_THREADS"] = str(threads)
    model = sentemb.load(model_name, device="cpu")
    model.encode(texts[:64], batch_size=batch_size)  # warm-up
    best, vectors = 0.0, None
    for _ in range(2):
        t0 = time.perf_counter()
        vectors = model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
        best = max(best, len(texts) / (time.perf_counter() - t0))
    del model
    return np.asarray(vectors, dtype=np.float32), best


def print_table(rows: list[dict], out=sys.stdout) -> None:
    cols = [("server", "{:<24}"), ("clients", "{:>7}"), ("requests", "{:>8}"), ("req_s", "{:>8.1f}"),
            ("sent_s", "{:>8.1f}"), ("p50_ms", "{:>7.1f}"), ("p95_ms", "{:>7.1f}"), ("p99_ms", "{:>7.1f}"),
            ("errors", "{:>6}"), ("wrong_rows", "{:>10}"), ("min_cosine", "{:>10.5f}"),
            ("client_cpu_ms", "{:>6.2f}"), ("server_cpu_ms", "{:>6.2f}")]
    print("| " + " | ".join(c for c, _ in cols) + " |", file=out)
    print("|" + "|".join("---" for _ in cols) + "|", file=out)
    for r in rows:
        print("| " + " | ".join(f.format(r[c]).strip() for c, f in cols) + " |", file=out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = ap.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="base URL of a running OpenAI-compatible server (loopback)")
    target.add_argument("--serve", metavar="MODEL", help="start `sentemb serve MODEL` on a free loopback port")
    ap.add_argument("--serve-args", default="", help="extra `sentemb serve` options, e.g. '--max-wait-ms 5'")
    ap.add_argument("--no-unbatched", action="store_true", help="with --serve: skip the --max-batch-size 1 run")
    ap.add_argument("--name", help="model name to send (default: none)")
    ap.add_argument("--reference", help="model whose offline encode gives the expected vectors "
                                        "(default: the --serve model)")
    ap.add_argument("--server-pid", type=int, help="with --url: the server's pid, for its CPU time per request")
    ap.add_argument("--api-key", default=os.environ.get("SENTEMB_API_KEY"))
    ap.add_argument("--texts", help="one text per line (default: English STSb test sentences from --data-dir)")
    ap.add_argument("--data-dir", default=os.environ.get("SENTEMB_DATA"))
    ap.add_argument("--max-texts", type=int, default=2000)
    ap.add_argument("--clients", default="1,8,32", help="concurrency levels")
    ap.add_argument("--unbatched-clients", default="32", help="levels for the --max-batch-size 1 server")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds per level")
    ap.add_argument("--inputs-per-request", type=int, default=1)
    ap.add_argument("--min-cosine", type=float, default=0.999, help="a row below this cosine is wrong")
    ap.add_argument("--threads", type=int, default=2, help="model threads of the server and of offline encode")
    ap.add_argument("--batch-size", type=int, default=32, help="offline encode batch size")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    texts = load_texts(args)
    levels = [int(c) for c in args.clients.split(",")]
    reference_model = args.reference or args.serve
    if reference_model is None:
        raise SystemExit("give --reference MODEL: the expected vectors come from its offline encode")
    reference, offline_rate = offline(reference_model, texts, args.threads, args.batch_size)
    print(f"{len(texts)} texts; offline encode of {reference_model}: {offline_rate:.1f} sentences/s "
          f"(batch {args.batch_size}, {args.threads} threads)", file=sys.stderr)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    rows: list[dict] = []

    def measure(url: str, label: str, clients: list[int], pid: int | None) -> None:
        if urlsplit(url).hostname not in LOOPBACK:
            raise SystemExit(f"{url}: this benchmark targets loopback servers only")
        for n in clients:
            level = asyncio.run(run_level(url, args.name, texts, reference, n, args.duration,
                                          args.inputs_per_request, args.min_cosine, label, headers, pid))
            rows.append(level.row())
            note = f"  first error: {level.first_error}" if level.first_error else ""
            print(f"  {label} x{n}: {rows[-1]['sent_s']:.1f} sentences/s{note}", file=sys.stderr)

    if args.url:
        measure(args.url, args.name or args.url, levels, args.server_pid)
    else:
        from sentemb.serving.process import ServerProcess

        base = ["--threads", str(args.threads), *args.serve_args.split()]
        if args.name:
            base += ["--name", args.name]
        runs = [("batching", base, levels)]
        if not args.no_unbatched:
            runs.append(("max-batch-size 1", [*base, "--max-batch-size", "1"],
                         [int(c) for c in args.unbatched_clients.split(",")]))
        for label, serve_args, clients in runs:
            with ServerProcess(args.serve, serve_args) as server:
                measure(server.url, label, clients, server.proc.pid)

    print_table(rows)
    summary = {"texts": len(texts), "offline_sent_s": offline_rate, "rows": rows}
    by = {(r["server"], r["clients"]): r for r in rows}
    top = max(levels)
    if ("batching", top) in by:
        rate = by[("batching", top)]["sent_s"]
        print(f"\noffline encode: {offline_rate:.1f} sentences/s; server at {top} clients: "
              f"{100 * rate / offline_rate:.0f} % of it")
        summary["server_vs_offline"] = rate / offline_rate
        if ("max-batch-size 1", top) in by:
            ratio = rate / by[("max-batch-size 1", top)]["sent_s"]
            print(f"micro-batching vs --max-batch-size 1 at {top} clients: {ratio:.1f}x")
            summary["batching_speedup"] = ratio
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
