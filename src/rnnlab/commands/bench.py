"""``rnnlab bench [--quick] [--json PATH] [--markdown PATH] [--plot PNG] [--device cpu|cuda]``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``bench``."""
    parser = sub.add_parser(
        "bench",
        help="time every cell and engine against torch.nn (same run, same machine)",
        description="Times one recurrent layer per cell variant and engine at (T, B, I, H) = "
        "(100, 64, 64, 128), (100, 64, 256, 256), (1000, 16, 1, 64), forward (inference) and "
        "forward+backward, with the torch.nn module of the same family timed in the same "
        "rounds (order shuffled per round). Prints the C++ kernels' warm-up (build or load, "
        "paid before timing), then median and min-max time per call, time per step, the code "
        "path that ran, ratio to torch.nn (median over pairs, 95 percent bootstrap CI) and its "
        "verdict against the noise floor of the same-kernel controls (torch.nn vs itself, "
        "native vs torch.nn), the GRU cells' time per FLOP against nn.LSTM, GFLOP/s, the "
        "fraction of this machine's peak FP32 GEMM rate (measured in the run), and peak "
        "memory. The JSON keeps every sample.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a subset (5 cells, fast engines, one size, 3 reps) that runs in under a minute "
        "(plus, the very first time on a machine, compiling the C++ kernels, reported apart)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    parser.add_argument(
        "--markdown",
        metavar="PATH",
        help="also write the report as Markdown (warm-up, table, and the curves with --plot)",
    )
    parser.add_argument(
        "--plot",
        metavar="PNG",
        help="also time forward+backward vs T, H and B at real sizes (a few minutes; "
        "with --quick, fewer points, about a minute) and draw them, log-log, in PNG",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument(
        "--reps", type=int, default=None, help="timed calls per case (default 5, quick 3)"
    )
    parser.add_argument(
        "--cells",
        default=None,
        help="comma-separated cell variants, e.g. lstm,gru+ln,lstm+rd0.25,gru+zo "
        "(default: every cell, plus lstm and gru with +ln, +rd and +zo)",
    )
    parser.add_argument(
        "--engines", default=None, help="comma-separated engines (default: every applicable one)"
    )
    parser.add_argument(
        "--sizes",
        default=None,
        help="comma-separated TxBxIxH, e.g. 100x64x64x128 (default: the three standard sizes)",
    )
    parser.add_argument(
        "--modes", default="forward,train", help="forward and/or train (default: both)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the shuffled order within rounds (default 0)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's own choice)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark (and the scaling curves) and print / write the report."""
    import torch
    from rich.console import Console

    from rnnlab import bench
    from rnnlab.errors import UserInputError
    from rnnlab.report.progress import RunProgress

    if args.threads is not None:
        if args.threads < 1:
            raise UserInputError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    reps = args.reps if args.reps is not None else (3 if args.quick else 5)
    if reps < 1:
        raise UserInputError(f"--reps must be at least 1, got {reps}")
    try:
        variants = bench.parse_variants(args.cells) if args.cells else None
        plan = bench.plan(
            quick=args.quick,
            variants=variants,
            sizes=bench.parse_sizes(args.sizes) if args.sizes else None,
            engines=args.engines.split(",") if args.engines else None,
            modes=args.modes.split(","),
        )
    except ValueError as err:
        raise UserInputError(str(err)) from err
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserInputError(
            "--device cuda: no CUDA device is available here (torch.cuda.is_available() is False)"
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    groups = {
        (size, mode): bench.group_flops(plan["variants"], size, mode, plan["engines"])
        for size in plan["sizes"]
        for mode in plan["modes"]
    }
    with RunProgress(console, phases=("timing",), unit="size/mode groups") as progress:
        # Groups differ in cost by orders of magnitude: the ETA weighs each by its FLOPs.
        progress.plan(len(groups), work=sum(groups.values()))
        progress.note("loading the C++ kernels first")
        seen: list[tuple] = []

        def on_result(r) -> None:
            # A group (size, mode) is done when the next one starts; the last when all are.
            if seen and seen[-1] != (r.size, r.mode):
                progress.finished(f"{seen[-1][0]} {seen[-1][1]}", work=groups[seen[-1]])
            if not seen or seen[-1] != (r.size, r.mode):
                seen.append((r.size, r.mode))
            progress.note(f"timed {r.variant} / {r.engine} at {r.size} {r.mode}")

        report = bench.run_benchmark(
            **plan, device=args.device, reps=reps, seed=args.seed, on_result=on_result
        )
        if seen:
            progress.finished(f"{seen[-1][0]} {seen[-1][1]}", work=groups[seen[-1]])
    if args.json:  # saved now, so interrupting the curves loses nothing of the table
        report.to_json(args.json)
    if args.plot:
        with console.status("timing scaling curves...") as status:
            curves, warmups = bench.scaling_curves(
                args.plot,
                device=args.device,
                reps=args.reps or (2 if args.quick else 3),
                sweeps=bench.QUICK_SWEEPS if args.quick else bench.SWEEPS,
                on_point=lambda p: status.update(f"timed {p.curve} at {p.size}"),
                seed=args.seed,
            )
        report.add_scaling(curves, warmups)
    bench.print_report(report, console)
    if args.json:
        report.to_json(args.json)
        console.print(f"wrote {args.json}")
    if args.markdown:
        markdown = bench.markdown_table(report, link_from=Path(args.markdown).parent)
        Path(args.markdown).write_text(markdown + "\n")
        console.print(f"wrote {args.markdown}")
    return 0
