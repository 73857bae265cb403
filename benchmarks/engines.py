"""Full engine benchmark on this machine: table (JSON + Markdown) and scaling curves (PNG).

Usage: ``python benchmarks/engines.py OUT_DIR [--quick] [--device cuda]``. Same library as
``rnnlab bench``; this script also writes ``OUT_DIR/bench.md`` for docs/performance.md.
Re-render a saved run with ``python benchmarks/engines.py OUT_DIR --render``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnlab import bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--render", action="store_true", help="only re-render OUT_DIR/bench.json")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.out_dir / "bench.json"
    if args.render:
        report = bench.load_report(json_path)
    else:
        report = bench.run_benchmark(
            **bench.plan(quick=args.quick), device=args.device, reps=args.reps
        )
        report.to_json(json_path)
        bench.scaling_curves(args.out_dir / "scaling.png", device=args.device)
    (args.out_dir / "bench.md").write_text(bench.markdown_table(report) + "\n")
    print(bench.markdown_table(report))


if __name__ == "__main__":
    main()
