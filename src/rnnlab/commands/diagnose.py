"""``rnnlab diagnose gradients|gates|horizon|cost``: look inside recurrent models."""

from __future__ import annotations

import argparse
from pathlib import Path

TASKS = ("adding", "copy")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``diagnose`` and its four subcommands."""
    parser = sub.add_parser(
        "diagnose",
        help="gradient flow, gate statistics, memory horizon and cost of recurrent cells",
        description="Diagnostics of recurrent models on the synthetic tasks (adding, copy "
        "memory). Each subcommand prints a summary and writes PNG plots to --out.",
    )
    kinds = parser.add_subparsers(dest="diagnostic", metavar="DIAGNOSTIC", required=True)

    def training_args(p: argparse.ArgumentParser, clip_default: str) -> None:
        p.add_argument("--model", default="lstm", help="lstm, gru, rnn, bilstm or tcn")
        p.add_argument("--task", choices=TASKS, default="adding")
        p.add_argument("--length", type=int, default=50, help="task length T (default 50)")
        p.add_argument("--hidden-size", type=int, default=32)
        p.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
        p.add_argument("--checkpoints", type=int, default=6, help="measurements over training")
        p.add_argument("--lr", type=float, default=1e-2)
        p.add_argument(
            "--clip",
            default=clip_default,
            help=f"gradient-norm clipping, or 'none' (default {clip_default})",
        )
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--out", default="./rnnlab-diagnose", help="directory for the PNGs")

    gradients = kinds.add_parser(
        "gradients",
        help="‖dL/dh_t‖ over t and training (heatmap), decay rate, step-Jacobian norms, "
        "explosion events",
    )
    training_args(gradients, "none")
    gradients.set_defaults(func=run_gradients)

    gates = kinds.add_parser("gates", help="mean activation and saturation of every gate")
    training_args(gates, "1.0")
    gates.set_defaults(func=run_gates)

    horizon = kinds.add_parser(
        "horizon", help="longest length solved within a step budget (bisection)"
    )
    horizon.add_argument("--model", default="lstm")
    horizon.add_argument("--task", choices=TASKS, default="copy")
    horizon.add_argument(
        "--lengths", default="5,10,20,40,80", help="increasing candidate lengths (comma-separated)"
    )
    horizon.add_argument("--hidden-size", type=int, default=32)
    horizon.add_argument("--steps", type=int, default=500, help="training steps per length")
    horizon.add_argument("--lr", type=float, default=1e-2)
    horizon.add_argument("--seed", type=int, default=0)
    horizon.set_defaults(func=run_horizon)

    cost = kinds.add_parser("cost", help="parameters, FLOPs per step and time per step per cell")
    cost.add_argument("--input-size", type=int, default=16)
    cost.add_argument("--hidden-size", type=int, default=64)
    cost.add_argument("--cells", default=None, help="comma-separated cells (default: all)")
    cost.add_argument("--engines", default=None, help="comma-separated engines (default: all)")
    cost.add_argument("--length", type=int, default=50)
    cost.add_argument("--batch-size", type=int, default=32)
    cost.add_argument("--repeats", type=int, default=5)
    cost.set_defaults(func=run_cost)


def _clip(text: str) -> float | None:
    from rnnlab.errors import UserInputError

    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError as err:
        raise UserInputError(f"--clip takes a positive number or 'none', got {text!r}") from err
    if value <= 0:
        raise UserInputError(f"--clip must be positive, got {value}")
    return value


def _train(args: argparse.Namespace):
    from rnnlab.diagnose.experiments import ENCODERS
    from rnnlab.diagnose.training import diagnose_training
    from rnnlab.errors import UserInputError
    from rnnlab.report.progress import step_progress

    if args.model not in ENCODERS:
        raise UserInputError(f"unknown model {args.model!r}; choose from {', '.join(ENCODERS)}")
    options = {"memory": 10, "encoding": "one-hot"} if args.task == "copy" else {}
    clip = _clip(args.clip)
    what = f"{args.model} on {args.task}: measuring at initialization, then training"
    with step_progress(what, args.steps) as advance:
        return diagnose_training(
            args.task,
            args.model,
            length=args.length,
            hidden_size=args.hidden_size,
            steps=args.steps,
            checkpoints=args.checkpoints,
            lr=args.lr,
            clip_norm=clip,
            seed=args.seed,
            task_options=options,
            on_step=advance,
        )


def _title(args: argparse.Namespace) -> str:
    return f"{args.model}, {args.task} T={args.length}, hidden {args.hidden_size}, lr {args.lr:g}"


def run_gradients(args: argparse.Namespace) -> int:
    """Train with measurements; print decay rates and explosion events; write the plots."""
    import numpy as np

    from rnnlab.diagnose.training import plot_grad_norms, plot_gradient_heatmap

    diag = _train(args)
    out = Path(args.out)
    title = _title(args)
    print(f"gradient flow, {title} (clip {args.clip}), status {diag.status}")
    print("step  decay/step  ‖dL/dh_1‖/‖dL/dh_T‖")
    for step, rate, row in zip(
        diag.checkpoint_steps, diag.decay_rates, diag.grad_flow, strict=True
    ):
        ratio = row[0] / row[-1] if row[-1] else float("nan")
        print(f"{step:>4}  {rate:10.4f}  {ratio:.3e}")
    for name, jac in (("init", diag.jacobian_init), ("final", diag.jacobian_final)):
        if jac is not None:
            print(
                f"step Jacobian spectral norm at {name}: mean {np.mean(jac):.3f}, "
                f"max {np.max(jac):.3f}"
            )
    e = diag.explosions
    print(
        f"gradient norm: median {e.median:.3g}, p99 {e.p99:.3g}, max {e.max:.3g}; "
        f"{e.events} steps over 10x the running median; "
        + (f"diverged at step {e.divergence_step + 1}" if e.diverged else "no divergence")
    )
    paths = [
        plot_gradient_heatmap(diag, out / "gradient-heatmap.png", title),
        plot_grad_norms(diag, out / "gradient-norms.png", title),
    ]
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def run_gates(args: argparse.Namespace) -> int:
    """Train with measurements; print gate statistics at init and end; write the plot."""
    from rnnlab.diagnose.training import plot_gates

    diag = _train(args)
    if not diag.gate_mean:
        print(f"{args.model} has no gates to measure")
        return 0
    print(f"gate statistics, {_title(args)}, status {diag.status}")
    print("gate  step  mean   saturated")
    for gate in diag.gate_mean:
        for row, step in ((0, diag.checkpoint_steps[0]), (-1, diag.checkpoint_steps[-1])):
            mean = diag.gate_mean[gate][row].mean()
            saturated = diag.gate_saturation[gate][row].mean()
            print(f"{gate:>4}  {step:>4}  {mean:.3f}  {saturated:.3f}")
    path = plot_gates(diag, Path(args.out) / "gates.png", _title(args))
    print(f"wrote {path}")
    return 0


def run_horizon(args: argparse.Namespace) -> int:
    """Bisection over the lengths; print what was tried and the horizon."""
    from rich.console import Console

    from rnnlab.diagnose.experiments import TASK_METRICS, memory_horizon
    from rnnlab.diagnose.horizon import most_trainings
    from rnnlab.errors import UserInputError
    from rnnlab.report.progress import RunProgress

    try:
        lengths = [int(part) for part in args.lengths.split(",")]
    except ValueError as err:
        raise UserInputError(
            f"--lengths takes integers like 5,10,20; got {args.lengths!r}"
        ) from err
    options = {"memory": 10, "encoding": "one-hot"} if args.task == "copy" else {}
    metric = TASK_METRICS[args.task][0] if args.task in TASK_METRICS else "metric"
    # bisection stops early when it can: the bar's total is the most trainings it may need
    with RunProgress(Console(stderr=True), phases=("bisecting",), unit="trainings") as bar:
        bar.plan(most_trainings(len(lengths)))
        bar.note(f"training T={lengths[(len(lengths) - 1) // 2]}, {args.steps} steps")

        def on_length(length: int, value: float, solved: bool) -> None:
            outcome = "solved" if solved else "not solved"
            bar.finished(f"T={length} {outcome} ({metric} {value:.4g})")

        try:
            horizon, tried = memory_horizon(
                args.task,
                args.model,
                lengths,
                hidden_size=args.hidden_size,
                steps=args.steps,
                lr=args.lr,
                seed=args.seed,
                task_options=options,
                on_length=on_length,
            )
        except ValueError as err:
            raise UserInputError(str(err)) from err
    metric, higher, solved = TASK_METRICS[args.task]
    rule = f"{metric} {'>=' if higher else '<='} {solved}"
    print(f"memory horizon of {args.model} on {args.task} ({args.steps} steps, solved: {rule})")
    for length, value in sorted(tried.items()):
        print(f"  T={length:<5} best validation {metric} {value:.4f}")
    print(f"horizon: {horizon}" if horizon else f"horizon: below {lengths[0]} (none solved)")
    return 0


def run_cost(args: argparse.Namespace) -> int:
    """Print the cost table of the cells."""
    from rich.console import Console
    from rich.table import Table

    from rnnlab.diagnose.cost import cost_table
    from rnnlab.errors import UserInputError

    def names(text: str | None) -> list[str] | None:
        return [n.strip() for n in text.split(",")] if text else None

    try:
        table = cost_table(
            args.input_size,
            args.hidden_size,
            cells=names(args.cells),
            engines=names(args.engines),
            length=args.length,
            batch_size=args.batch_size,
            repeats=args.repeats,
        )
    except ValueError as err:
        raise UserInputError(str(err)) from err
    shown = Table(
        title=f"cost per layer, input {args.input_size}, hidden {args.hidden_size} "
        f"(time: forward + backward per step, batch {args.batch_size}, T={args.length})"
    )
    for column in ("cell", "engine", "params", "FLOPs/step", "µs/step"):
        shown.add_column(column, justify="left" if column in ("cell", "engine") else "right")
    for row in table.itertuples():
        shown.add_row(
            row.cell,
            row.engine,
            f"{row.params:,}",
            f"{row.flops_per_step:,}",
            f"{row.us_per_step:.1f}",
        )
    Console().print(shown)
    print("parameter counts checked against the built modules")
    return 0
