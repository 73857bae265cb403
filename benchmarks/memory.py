"""Peak memory of one forward+backward, per cell and engine, in a fresh process each (CPU).

torch keeps no allocator statistics on the CPU, so each case runs in its own Python process:
it builds the inputs, runs a tiny warm-up (so one-off library allocations are not counted),
reads the peak resident set size (``ru_maxrss``), runs one forward+backward at the full size
and reports how much the peak grew. Large tensors are ``mmap``-ed by glibc and returned on free,
so the growth is the peak of live memory during the call (activations saved for backward plus
the backward pass's own temporaries). Repeats agree to about 0.1 MiB.

Usage: ``python benchmarks/memory.py [--size 500x32x32x128] [--cells lstm,gru,...] [--json F]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

_CASE = r"""
import resource, sys, torch
from rnnlab.nn.cells import CELLS
from rnnlab.nn.engines import ENGINES, NO_MASKS
from rnnlab.nn.kernels import extension

cell, engine, steps, batch, inputs, hidden = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
torch.set_num_threads(1)
torch.manual_seed(0)
for family in extension.FAMILIES:
    extension.status(family)
spec = CELLS[cell]
shapes = spec.param_shapes(inputs, hidden)
params = {k: (torch.randn(s) * 0.1).requires_grad_() for k, s in shapes.items()}
x = torch.randn(steps, batch, inputs, requires_grad=True)
state = tuple(torch.zeros(batch, s, requires_grad=True) for s in spec.state_sizes(hidden))


def forward_backward(x, state):
    out, final = ENGINES[engine](
        spec, x, state, params, lengths=None, reverse=False, masks=NO_MASKS
    )
    (out.sum() + final[0].sum()).backward()


forward_backward(x[:2, :1], tuple(s[:1] for s in state))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
forward_backward(x, state)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""

DEFAULT_CASES = {
    "lstm": ("native", "loop"),
    "gru": ("native", "loop"),
    "rnn-tanh": ("native", "loop"),
    "lstm-peephole": ("loop", "reference"),
    "gru-cho": ("loop", "reference"),
    "mingru": ("scan", "loop"),
}


def peak_growth_mib(cell: str, engine: str, size: tuple[int, int, int, int]) -> float:
    """Peak RSS growth (MiB) of one forward+backward in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _CASE, cell, engine, *map(str, size)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="500x32x32x128", help="TxBxIxH")
    parser.add_argument("--cells", default=",".join(DEFAULT_CASES))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    rows = []
    print(f"| cell | engine | peak MiB (median of {args.repeats}) | × first engine |")
    print("|---|---|---|---|")
    for cell in args.cells.split(","):
        first = None
        for engine in DEFAULT_CASES.get(cell, ("native", "loop")):
            runs = [peak_growth_mib(cell, engine, size) for _ in range(args.repeats)]
            mib = statistics.median(runs)
            first = first or mib
            rows.append({"cell": cell, "engine": engine, "size": size, "peak_mib": runs})
            print(f"| {cell} | {engine} | {mib:.1f} | {mib / first:.2f}× |", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
