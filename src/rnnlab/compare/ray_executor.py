"""Run units as Ray tasks on a cluster; this process (the driver) is the only store writer.

The driver claims each unit in ``results.db`` exactly as the local executor does, hands the
run's config and seed to a Ray task (``num_cpus`` = torch threads, ``num_gpus`` =
``gpus_per_run``, retried by Ray when its worker or node dies) and records the small result the
task returns. So ``rnnlab report`` can read the store while a cluster run goes on, a killed
driver's rows are resumed by the next invocation, and a run lost for good (retries exhausted)
is ``failed`` with Ray's reason. Every wait on Ray has a time-out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rnnlab.compare.executor import BUSY, RAN, SKIPPED, UnitOutcome, run_guarded
from rnnlab.compare.store import HEARTBEAT_SECONDS, Store
from rnnlab.compare.units import RunConfig, RunFn, RunResult, RunUnit, versions
from rnnlab.errors import UserInputError

RAY_EXTRA = 'pip install "rnnlab[ray]"'
CHECKED_VERSIONS = ("rnnlab", "torch", "python")
"""Versions that must agree between the driver and every worker (a run's numbers depend on
them, and the driver unpickles what workers return)."""


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray.

    Attributes:
        address: ``HOST:PORT`` of a running cluster's head, ``auto`` (the cluster this machine
            belongs to), or None to start a local Ray instance for this command.
        gpus_per_run: GPUs each run reserves (0.25 packs four runs on a GPU; 0: CPU only).
        checkpoints: shared directory for run checkpoints (every node must see it), so a
            retried run resumes where it stopped. None: the store's checkpoint directory
            with a local instance (same machine), no checkpoints on a cluster (a retry
            restarts the run, with the same result).
        max_retries: times Ray reruns a task whose worker or node died.
        poll_seconds: how often the driver wakes up while waiting.
        connect_timeout_s: how long connecting to the cluster and checking its nodes may take.
        stall_timeout_s: how long the driver waits while no live node can run a task (all
            workers gone, say) before it gives up; unfinished rows resume on the next run.
    """

    address: str | None = None
    gpus_per_run: float = 0.0
    checkpoints: str | None = None
    max_retries: int = 3
    poll_seconds: float = 1.0
    connect_timeout_s: float = 120.0
    stall_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if self.gpus_per_run < 0 or self.max_retries < 0:
            raise UserInputError(
                f"--gpus-per-run and --max-retries must be 0 or more, got "
                f"{self.gpus_per_run} and {self.max_retries}"
            )


def import_ray() -> Any:
    """The ``ray`` module, or :class:`UserInputError` naming the extra to install."""
    try:
        import ray
    except ImportError as err:
        raise UserInputError(f"--executor ray needs Ray; install it with {RAY_EXTRA}") from err
    return ray


def check_versions(driver: dict[str, Any], worker: dict[str, Any]) -> None:
    """Refuse (``UserInputError``) a worker whose rnnlab, torch or Python differs from the
    driver's, naming the worker's host and each difference."""
    differ = [
        f"{name} {worker.get(name)} (driver: {driver.get(name)})"
        for name in CHECKED_VERSIONS
        if worker.get(name) != driver.get(name)
    ]
    if differ:
        raise UserInputError(
            f"the Ray worker on {worker.get('host', '?')} runs {', '.join(differ)}; install "
            "the same rnnlab, torch and Python on every node"
        )


def _task(
    run_fn: RunFn,
    config: dict[str, Any],
    seed: int,
    phase: str,
    checkpoint: str | None,
    threads: int,
) -> dict[str, Any]:
    # The body of every Ray task: one run, returned as plain data with the worker's versions.
    import torch

    torch.set_num_threads(threads)
    unit = RunUnit(RunConfig.from_dict(config), seed, phase)  # type: ignore[arg-type]
    result = run_guarded(run_fn, unit, Path(checkpoint) if checkpoint else None)
    return {"result": asdict(result), "versions": versions()}


def _probe() -> dict[str, Any]:
    return versions()


class RayExecutor:
    """The :class:`rnnlab.compare.executor.Executor` interface on Ray (see the module doc)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        run_fn: RunFn,
        *,
        options: RayOptions,
        threads: int = 1,
        retry_failed: bool = False,
        on_outcome: Callable[[UnitOutcome], None] | None = None,
    ) -> None:
        ray = import_ray()
        self._ray, self._options, self._run_fn = ray, options, run_fn
        self._threads, self._retry_failed, self._on_outcome = threads, retry_failed, on_outcome
        self._started = False
        if not ray.is_initialized():
            self._connect()
        self._driver = versions()
        self._remote = ray.remote(_task)
        self._inflight: dict[Any, RunUnit] = {}  # task reference -> its unit
        self._duplicates: dict[str, list[RunUnit]] = {}  # key in flight -> more units of it
        self._busy: list[RunUnit] = []
        self._ready: list[UnitOutcome] = []
        self._busy_checked = self._beaten = time.monotonic()
        self._stalled_since: float | None = None
        try:
            self._check_nodes()
            self._store = Store.open(root)  # only once the cluster is fit to run
        except BaseException:
            self.close()
            raise

    # -- setting up ----------------------------------------------------------------------
    def _connect(self) -> None:
        ray, address = self._ray, self._options.address
        kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": "ERROR"}
        if address is None:  # "local": a new instance, even if a cluster runs on this machine
            kwargs["include_dashboard"] = False
        try:
            ray.init(address=address or "local", **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = address or "a local instance"
            raise UserInputError(f"could not start or reach Ray at {where}: {err}") from err
        self._started = True

    def _check_nodes(self) -> None:
        # One zero-CPU probe per live node: every node must run our versions, and some node
        # must be able to hold one run (else its tasks would wait forever).
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = [node for node in ray.nodes() if node["Alive"]]
        if not any(self._fits(node["Resources"]) for node in nodes):
            raise UserInputError(
                f"no node of the Ray cluster has {self._threads} CPU(s) and "
                f"{self._options.gpus_per_run} GPU(s) free for one run; lower --threads or "
                "--gpus-per-run, or add nodes"
            )
        probe = ray.remote(_probe)
        refs = [
            probe.options(
                num_cpus=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
            ).remote()
            for node in nodes
        ]
        try:
            found = ray.get(refs, timeout=self._options.connect_timeout_s)
        except ray.exceptions.GetTimeoutError as err:
            raise UserInputError(
                f"the Ray nodes did not answer within {self._options.connect_timeout_s:.0f} s"
            ) from err
        for worker in found:
            check_versions(self._driver, worker)

    def _fits(self, resources: dict[str, float]) -> bool:
        return (
            resources.get("CPU", 0) >= self._threads
            and resources.get("GPU", 0) >= self._options.gpus_per_run
        )

    # -- the Executor interface -------------------------------------------------------------
    def submit(self, units: Sequence[RunUnit]) -> None:
        """Claim each unit in the store and start a Ray task for the ones that are ours."""
        for unit in units:
            self._claim(unit)

    def _claim(self, unit: RunUnit) -> None:
        if unit.key in self._duplicates:  # already in flight here: report it when that ends
            self._duplicates[unit.key].append(unit)
            return
        claim = self._store.claim(
            unit.key,
            phase=unit.phase,
            seed=unit.seed,
            task=unit.config.task,
            model=unit.config.model,
            config=unit.config.to_dict(),
            retry_failed=self._retry_failed,
        )
        if claim == "finished":
            self._ready.append(UnitOutcome(unit, SKIPPED, self._store.get(unit.key).status))
        elif claim == "busy":  # another owner's lease is fresh: look again later
            self._busy.append(unit)
            self._report(UnitOutcome(unit, BUSY))
        else:
            self._start(unit)

    def _start(self, unit: RunUnit) -> None:
        options = self._options
        # absolute: a Ray worker's working directory is not the driver's
        if options.checkpoints is not None:
            checkpoint: str | None = str(Path(options.checkpoints).absolute() / unit.key)
        elif options.address is None:
            checkpoint = str(self._store.checkpoint_dir(unit.key).absolute())
        else:
            checkpoint = None
        ref = self._remote.options(
            num_cpus=self._threads,
            num_gpus=options.gpus_per_run,
            max_retries=options.max_retries,
            name=f"rnnlab {unit.config.task} {unit.config.model} {unit.phase} seed {unit.seed}",
        ).remote(
            self._run_fn, unit.config.to_dict(), unit.seed, unit.phase, checkpoint, self._threads
        )
        self._inflight[ref] = unit
        self._duplicates[unit.key] = []

    def wait(self) -> list[UnitOutcome]:
        """Block (waking every ``poll_seconds``) until some submitted unit is finished; the
        outcomes of all that are. Raises :class:`UserInputError` when no live node has been
        able to run a task for ``stall_timeout_s``, or a worker's versions differ."""
        if not (self._ready or self._inflight or self._busy):
            raise RuntimeError("wait() with nothing submitted")
        ray = self._ray
        while not self._ready:
            if self._inflight:
                refs = list(self._inflight)
                first, _ = ray.wait(refs, num_returns=1, timeout=self._options.poll_seconds)
                done = ray.wait(refs, num_returns=len(refs), timeout=0)[0] if first else []
                for ref in done:
                    self._finish(ref)
            else:
                time.sleep(self._options.poll_seconds)
            self._keep_leases()
            self._recheck_busy()
            if not self._ready:
                self._check_stall()
        ready, self._ready = self._ready, []
        for outcome in ready:
            self._report(outcome)
        return ready

    def _finish(self, ref: Any) -> None:
        ray = self._ray
        unit = self._inflight.pop(ref)
        worker: dict[str, Any] = {}
        try:
            payload = ray.get(ref, timeout=self._options.connect_timeout_s)
        except ray.exceptions.RayTaskError as err:
            if isinstance(err.cause, UserInputError):  # the row stays running: resumable
                raise UserInputError(str(err.cause)) from None
            result = RunResult(status="failed", error=f"Ray task error: {err}")
        except ray.exceptions.RayError as err:  # worker/node lost beyond max_retries, OOM...
            result = RunResult(
                status="failed",
                error=f"Ray gave up on this run ({self._options.max_retries} retries): "
                f"{type(err).__name__}: {err}",
            )
        else:
            worker = payload["versions"]
            check_versions(self._driver, worker)
            result = RunResult(**payload["result"])
        self._store.finish(
            unit.key,
            status=result.status,
            metrics=result.metrics,
            curves=result.curves,
            cost=result.cost,
            versions=worker,
            error=result.error,
        )
        self._ready.append(UnitOutcome(unit, RAN, result.status))
        for twin in self._duplicates.pop(unit.key):
            self._ready.append(UnitOutcome(twin, SKIPPED, result.status))

    def _keep_leases(self) -> None:
        # The driver owns every row in flight: it keeps their leases while Ray runs them.
        now = time.monotonic()
        if self._inflight and now - self._beaten >= HEARTBEAT_SECONDS:
            self._store.touch([unit.key for unit in self._inflight.values()])
            self._beaten = now

    def _recheck_busy(self) -> None:
        now = time.monotonic()
        if not self._busy or now - self._busy_checked < 5 * self._options.poll_seconds:
            return
        self._busy_checked = now
        busy, self._busy = self._busy, []
        for unit in busy:
            self._claim(unit)

    def _check_stall(self) -> None:
        # Tasks that no live node can hold would wait forever: give up after a while.
        if not self._inflight:
            return
        alive = [node["Resources"] for node in self._ray.nodes() if node["Alive"]]
        if any(self._fits(resources) for resources in alive):
            self._stalled_since = None
            return
        now = time.monotonic()
        self._stalled_since = self._stalled_since or now
        if now - self._stalled_since > self._options.stall_timeout_s:
            raise UserInputError(
                f"for {self._options.stall_timeout_s:.0f} s no live Ray node could run a task "
                f"({self._threads} CPU(s), {self._options.gpus_per_run} GPU(s)); "
                f"{len(self._inflight)} runs are unfinished: add nodes and run the same "
                "command again to resume them"
            )

    def _report(self, outcome: UnitOutcome) -> None:
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    def close(self) -> None:
        """Cancel the tasks still running (their rows resume on the next invocation), close
        the store and, if this executor started Ray, stop it."""
        ray = self._ray
        for ref in self._inflight:
            ray.cancel(ref, force=True)
        self._inflight.clear()
        store = getattr(self, "_store", None)
        if store is not None:
            store.close()
        if self._started:
            ray.shutdown()
            self._started = False
