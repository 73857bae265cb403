"""Wrong calls of one family's ops in torch.ops.rnnlab, run in a child process (a call that
reads or writes out of bounds would kill pytest): prints a JSON object, case -> "ok" or the
error raised ("<type>: <message>"). Usage: python kernel_calls.py FAMILY."""

import json
import sys

import torch

from rnnlab.nn.kernels import extension

T, B, H = 3, 2, 4


def r(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


def lstm_cases():
    def forward(**change):
        args = dict(
            xp=r(T, B, 4 * H), h0=r(B, H), c0=r(B, H), weight_hh=r(4 * H, H), batch_sizes=[],
            peephole=None, rec_mask=None, zoneout=None, ln_ih=None, bias_ih=None, ln_hh=None,
            bias_hh=None, ln_c=None, cifg=False, keep=True,
        )  # fmt: skip
        return lambda: torch.ops.rnnlab.lstm_forward(**{**args, **change})

    def backward(**change):
        saved = forward()()
        args = dict(
            grad_hs=r(T, B, H), grad_c_last=r(B, H), saved=saved, weight_hh=r(4 * H, H),
            batch_sizes=[], peephole=None, rec_mask=None, zoneout=None, ln_ih=None, ln_hh=None,
            bias=False, ln_c=None, cifg=False,
        )  # fmt: skip
        return lambda: torch.ops.rnnlab.lstm_backward(**{**args, **change})

    return forward, backward, {"peephole": r(2, H), "ln_c": r(H), "bias_hh": r(H)}


def gru_cases():
    def forward(**change):
        args = dict(
            xp=r(T, B, 3 * H), h0=r(B, H), weight_hh=r(3 * H, H), batch_sizes=[], rec_mask=None,
            zoneout=None, ln_hh=None, bias_hh=None, ln_ih=None, bias_ih=None, cho=False,
            keep=True,
        )  # fmt: skip
        return lambda: torch.ops.rnnlab.gru_forward(**{**args, **change})

    def backward(**change):
        saved = forward()()
        args = dict(
            grad_hs=r(T, B, H), saved=saved, weight_hh=r(3 * H, H), batch_sizes=[],
            rec_mask=None, zoneout=None, ln_hh=None, bias_hh=None, ln_ih=None, bias_ih=None,
            cho=False,
        )  # fmt: skip
        return lambda: torch.ops.rnnlab.gru_backward(**{**args, **change})

    return forward, backward, {"ln_hh": r(H), "bias_ih": r(2 * H)}


def rnn_cases():
    def forward(**change):
        args = dict(
            xp=r(T, B, H), h0=r(B, H), weight_hh=r(H, H), batch_sizes=[], rec_mask=None,
            zoneout=None, ln_hh=None, bias_hh=None, ln_ih=None, bias_ih=None, relu=False,
            keep=True,
        )  # fmt: skip
        return lambda: torch.ops.rnnlab.rnn_forward(**{**args, **change})

    def backward(**change):
        saved = forward()()
        args = dict(
            grad_hs=r(T, B, H), saved=saved, weight_hh=r(H, H), batch_sizes=[], rec_mask=None,
            zoneout=None, ln_hh=None, bias_hh=None, ln_ih=None, bias_ih=None, relu=False,
        )  # fmt: skip
        return lambda: torch.ops.rnnlab.rnn_backward(**{**args, **change})

    return forward, backward, {"ln_ih": r(H + 1), "bias_hh": r(2, H)}


def common(forward, backward, vectors, gates):
    gh = gates * H
    cases = {
        "valid forward": forward(),
        "valid backward": backward(),
        "batch_sizes above B": forward(batch_sizes=[3, 3, 3]),
        "batch_sizes increasing": forward(batch_sizes=[1, 2, 2]),
        "batch_sizes negative": forward(batch_sizes=[2, 1, -1]),
        "batch_sizes length": forward(batch_sizes=[2, 2]),
        "xp integer": forward(xp=torch.ones(T, B, gh, dtype=torch.int64)),
        "xp half": forward(xp=r(T, B, gh).half()),
        "h0 dtype": forward(h0=r(B, H, dtype=torch.float64)),
        "h0 shape": forward(h0=r(B + 1, H)),
        "h0 on meta": forward(h0=torch.empty(B, H, device="meta")),
        "xp not contiguous": forward(xp=r(B, T, gh).transpose(0, 1)),
        "xp shape": forward(xp=r(T, B, gh + 1)),
        "weight_hh shape": forward(weight_hh=r(gh, H + 1)),
        "weight_hh not contiguous": forward(weight_hh=r(H, gh).t()),
        "weight_hh dtype": forward(weight_hh=r(gh, H, dtype=torch.float64)),
        "rec_mask shape": forward(rec_mask=r(B, H + 1)),
        "zoneout shape": forward(zoneout=r(T + 5, B, H)),
        "backward batch_sizes above B": backward(batch_sizes=[3, 3, 3]),
        "backward grad_hs shape": backward(grad_hs=r(T + 1, B, H)),
        "backward grad_hs dtype": backward(grad_hs=r(T, B, H, dtype=torch.float64)),
        "backward saved count": backward(saved=[r(T + 1, B, H)]),
        "backward weight_hh shape": backward(weight_hh=r(gh, H + 2)),
    }
    for name, value in vectors.items():
        cases[f"{name} shape"] = forward(**{name: value})
    return cases


def minrnn_cases():
    def forward(**change):
        args = dict(xw=r(T, B, 2 * H), h0=r(B, H), lengths=[], zoneout=None, lstm=False)
        return lambda: torch.ops.rnnlab.minrnn_forward(**{**args, **change})

    def backward(**change):
        xw, h0 = r(T, B, 2 * H), r(B, H)
        hs = torch.ops.rnnlab.minrnn_forward(xw, h0, [], None, False)
        args = dict(grad_hs=r(T, B, H), xw=xw, h0=h0, hs=hs, lengths=[], zoneout=None, lstm=False)
        return lambda: torch.ops.rnnlab.minrnn_backward(**{**args, **change})

    return {
        "valid forward": forward(),
        "valid backward": backward(),
        "lengths above T": forward(lengths=[T + 5, 1]),
        "lengths negative": forward(lengths=[-1, 1]),
        "lengths count": forward(lengths=[1, 1, 1]),
        "xw integer": forward(xw=torch.ones(T, B, 2, dtype=torch.int64)),
        "xw last size": forward(xw=r(T, B, 2 * H + 1)),
        "xw not contiguous": forward(xw=r(B, T, 2 * H).transpose(0, 1)),
        "h0 dtype": forward(h0=r(B, H, dtype=torch.float64)),
        "h0 shape": forward(h0=r(B + 1, H)),
        "zoneout shape": forward(zoneout=r(T, B, H + 1)),
        "backward hs shape": backward(hs=r(T, B + 1, H)),
        "backward grad_hs not contiguous": backward(grad_hs=r(T, H, B).transpose(1, 2)),
        "backward grad_hs dtype": backward(grad_hs=r(T, B, H, dtype=torch.float64)),
    }


def main(family):
    if extension.ops(family) is None:
        print(json.dumps({"unavailable": extension.status(family).reason}))
        return
    if family == "minrnn":
        cases = minrnn_cases()
    else:
        make, gates = {"lstm": (lstm_cases, 4), "gru": (gru_cases, 3), "rnn": (rnn_cases, 1)}[
            family
        ]
        cases = common(*make(), gates)
    results = {}
    for name, call in cases.items():
        try:
            call()
            results[name] = "ok"
        except Exception as error:  # the type is part of the result
            results[name] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
