"""Wall time and memory of ``rnnlab compare`` under ``--executor local`` and ``--executor ray``.

Runs the same comparison command once per executor, back to back, each into a fresh store, and
samples the memory of the command's whole process tree (the driver, its pool workers or its
Ray processes: GCS, raylet, workers) once a second from ``/proc``: the peak of the summed
proportional set size (PSS, so pages shared between processes count once). Linux only.

Usage: ``python benchmarks/executors.py --suite quick [--order ray,local] [--json F]``; any other
arguments go to ``rnnlab compare`` unchanged (e.g. ``--task adding --seeds 2``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def tree_pss_mib(root: int) -> float:
    """Summed PSS of ``root`` and all its descendants, in MiB."""
    tree, todo, total = _children(), [root], 0
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass  # ended meanwhile
    return total / 1024


def measure(command: list[str], timeout: float) -> dict[str, float | int]:
    """Run ``command``; its wall time, exit code and peak tree PSS."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, tree_pss_mib(process.pid))
        if time.perf_counter() - start > timeout:
            process.kill()
            process.wait()
            raise SystemExit(f"{' '.join(command)} ran past {timeout:.0f} s")
        time.sleep(1.0)
    wall = time.perf_counter() - start
    if process.returncode:
        sys.stderr.write(process.stderr.read().decode()[-2000:])
    return {"wall_s": round(wall, 1), "peak_pss_mib": round(peak, 1), "rc": process.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1500.0, help="per command, seconds")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument(
        "--order", default="local,ray", help="which executor runs first (load drifts; swap it)"
    )
    args, compare = parser.parse_known_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for executor in args.order.split(","):
            command = [sys.executable, "-m", "rnnlab.cli", "compare", *compare]
            command += ["--executor", executor, "--store", os.path.join(tmp, executor)]
            command += ["--no-report"]
            results[executor] = measure(command, args.timeout)
            print(executor, results[executor], flush=True)
    local, ray = results["local"], results["ray"]
    results["ray_over_local"] = {
        "wall": round(ray["wall_s"] / local["wall_s"], 3),
        "peak_pss": round(ray["peak_pss_mib"] / local["peak_pss_mib"], 3),
    }
    print("ray / local:", results["ray_over_local"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
