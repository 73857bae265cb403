"""GPU check: loop and scan engines run on CUDA and equal the reference there; then the table.

Usage: ``PYTHONPATH=src python benchmarks/gpu_check.py OUT_DIR [CELLS]`` on a machine with CUDA.
Writes ``OUT_DIR/gpu_bench.json`` and prints the table (ratios vs cuDNN, measured in the run).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from rich.console import Console

from rnnlab import bench
from rnnlab.nn.cells import CELLS
from rnnlab.nn.engines import ENGINES, NO_MASKS


def check_equal_on_cuda(name: str, engine: str) -> float:
    """Max abs difference of outputs and gradients between ``engine`` and reference on CUDA."""
    spec = CELLS[name]
    gen = torch.Generator().manual_seed(0)
    params = {
        k: (torch.randn(s, generator=gen) * 0.3).cuda().requires_grad_()
        for k, s in spec.param_shapes(8, 16).items()
    }
    x = torch.randn(50, 4, 8, generator=gen).cuda().requires_grad_()
    state = tuple(torch.zeros(4, s, device="cuda") for s in spec.state_sizes(16))
    lengths = torch.tensor([50, 31, 7, 1])
    results = []
    for eng in (engine, "reference"):
        out, final = ENGINES[eng](
            spec, x, state, params, lengths=lengths, reverse=True, masks=NO_MASKS
        )
        loss = out.square().sum() + sum(s.sum() for s in final)
        grads = torch.autograd.grad(loss, [x, *params.values()])
        results.append([out, *final, *grads])
    return max((a - b).abs().max().item() for a, b in zip(*results, strict=True))


def main(out_dir: str) -> None:
    console = Console(width=150)
    console.print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    pairs = [("lstm", "loop"), ("gru", "loop"), ("rnn-tanh", "loop"), ("lstm-peephole", "loop")]
    for name, engine in [*pairs, ("mingru", "scan"), ("minlstm", "scan")]:
        diff = check_equal_on_cuda(name, engine)
        console.print(f"{name}/{engine} vs reference on CUDA: max |diff| {diff:.2e}")
    variants = bench.parse_variants(
        sys.argv[2]
        if len(sys.argv) > 2
        else "lstm,lstm-peephole,lstm+ln,gru,gru-cho,rnn-tanh,mingru,minlstm"
    )
    report = bench.run_benchmark(
        variants=variants, engines=["native", "scan", "loop"], device="cuda", reps=5, warmup=2,
        on_result=lambda r: None,
    )  # fmt: skip
    console.print(bench.results_table(report))
    report.to_json(Path(out_dir) / "gpu_bench.json")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
