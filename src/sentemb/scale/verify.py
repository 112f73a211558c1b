"""Check an encoded folder: every input row exactly once, finite vectors, files and counts as the manifest says."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sentemb.scale.fingerprint import input_fingerprint, is_remote, local_path
from sentemb.scale.manifest import read_manifest
from sentemb.scale.shards import shard_problem


@dataclass
class VerifyReport:
    rows: int
    shards: int
    dim: int | None
    input_status: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_encoded(out_dir: str | Path, check_input: bool = True) -> VerifyReport:
    """Read every shard and compare it with the manifest; ``problems`` lists what is wrong (empty if all is well)."""
    out = Path(out_dir)
    manifest = read_manifest(out)
    rows = int(manifest["input"]["rows"])
    entries = sorted(manifest["shards"], key=lambda s: s["start"])
    report = VerifyReport(rows, len(entries), manifest.get("dim"), "not checked")
    problems = report.problems
    expected_start = 0
    for entry in entries:  # row ranges: contiguous, no overlap, no gap
        if entry["start"] != expected_start:
            kind = "gap" if entry["start"] > expected_start else "overlap"
            problems.append(f"{kind} in the row ranges before {entry['file']} (rows {expected_start}.."
                            f"{entry['start'] - 1})")
        expected_start = max(expected_start, entry["end"])
    if expected_start != rows:
        problems.append(f"shards cover rows 0..{expected_start - 1}, the input has {rows}")
    counted = 0
    for entry in entries:
        if entry["status"] != "done":
            problems.append(f"{entry['file']}: not encoded yet (status {entry['status']})")
            continue
        if entry.get("rows") != entry["end"] - entry["start"]:
            problems.append(f"{entry['file']}: manifest count {entry.get('rows')} for a range of "
                            f"{entry['end'] - entry['start']} rows")
        problem = shard_problem(out, entry, manifest.get("dim"), deep=True)
        if problem:
            problems.append(problem)
        else:
            counted += entry["end"] - entry["start"]
    listed = {e["file"] for e in entries}
    extra = sorted(p.name for p in out.glob("shard-*.parquet") if p.name not in listed)
    if extra:
        problems.append(f"shard file(s) not in the manifest: {', '.join(extra[:5])}")
    if not problems and counted != rows:
        problems.append(f"{counted} rows in the shards, the input has {rows}")
    if check_input:
        report.input_status = _input_status(manifest["input"], problems)
    return report


def _input_status(info: dict, problems: list[str]) -> str:
    path = info["path"]
    if not is_remote(path) and not local_path(path).is_file():
        return f"input {path} not found here (not compared)"
    try:
        now = input_fingerprint(path)
    except Exception as exc:  # an unreachable remote file: say so, it is not a fault of the vectors
        return f"input {path} not reachable ({exc})"
    changed = [k for k, v in now.items() if info.get(k) is not None and info[k] != v]
    if changed:
        problems.append(f"input {path} changed since it was encoded ({', '.join(changed)} differ)")
        return "changed"
    return "unchanged"
