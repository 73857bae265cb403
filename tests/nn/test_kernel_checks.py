"""Every op in torch.ops.rnnlab checks its arguments before touching memory: a wrong call
raises RuntimeError with a message naming the argument, and the process lives. Each family's
wrong calls run in a child process (kernel_calls.py), so a check that is missing shows as a
crash there, not a dead pytest: B = 2 with batch_sizes (3, 3, 3) used to abort with
``free(): invalid next size``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("kernel_calls.py")

_RECURRENT = {
    "valid forward": "ok",
    "valid backward": "ok",
    "batch_sizes above B": "batch_sizes must be non-increasing, each between 0 and B = 2",
    "batch_sizes increasing": "batch_sizes must be non-increasing",
    "batch_sizes negative": "batch_sizes must be non-increasing",
    "batch_sizes length": "batch_sizes must have T = 3 entries",
    "xp integer": "xp must be float32 or float64",
    "xp half": "xp must be float32 or float64",
    "h0 dtype": "h0 must have dtype Float",
    "h0 shape": "h0 must have shape",
    "h0 on meta": "",  # the dispatcher or the check refuses it: any RuntimeError
    "xp not contiguous": "xp must be contiguous",
    "xp shape": "(xp|h0) must have shape",  # rnn takes H from xp, so h0 is the odd one
    "weight_hh shape": "weight_hh must have shape",
    "weight_hh not contiguous": "weight_hh must be contiguous",
    "weight_hh dtype": "weight_hh must have dtype Float",
    "rec_mask shape": "rec_mask must have shape",
    "zoneout shape": "zoneout must have shape",
    "backward batch_sizes above B": "batch_sizes must be non-increasing",
    "backward grad_hs shape": "grad_hs must have shape",
    "backward grad_hs dtype": "grad_hs must have dtype Float",
    "backward saved count": "expected the .* tensors the forward saved",
    "backward weight_hh shape": "must have shape|expected saved",
}
EXPECTED = {
    "lstm": {
        **_RECURRENT,
        "peephole shape": "peephole must have shape",
        "ln_c shape": "ln_c must have shape",
        "bias_hh shape": "bias_hh must have shape",
    },
    "gru": {**_RECURRENT, "ln_hh shape": "ln_hh must have shape", "bias_ih shape": "bias_ih must"},
    "rnn": {**_RECURRENT, "ln_ih shape": "ln_ih must have shape", "bias_hh shape": "bias_hh must"},
    "minrnn": {
        "valid forward": "ok",
        "valid backward": "ok",
        "lengths above T": "every length must be between 0 and T = 3",
        "lengths negative": "every length must be between 0 and T",
        "lengths count": "lengths must be empty or hold one length per row",
        "xw integer": "xw must be float32 or float64",
        "xw last size": "expected xw",
        "xw not contiguous": "xw must be contiguous",
        "h0 dtype": "h0 must have dtype Float",
        "h0 shape": "h0 must have shape",
        "zoneout shape": "zoneout must have shape",
        "backward hs shape": "hs must have shape",
        "backward grad_hs not contiguous": "grad_hs must be contiguous",
        "backward grad_hs dtype": "grad_hs must have dtype Float",
    },
}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def outcomes(request):
    family = request.param
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), family],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{family}: the process died ({done.returncode}): {done.stderr}"
    results = json.loads(done.stdout.strip().splitlines()[-1])
    if "unavailable" in results:
        pytest.skip(f"C++ {family} kernels unavailable: {results['unavailable']}")
    return family, results


def test_every_wrong_call_raises_a_runtime_error_naming_its_argument(outcomes):
    import re

    family, results = outcomes
    assert set(results) == set(EXPECTED[family])
    wrong = {}
    for case, want in EXPECTED[family].items():
        got = results[case]
        if want == "ok":
            ok = got == "ok"
        else:
            error_type, _, message = got.partition(": ")
            ok = error_type in ("RuntimeError", "NotImplementedError") and re.search(want, message)
        if not ok:
            wrong[case] = got
    assert not wrong, f"{family}: {json.dumps(wrong, indent=1)}"
