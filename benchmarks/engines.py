"""Full engine benchmark on this machine: one report as JSON, Markdown and a scaling PNG.

Usage: ``python benchmarks/engines.py OUT_DIR [--quick] [--device cuda] [--threads N]``.
Same library as ``rnnlab bench``. Writes, in one go, ``OUT_DIR/bench.json`` (every row, the
C++ kernels' warm-up and the scaling points), ``OUT_DIR/scaling.png`` (time vs T, H and B,
forward+backward, log-log) and ``OUT_DIR/bench.md`` (warm-up, table, the PNG and its points,
for docs/performance.md). ``--render`` redraws the Markdown and PNG of a saved run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from rnnlab import bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--quick", action="store_true", help="the quick table and curves")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--no-plot", action="store_true", help="skip the scaling curves")
    parser.add_argument("--render", action="store_true", help="only re-render OUT_DIR/bench.json")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.out_dir / "bench.json"
    if args.render:
        report = bench.load_report(json_path)
        if report.scaling:  # the PNG beside the JSON, wherever the run was first written
            report.scaling.png = str(args.out_dir / "scaling.png")
            bench.draw_scaling(report.scaling)
    else:
        if args.threads:
            torch.set_num_threads(args.threads)
        report = bench.run_benchmark(
            **bench.plan(quick=args.quick),
            device=args.device,
            reps=args.reps,
            on_result=lambda r: print(f"timed {r.variant} / {r.engine} at {r.size} {r.mode}"),
        )
        report.to_json(json_path)  # saved before the curves, so they cannot lose the table
        if not args.no_plot:
            curves, warmups = bench.scaling_curves(
                args.out_dir / "scaling.png",
                device=args.device,
                reps=2 if args.quick else 3,
                sweeps=bench.QUICK_SWEEPS if args.quick else bench.SWEEPS,
                on_point=lambda p: print(f"timed {p.curve} at {p.size}"),
            )
            report.add_scaling(curves, warmups)
            report.to_json(json_path)
    markdown = bench.markdown_table(report, link_from=args.out_dir)
    (args.out_dir / "bench.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
