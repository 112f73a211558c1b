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


def wall_times(cmd: list[str], repeats: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("SENTEMB_DATA"), help="benchmark data folder")
    ap.add_argument("--model", default="minilm-offline", help="model for the cached eval re-run")
    ap.add_argument("--suite", default="zh")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if not args.data_dir:
        raise SystemExit("give --data-dir DIR or set SENTEMB_DATA")

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    sentemb = sentemb_command()
    eval_cmd = [*sentemb, "eval", "-m", args.model, "--suite", args.suite, "--data-dir", args.data_dir]
    print(f"filling the embedding cache (untimed): {' '.join(eval_cmd[len(sentemb) - 1:])}", file=sys.stderr)
    wall_times(eval_cmd, 1, env)

    rows = [
        ("sentemb --help", [*sentemb, "--help"], 0.5),
        ("sentemb datasets", [*sentemb, "datasets", "--data-dir", args.data_dir], 1.0),
        (f"sentemb eval --suite {args.suite} (cached re-run)", eval_cmd, 3.0),
        ("python -c 'import sentemb, sentemb.cli'", [sys.executable, "-c", "import sentemb, sentemb.cli"], None),
        ("python -c 'import sentence_transformers' (reference)",
         [sys.executable, "-c", "import sentence_transformers"], None),
    ]
    results = []
    for name, cmd, target in rows:
        t = wall_times(cmd, args.repeats, env)
        results.append({"command": name, "median_s": statistics.median(t), "min_s": min(t), "max_s": max(t),
                        "target_s": target, "runs": len(t)})

    width = max(len(r["command"]) for r in results)
    print(f"| {'command':{width}s} | median s | min s | max s | target s | met |")
    print(f"|{'-' * (width + 2)}|---------:|------:|------:|---------:|:---:|")
    for r in results:
        target = f"{r['target_s']:.1f}" if r["target_s"] else "-"
        met = "-" if r["target_s"] is None else "yes" if r["median_s"] <= r["target_s"] else "NO"
        print(f"| {r['command']:{width}s} | {r['median_s']:8.2f} | {r['min_s']:5.2f} | {r['max_s']:5.2f} "
              f"| {target:>8s} | {met:^3s} |")
    print(f"\nmedian of {args.repeats} fresh processes each; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "repeats": args.repeats}, indent=2))


if __name__ == "__main__":
    main()
