"""Diagnostics along one training run: gradient flow and gate statistics at checkpoints,
the per-step gradient norm (explosion events), and plots of all three.

The run uses :class:`rnnlab.train.Trainer` with an ``on_step`` hook; measurements at a
checkpoint use ``torch.autograd.grad`` on a fixed probe batch, so they never touch the
parameters' gradients and never change the training trajectory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rnnlab.diagnose.explosions import ExplosionSummary, explosion_events
from rnnlab.diagnose.gates import gate_statistics
from rnnlab.diagnose.gradients import decay_rate, gradient_flow, step_jacobian_norms
from rnnlab.train.config import TrainConfig
from rnnlab.train.seeding import seed_everything
from rnnlab.train.trainer import StepInfo, Trainer


@dataclass
class TrainingDiagnostics:
    """What :func:`diagnose_training` measured.

    Attributes:
        checkpoint_steps: training steps of the checkpoints (0 = initialization).
        grad_flow: (checkpoints, T) norms of ∂L/∂h_t (NaN rows for models without a state).
        decay_rates: (checkpoints,) per-step decay rate fitted to each row.
        gate_mean, gate_saturation: gate -> (checkpoints, T) arrays.
        jacobian_init, jacobian_final: (T, B) spectral norms of ∂s_t/∂s_{t-1} on a few
            sequences, at initialization and at the end.
        grad_norms: (steps,) global gradient norm of every step, before clipping.
        explosions: the explosion summary of ``grad_norms``.
        status: the trainer's status (``done`` or ``diverged``).
    """

    checkpoint_steps: list[int] = field(default_factory=list)
    grad_flow: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    decay_rates: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gate_mean: dict[str, np.ndarray] = field(default_factory=dict)
    gate_saturation: dict[str, np.ndarray] = field(default_factory=dict)
    jacobian_init: np.ndarray | None = None
    jacobian_final: np.ndarray | None = None
    grad_norms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    explosions: ExplosionSummary | None = None
    status: str = "done"


def diagnose_training(
    task_name: str,
    arm: str,
    *,
    length: int,
    hidden_size: int,
    steps: int = 300,
    checkpoints: int = 6,
    batch_size: int = 32,
    lr: float = 1e-2,
    clip_norm: float | None = None,
    seed: int = 0,
    task_options: dict | None = None,
    encoder_options: dict | None = None,
    probe_size: int = 32,
    jacobian_samples: int = 2,
    on_step: Callable[[int], None] | None = None,
) -> TrainingDiagnostics:
    """Train ``arm`` (lstm, gru, rnn, ...) on a synthetic task, measuring along the way.

    ``checkpoints`` measurements are spread evenly over ``steps`` (plus one at
    initialization). Without ``clip_norm`` (the default) the run shows raw explosions.
    ``on_step(step)`` is told each finished training step (for a progress bar).
    """
    from rnnlab.diagnose.experiments import build_model, build_task

    if steps < 1 or checkpoints < 1:
        raise ValueError(f"steps and checkpoints must be >= 1, got {steps} and {checkpoints}")
    task = build_task(task_name, length, task_options or {}, seed, probe_size)
    seed_everything(seed)
    model = build_model(task, arm, hidden_size, encoder_options or {})
    probe = task.validation_set().select(slice(probe_size))
    when = sorted({round(steps * (k + 1) / checkpoints) for k in range(checkpoints)})
    out = TrainingDiagnostics()
    recurrent = getattr(model.encoder, "recurrent", False) and model.encoder.num_directions == 1
    flows, gates = [], []

    def measure(step: int) -> None:
        out.checkpoint_steps.append(step)
        flows.append(gradient_flow(model, probe) if recurrent else np.full(1, np.nan))
        gates.append(gate_statistics(model, probe) if recurrent else {})

    jacobian_x = probe.x[:jacobian_samples]
    if recurrent:
        out.jacobian_init = _jacobian(model, jacobian_x)
    measure(0)

    def step_done(info: StepInfo) -> None:
        out.grad_norms = np.append(out.grad_norms, info.grad_norm)
        if info.step in when:
            measure(info.step)
        if on_step is not None:
            on_step(info.step)

    config = TrainConfig(
        epochs=1,
        steps_per_epoch=steps,
        lr=lr,
        clip_norm=clip_norm,
        seed=seed,
        device="cpu",
        progress=False,
        restore_best=False,
        # The CPU kernels these small models use are deterministic already; switching torch's
        # deterministic mode on costs an import of torch._inductor (seconds) per process.
        deterministic=False,
    )
    result = Trainer(model, config, on_step=step_done).fit(
        lambda epoch, generator: (task.batch(batch_size, generator) for _ in range(steps))
    )
    out.status = result.status
    if recurrent and result.status == "done":
        out.jacobian_final = _jacobian(model, jacobian_x)
    out.grad_flow = np.vstack(flows)
    out.decay_rates = np.array([decay_rate(row) for row in out.grad_flow])
    for gate in gates[0]:
        out.gate_mean[gate] = np.vstack([g[gate]["mean"] for g in gates])
        out.gate_saturation[gate] = np.vstack([g[gate]["saturation"] for g in gates])
    out.explosions = explosion_events(out.grad_norms)
    return out


def _jacobian(model, x) -> np.ndarray:
    rnn = model.encoder.layer
    with_inputs = model.inputs(x)
    return step_jacobian_norms(rnn, with_inputs.detach())


def plot_gradient_heatmap(diag: TrainingDiagnostics, path: str | Path, title: str = "") -> Path:
    """t × training-step heatmap of log10 ‖∂L/∂h_t‖ (PNG)."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    with np.errstate(divide="ignore"):
        image = ax.imshow(
            np.log10(diag.grad_flow),
            aspect="auto",
            origin="lower",
            cmap="viridis",
            interpolation="nearest",
        )
    ax.set_yticks(range(len(diag.checkpoint_steps)), [str(s) for s in diag.checkpoint_steps])
    ax.set_ylabel("training step")
    ax.set_xlabel("time step t (loss at the end)")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.colorbar(image, ax=ax, label="log10 ‖∂L/∂h_t‖")
    ax.set_title(title or "gradient flow through time", fontsize=10)
    return _save(fig, path)


def plot_gates(diag: TrainingDiagnostics, path: str | Path, title: str = "") -> Path:
    """Mean activation and saturation fraction of each gate over training (PNG)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for gate in diag.gate_mean:
        axes[0].plot(
            diag.checkpoint_steps, diag.gate_mean[gate].mean(axis=1), marker="o", label=gate
        )
        axes[1].plot(
            diag.checkpoint_steps, diag.gate_saturation[gate].mean(axis=1), marker="o", label=gate
        )
    axes[0].set_ylabel("mean activation")
    axes[1].set_ylabel("saturated fraction (<0.05 or >0.95)")
    for ax in axes:
        ax.set_xlabel("training step")
        ax.legend(fontsize=8)
    fig.suptitle(title or "gate statistics over training", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_grad_norms(diag: TrainingDiagnostics, path: str | Path, title: str = "") -> Path:
    """Per-step global gradient norm with explosion events marked, and its histogram (PNG)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    norms = diag.grad_norms
    axes[0].semilogy(np.arange(1, norms.size + 1), norms, lw=0.8)
    if diag.explosions is not None and diag.explosions.event_steps:
        events = np.asarray(diag.explosions.event_steps)
        axes[0].scatter(
            events + 1, norms[events], color="#D55E00", s=12, label="> 10× running median"
        )
        axes[0].legend(fontsize=9)
    else:
        axes[0].set_title("no explosion events (norm > 10× running median)", fontsize=10)
    axes[0].set_xlabel("training step")
    axes[0].set_ylabel("global gradient norm")
    finite = norms[np.isfinite(norms) & (norms > 0)]
    if finite.size:
        axes[1].hist(np.log10(finite), bins=40)
    axes[1].set_xlabel("log10 gradient norm")
    axes[1].set_ylabel("steps")
    fig.suptitle(title or "gradient norms without clipping", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # 2x resolution, and a tight box so no axis label is clipped (the heatmap's once was)
    fig.savefig(path, dpi=200, bbox_inches="tight")
    plt.close(fig)
    return path
