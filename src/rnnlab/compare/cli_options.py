"""Executor arguments shared by ``rnnlab compare`` and ``rnnlab claims``.

Lives here, not in :mod:`rnnlab.commands`, whose every module must be a command.
"""

from __future__ import annotations

import argparse

from rnnlab.compare.ray_executor import RayOptions, import_ray
from rnnlab.errors import UserInputError


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor``, ``--address``, ``--gpus-per-run``, ``--checkpoints``, ``--max-retries``."""
    group = parser.add_argument_group("running on a Ray cluster (see docs/cluster.md)")
    group.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: processes on this machine (default); ray: one Ray task per run "
        '(needs pip install "rnnlab[ray]")',
    )
    group.add_argument(
        "--address",
        help="with --executor ray: HOST:PORT of the cluster's head, or auto (default: start "
        "a local Ray instance)",
    )
    group.add_argument(
        "--gpus-per-run",
        type=float,
        default=0.0,
        help="with --executor ray: GPUs each run reserves, e.g. 0.25 packs four runs on a GPU "
        "(default 0: CPU)",
    )
    group.add_argument(
        "--checkpoints",
        metavar="DIR",
        help="with --executor ray: checkpoint directory every node can reach (shared storage), "
        "so a retried run resumes; without it a retry on a cluster restarts the run",
    )
    group.add_argument(
        "--max-retries",
        type=int,
        default=3,
        help="with --executor ray: reruns of a run whose worker or node died (default 3)",
    )


def ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The :class:`RayOptions` of ``--executor ray``, or None for the local executor."""
    ray_only = {
        "--address": args.address is not None,
        "--gpus-per-run": args.gpus_per_run != 0.0,
        "--checkpoints": args.checkpoints is not None,
        "--max-retries": args.max_retries != 3,
    }
    if args.executor == "local":
        given = [flag for flag, used in ray_only.items() if used]
        if given:
            raise UserInputError(f"{', '.join(given)} need --executor ray")
        return None
    import_ray()  # a missing extra is named before any planning
    return RayOptions(
        address=args.address,
        gpus_per_run=args.gpus_per_run,
        checkpoints=args.checkpoints,
        max_retries=args.max_retries,
    )
