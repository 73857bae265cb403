"""``rnnlab claims --budget quick|standard [--store DIR]``: measure the nine LSTM/GRU claims."""

from __future__ import annotations

import argparse

from rnnlab.compare.cli_options import add_executor_arguments, ray_options
from rnnlab.compare.margins import MARGIN_HELP


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``claims``."""
    parser = sub.add_parser(
        "claims",
        help="run the nine LSTM/GRU claims as experiments and print their verdicts",
        description="Each claim is an experiment (tasks, models, parameter budget, seeds) run "
        "into a results store; its verdict (supported, refuted, equivalent within ±margin, "
        "depends on the task, inconclusive) is computed from those runs with 95 % CIs, "
        "Welch or permutation tests, TOST equivalence at each metric's margin and Holm's "
        "adjustment within each claim (docs/claims.md). Re-running the same command skips "
        "finished runs. Writes claims.md and claims.html into the store.",
    )
    parser.add_argument(
        "--budget",
        choices=["quick", "standard"],
        default="quick",
        help="quick: minutes on 2 CPU cores, small lengths, 3 seeds; standard: the real "
        "study (hours on CPU, meant for a GPU)",
    )
    parser.add_argument(
        "--store", default="./rnnlab-claims", help="results directory (default ./rnnlab-claims)"
    )
    parser.add_argument(
        "--claims", default=None, help="comma-separated claim numbers to run (default: all 9)"
    )
    parser.add_argument(
        "--workers",
        default="auto",
        help="runs in parallel, each in its own process (default auto: one per core, at most 4)",
    )
    parser.add_argument(
        "--threads",
        default="auto",
        help="torch threads per run (default auto: 1, as the claims models are tiny and more "
        "threads than free cores slow them down many times over)",
    )
    parser.add_argument("--margin", default=None, help=MARGIN_HELP)
    parser.add_argument(
        "--seeds",
        choices=["auto"],
        default=None,
        help="auto: start with the budget's seeds and add 2 at a time to claims with an "
        "inconclusive split, up to --max-seeds, with O'Brien-Fleming alpha spending "
        "(default: the budget's seeds)",
    )
    parser.add_argument(
        "--max-seeds", type=int, default=10, help="most seeds per arm with --seeds auto (10)"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="judge and write the page from the store without running anything",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="print the number of runs and an estimated wall time (from a few timed steps of "
        "each run configuration) and run nothing",
    )
    add_executor_arguments(parser)
    parser.set_defaults(func=run)


def _claim_numbers(text: str | None) -> list[int] | None:
    from rnnlab.errors import UserInputError

    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise UserInputError(f"--claims takes numbers like 1,3,8; got {text!r}") from err


def run(args: argparse.Namespace) -> int:
    """Run (or resume) the study, write the page, print the verdict table."""
    from rich.console import Console
    from rich.table import Table

    from rnnlab.commands import count_or_auto
    from rnnlab.compare.executor import parallelism
    from rnnlab.compare.margins import parse_margin
    from rnnlab.diagnose.claims import CLAIMS
    from rnnlab.diagnose.study import get_budget, load_claims, run_claims
    from rnnlab.errors import UserInputError
    from rnnlab.report.claims_page import VERDICT_STYLES, verdict_class, write_claims_report
    from rnnlab.report.progress import RunProgress

    workers = count_or_auto("--workers", args.workers)
    threads = count_or_auto("--threads", args.threads)
    claims = _claim_numbers(args.claims)
    if claims is not None and (unknown := sorted(set(claims) - set(CLAIMS))):
        raise UserInputError(f"claims are numbered 1 to 9, got {unknown}")
    get_budget(args.budget)
    ray = ray_options(args)
    margin = parse_margin(args.margin)
    max_seeds = args.max_seeds if args.seeds == "auto" else None
    if args.estimate:
        from rnnlab.diagnose.estimate import estimate_claims, estimate_claims_range

        if max_seeds is None:
            print(estimate_claims(args.budget, workers=workers, claims=claims).format())
            return 0
        from rnnlab.compare.adaptive import SequentialDesign
        from rnnlab.compare.estimate import format_seed_range

        looks = SequentialDesign.up_to(max_seeds, first=get_budget(args.budget).seeds).looks
        first, last = estimate_claims_range(args.budget, looks, workers=workers, claims=claims)
        print(format_seed_range(first, last, looks))
        return 0
    console = Console(stderr=True)
    if args.report_only:
        result = load_claims(args.budget, args.store, claims, margin, max_seeds)
    else:
        going = parallelism(workers, 1, largest_model=0)[0]  # processes the bar shows
        with RunProgress(console, going, ("claims runs",), store=args.store) as progress:
            result = run_claims(
                args.budget,
                args.store,
                workers=workers,
                threads=threads,
                claims=claims,
                on_outcome=progress.outcome,
                on_plan=progress.plan,
                ray=ray,
                margin=margin,
                max_seeds=max_seeds,
            )
    paths = write_claims_report(result, args.store)
    table = Table(title=f"Claims, budget {args.budget}")
    table.add_column("#")
    table.add_column("claim", overflow="fold")
    table.add_column("verdict", overflow="fold")
    for verdict in result.verdicts:
        style = VERDICT_STYLES[verdict_class(verdict.kind)][0]
        table.add_row(
            str(verdict.claim), CLAIMS[verdict.claim].statement, verdict.text, style=style
        )
    Console().print(table)
    if result.wall_time_s is not None:
        print(f"wall time: {result.wall_time_s / 60:.1f} min")
    print(f"report: {paths['markdown']} and {paths['html']}")
    return 0
