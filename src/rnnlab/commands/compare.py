"""``rnnlab compare``: parameter-matched, multi-seed, equally tuned head-to-head comparisons."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from rnnlab.compare.cli_options import add_executor_arguments, ray_options
from rnnlab.compare.margins import MARGIN_HELP

DEFAULT_STORE = "./rnnlab-runs"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``compare``."""
    parser = sub.add_parser(
        "compare",
        help="compare recurrent models fairly: matched parameters, equal tuning, seeds, CIs",
        description="Run a suite (--suite) or one task (--task or --data) for several models, "
        "each parameter-matched to --params and tuned with the same budget, then report mean "
        "with a 95 % CI, Welch t-test and effect size. Results go to a store directory; re-running "
        "the same command skips finished runs and resumes interrupted ones.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--suite", help="quick, standard or paper")
    what.add_argument("--task", help="a task name (adding, copy, japanese-vowels, ...)")
    what.add_argument("--data", metavar="FILE", help="compare on your own CSV (with --kind)")
    parser.add_argument("--kind", choices=["forecast", "classify"], help="task kind of --data")
    parser.add_argument("--length", type=int, help="sequence length (adding, copy, ...)")
    parser.add_argument("--models", default="lstm,gru", help="comma-separated (default lstm,gru)")
    parser.add_argument(
        "--params", default="20k", help="parameter budget, e.g. 20k (default), or 'none'"
    )
    parser.add_argument(
        "--hidden-size", type=int, default=64, help="hidden size when --params none"
    )
    parser.add_argument(
        "--seeds",
        default="3",
        help="final runs per model (default 3), or 'auto': start with 3 and add 2 at a time "
        "where the verdict is still inconclusive, up to --max-seeds, with O'Brien-Fleming "
        "alpha spending so the repeated looks keep the error rate at 0.05",
    )
    parser.add_argument(
        "--max-seeds", type=int, default=10, help="most seeds per model with --seeds auto (10)"
    )
    parser.add_argument("--tune", type=int, default=0, help="tuning trials per model (default 0)")
    parser.add_argument("--tuner", choices=["grid", "optuna"], default="grid")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the task's)")
    parser.add_argument("--lr", type=float, help="default learning rate (default: the task's)")
    parser.add_argument("--batch-size", type=int, help="batch size (default: the task's)")
    parser.add_argument("--layers", type=int, default=1, help="recurrent layers (default 1)")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task option (e.g. limit=1000, window=48); with --data, loader options too "
        "(e.g. target=y, time_column=date)",
    )
    parser.add_argument(
        "--tz",
        default=None,
        metavar="ZONE",
        help="with --data --kind forecast: IANA time zone of times written as local clock "
        "times with daylight-saving time, e.g. Europe/Berlin (as fit forecast --tz)",
    )
    parser.add_argument(
        "--test",
        choices=["welch", "bootstrap"],
        default="welch",
        help="significance test of the verdicts (default welch: Welch, or a permutation test "
        "where its assumptions fail; bootstrap: always the permutation test)",
    )
    parser.add_argument("--margin", default=None, help=MARGIN_HELP)
    parser.add_argument(
        "--workers",
        default="auto",
        help="parallel run processes (default auto: one per core, at most 4)",
    )
    parser.add_argument(
        "--threads",
        default="auto",
        help="torch threads per run process (default auto: 1 when every model has under "
        "100k parameters, else cores/workers)",
    )
    parser.add_argument("--store", default=DEFAULT_STORE, help=f"store dir ({DEFAULT_STORE})")
    parser.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    parser.add_argument("--no-report", action="store_true", help="skip writing the report")
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="print the number of runs and an estimated wall time (from a few timed steps of "
        "each configuration) and train nothing",
    )
    add_executor_arguments(parser)
    parser.set_defaults(func=run)


def _value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _options(args: argparse.Namespace) -> dict[str, object]:
    from rnnlab.errors import UserInputError

    options: dict[str, object] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserInputError(f"--option must look like KEY=VALUE, got {item!r}")
        options[key.strip()] = _value(value.strip())
    if args.length is not None:
        options["length"] = args.length
    return options


def _seeds(args: argparse.Namespace) -> tuple[int, bool]:
    """(seeds of the first look or the fixed count, whether seeds are adaptive)."""
    from rnnlab.compare.adaptive import FIRST_LOOK
    from rnnlab.errors import UserInputError

    if args.seeds == "auto":
        return FIRST_LOOK, True
    try:
        return int(args.seeds), False
    except ValueError as err:
        raise UserInputError(f"--seeds must be an integer or 'auto', got {args.seeds!r}") from err


def _comparisons(args: argparse.Namespace) -> list:
    from rnnlab.compare.plan import Comparison, parse_budget
    from rnnlab.compare.suites import get_suite
    from rnnlab.compare.tasks import USER_TASKS, get_task
    from rnnlab.errors import UserInputError

    if args.tz is not None and not (args.data and args.kind == "forecast"):
        raise UserInputError("--tz applies to --data with --kind forecast")
    if args.suite:
        return get_suite(args.suite)
    options = _options(args)
    if args.data:
        if not args.kind:
            raise UserInputError("--data needs --kind forecast or --kind classify")
        path = Path(args.data).resolve()
        if not path.is_file():
            raise UserInputError(f"--data {args.data}: no such file")
        task = USER_TASKS[args.kind]
        known = set(get_task(task).options)
        loader = {k: v for k, v in options.items() if k not in known}
        if args.tz is not None:
            loader["timezone"] = args.tz
        options = {k: v for k, v in options.items() if k in known}
        options |= {
            "path": str(path),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "loader": loader,
        }
    else:
        task = get_task(args.task).name
    train = {
        key: value
        for key, value in (
            ("epochs", args.epochs),
            ("lr", args.lr),
            ("batch_size", args.batch_size),
        )
        if value is not None
    }
    budget = None if str(args.params).lower() == "none" else parse_budget(args.params)
    return [
        Comparison(
            task,
            [m.strip() for m in args.models.split(",") if m.strip()],
            options,
            budget=budget,
            hidden_size=args.hidden_size,
            seeds=_seeds(args)[0],
            tune=args.tune,
            tuner=args.tuner,
            train=train,
            num_layers=args.layers,
        )
    ]


def _store_baselines(store, comparisons: list, kind: str, console) -> None:
    # Baselines live in rnnlab.baselines (the user-data layer, right of compare), so the
    # command fetches them and the store keeps them for the report; computed once per file.
    from rnnlab.baselines.scoring import baseline_metrics
    from rnnlab.compare.tasks import get_task, load_user_data
    from rnnlab.errors import UserInputError

    for comparison in comparisons:
        options = {**get_task(comparison.task).options, **comparison.options}
        if store.baselines(comparison.task, options):
            continue
        console.print("scoring the baselines on the same test set")
        try:
            scores = baseline_metrics(load_user_data(kind, options), options)
        except UserInputError as err:
            console.print(f"no baselines: {err}")
            continue
        store.put_baselines(comparison.task, options, scores)


def _run_adaptive(comparisons: list, store_dir: str, design, run_all, margin) -> list[str]:
    """Run with ``--seeds auto``; one line per comparison on where it stopped and why."""
    from rnnlab.compare.adaptive import run_adaptive, stored_values
    from rnnlab.compare.store import Store

    store = Store.open(store_dir)
    try:
        outcomes = run_adaptive(
            comparisons, design, run_all, lambda plan: stored_values(plan, store), margin=margin
        )
    finally:
        store.close()
    lines = [
        f"sequential design: looks at {', '.join(map(str, design.looks))} seeds per model, "
        "O'Brien-Fleming alpha spending (overall alpha 0.05; docs/comparisons.md)"
    ]
    for o in outcomes:
        lines.append(
            f"{o.comparison.task}: stopped at {o.seeds} seeds (look {o.look + 1}, level "
            f"{o.level:.3g}): {o.verdict.text}"
        )
    return lines


def _estimate(comparisons: list, name: str, workers: int | None, design) -> str:
    """``--estimate``: the plan's cost; with adaptive seeds (``design``) its range."""
    from rnnlab.compare import estimate

    if design is None:
        return estimate.estimate_comparisons(comparisons, name=name, workers=workers).format()
    first, last = estimate.estimate_seed_range(
        comparisons, design.looks, name=name, workers=workers
    )
    return estimate.format_seed_range(first, last, design.looks)


def run(args: argparse.Namespace) -> int:
    """Plan, run into the store, print the summary table and write the report."""
    from rich.console import Console

    from rnnlab.commands import count_or_auto
    from rnnlab.compare.adaptive import SequentialDesign
    from rnnlab.compare.executor import parallelism
    from rnnlab.compare.margins import parse_margin
    from rnnlab.compare.plan import run_comparisons
    from rnnlab.compare.store import Store
    from rnnlab.report import build_report, print_summary, summarize
    from rnnlab.report.progress import RunProgress

    margin = parse_margin(args.margin)
    _, adaptive = _seeds(args)
    design = SequentialDesign.up_to(args.max_seeds) if adaptive else None
    sequential: list = []
    workers = count_or_auto("--workers", args.workers)
    threads = count_or_auto("--threads", args.threads)
    ray = ray_options(args)
    comparisons = _comparisons(args)
    if args.estimate:
        name = f"suite {args.suite}" if args.suite else "comparison"
        print(_estimate(comparisons, name, workers, design))
        return 0
    Store.check(args.store)  # refuse a foreign directory before any work, creating nothing
    console = Console(stderr=True)
    counts = {"ran": 0, "skipped": 0, "diverged": 0, "failed": 0}
    going = parallelism(workers, 1, largest_model=0)[0]
    with RunProgress(console, going, ("runs",), store=args.store) as progress:
        progress.note("loading data, matching budgets")

        def on_outcome(outcome) -> None:
            if outcome.outcome != "busy":
                counts["ran" if outcome.outcome == "ran" else "skipped"] += 1
                if outcome.status in ("diverged", "failed"):
                    counts[outcome.status] += 1
            progress.outcome(outcome)

        def run_all(todo: list) -> list:
            return run_comparisons(
                todo,
                args.store,
                workers=workers,
                threads=threads,
                retry_failed=args.retry_failed,
                on_outcome=on_outcome,
                on_plan=progress.plan,
                ray=ray,
            )

        if adaptive:
            sequential = _run_adaptive(comparisons, args.store, design, run_all, margin)
        else:
            run_all(comparisons)
    console.print(
        f"{counts['ran']} runs trained, {counts['skipped']} already in the store; "
        f"{counts['diverged']} diverged, {counts['failed']} failed"
    )
    store = Store.open(args.store)
    if args.data:
        _store_baselines(store, comparisons, args.kind, console)
    groups = summarize(store.rows(), method=args.test, baselines=store.baselines, margin=margin)
    store.close()
    print_summary(groups)
    for line in sequential:
        print(line)
    if not args.no_report:
        files = build_report(args.store, method=args.test, margin=margin)
        console.print(f"report: {files.markdown} and {files.html}")
    return 0
