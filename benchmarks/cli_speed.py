"""CLI start-up and cached re-run times: whole-process wall time of real `sentemb` commands, median of N.

    python benchmarks/cli_speed.py --data-dir ../shared/datasets [--model minilm-offline] [--repeats 5]

Rows: `sentemb --help`, `sentemb datasets`, a fully cached `sentemb eval --suite zh` re-run (a first,
untimed run fills the embedding cache if needed), and for reference what a process pays just to import
sentence-transformers (what every command paid before the heavy imports became lazy). Each command runs
in a fresh process with HF_HUB_OFFLINE=1; the table shows the median, min and max, and the target.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def sentemb_command() -> list[str]:
    """The installed ``sentemb`` script beside this interpreter, else ``python -m sentemb.cli``."""
    script = Path(sys.executable).parent / "sentemb"
    if script.exists():
        return [str(script)]
    found = shutil.which("sentemb")
    return [found] if found else [sys.executable, "-m", "sentemb.cli"]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_runs(cmd: list[str], repeats: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of ``repeats`` fresh processes."""
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = _children_cpu(), time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall.append(time.perf_counter() - t0)
        cpu.append(_children_cpu() - c0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("SENTEMB_DATA"), help="benchmark data folder")
    ap.add_argument("--model", default="minilm-offline", help="model for the cached eval re-run")
    ap.add_argument("--suite", default="zh")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--only", help="comma-separated subset of the rows: help, datasets, eval, import, reference")
    args = ap.parse_args()
    if not args.data_dir:
        raise SystemExit("give --data-dir DIR or set SENTEMB_DATA")

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    sentemb = sentemb_command()
    eval_cmd = [*sentemb, "eval", "-m", args.model, "--suite", args.suite, "--data-dir", args.data_dir]
    if not args.only or "eval" in args.only:
        print(f"filling the embedding cache (untimed): {' '.join(eval_cmd[len(sentemb) - 1:])}", file=sys.stderr)
        timed_runs(eval_cmd, 1, env)

    rows = {
        "help": ("sentemb --help", [*sentemb, "--help"], 0.5),
        "datasets": ("sentemb datasets", [*sentemb, "datasets", "--data-dir", args.data_dir], 1.0),
        "eval": (f"sentemb eval --suite {args.suite} (cached re-run)", eval_cmd, 3.0),
        "import": ("python -c 'import sentemb, sentemb.cli'", [sys.executable, "-c", "import sentemb, sentemb.cli"],
                   None),
        "reference": ("python -c 'import sentence_transformers' (reference)",
                      [sys.executable, "-c", "import sentence_transformers"], None),
    }
    wanted = [k.strip() for k in args.only.split(",")] if args.only else list(rows)
    if unknown := [k for k in wanted if k not in rows]:
        raise SystemExit(f"unknown --only row(s) {unknown}; valid: {', '.join(rows)}")
    results = []
    load = []
    for name, cmd, target in (rows[k] for k in wanted):
        load.append(os.getloadavg()[0])
        wall, cpu = timed_runs(cmd, args.repeats, env)
        results.append({"command": name, "wall_median_s": statistics.median(wall), "wall_min_s": min(wall),
                        "wall_max_s": max(wall), "cpu_median_s": statistics.median(cpu), "target_s": target,
                        "runs": len(wall)})

    width = max(len(r["command"]) for r in results)
    print(f"| {'command':{width}s} | wall median s | wall min-max s | CPU median s | target s | met |")
    print(f"|{'-' * (width + 2)}|--------------:|---------------:|-------------:|---------:|:---:|")
    for r in results:
        target = f"{r['target_s']:.1f}" if r["target_s"] else "-"
        met = "-" if r["target_s"] is None else "yes" if r["wall_median_s"] <= r["target_s"] else "NO"
        span = f"{r['wall_min_s']:.2f}-{r['wall_max_s']:.2f}"
        print(f"| {r['command']:{width}s} | {r['wall_median_s']:13.2f} | {span:>14s} | {r['cpu_median_s']:12.2f} "
              f"| {target:>8s} | {met:^3s} |")
    print(f"\nmedian of {args.repeats} fresh processes each; CPU = user + system time of the process; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}, {os.cpu_count()} CPUs, load average "
          f"{min(load):.1f}-{max(load):.1f} (wall time exceeds CPU time when other jobs share the cores)")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "repeats": args.repeats}, indent=2))


if __name__ == "__main__":
    main()
