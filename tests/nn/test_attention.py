"""rnnlab.nn.Attention: scores against hand formulas, masks, multi-query, gradcheck."""

import pytest
import torch

from rnnlab.nn.attention import Attention

KINDS = [("bahdanau", "general"), ("luong", "general"), ("luong", "dot")]


def _make(kind: str, score: str, q: int = 4, k: int = 4) -> Attention:
    torch.manual_seed(0)
    return Attention(q, k, kind=kind, score=score).double()


def test_scores_match_paper_formulas() -> None:
    torch.manual_seed(1)
    q, keys = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 5, 3, dtype=torch.float64)
    bah = Attention(4, 3, kind="bahdanau", hidden_size=6).double()
    expected = torch.stack(
        [
            torch.stack(
                [
                    bah.v.weight[0]
                    @ torch.tanh(
                        bah.query_proj.weight @ q[b]
                        + bah.key_proj.weight @ keys[b, s]
                        + bah.key_proj.bias
                    )
                    for s in range(5)
                ]
            )
            for b in range(2)
        ]
    )
    _, w = bah(q, keys)
    torch.testing.assert_close(w, torch.softmax(expected, dim=-1))
    luong = Attention(4, 3, kind="luong").double()
    e = torch.einsum("bq,qk,bsk->bs", q, luong.weight.weight, keys)
    ctx, w = luong(q, keys)
    torch.testing.assert_close(w, torch.softmax(e, dim=-1))
    torch.testing.assert_close(ctx, torch.einsum("bs,bsk->bk", w, keys))
    dot = Attention(3, 3, kind="luong", score="dot").double()
    q3 = q[:, :3]
    _, w = dot(q3, keys)
    torch.testing.assert_close(w, torch.softmax(torch.einsum("bk,bsk->bs", q3, keys), dim=-1))


@pytest.mark.parametrize("kind,score", KINDS)
def test_mask_gives_exact_zero_weight_and_ignores_padding(kind: str, score: str) -> None:
    att = _make(kind, score)
    torch.manual_seed(2)
    q, keys = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 6, 4, dtype=torch.float64)
    lengths = torch.tensor([6, 3, 1])
    mask = torch.arange(6)[None] < lengths[:, None]
    ctx, w = att(q, keys, mask)
    assert torch.all(w[~mask] == 0)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, dtype=torch.float64))
    # Garbage in padded keys changes nothing, and each row equals attending over its prefix.
    noisy = keys.clone()
    noisy[~mask] = 1e3
    ctx2, w2 = att(q, noisy, mask)
    torch.testing.assert_close(w2, w)
    torch.testing.assert_close(ctx2, ctx)
    for b, n in enumerate(lengths.tolist()):
        c, wb = att(q[b : b + 1], keys[b : b + 1, :n])
        torch.testing.assert_close(c[0], ctx[b])
        torch.testing.assert_close(wb[0], w[b, :n])


@pytest.mark.parametrize("kind,score", KINDS)
def test_multi_query_equals_step_by_step(kind: str, score: str) -> None:
    att = _make(kind, score)
    q, keys = torch.randn(2, 5, 4, dtype=torch.float64), torch.randn(2, 7, 4, dtype=torch.float64)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1, 4:] = False
    ctx, w = att(q, keys, mask)
    assert ctx.shape == (2, 5, 4) and w.shape == (2, 5, 7)
    for t in range(5):
        c, wt = att(q[:, t], keys, mask)
        torch.testing.assert_close(ctx[:, t], c)
        torch.testing.assert_close(w[:, t], wt)


@pytest.mark.parametrize("kind,score", KINDS)
def test_gradcheck_float64_with_mask(kind: str, score: str) -> None:
    att = _make(kind, score, q=3, k=3)
    q = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    keys = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    assert torch.autograd.gradcheck(lambda a, b: att(a, b, mask), (q, keys))
    names = [n for n, _ in att.named_parameters()]
    if names:  # Luong dot has no parameters
        assert torch.autograd.gradcheck(
            lambda *ps: torch.func.functional_call(
                att, dict(zip(names, ps, strict=True)), (q.detach(), keys.detach(), mask)
            ),
            tuple(p.detach().requires_grad_(True) for p in att.parameters()),
        )


def test_fully_masked_row_raises() -> None:
    att = Attention(2, 2)
    mask = torch.tensor([[True, False], [False, False]])
    with pytest.raises(ValueError, match=r"no valid position in batch rows \[1\]"):
        att(torch.randn(2, 2), torch.randn(2, 2, 2), mask)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        Attention(2, 2, kind="cosine")
    with pytest.raises(ValueError, match="query_size == key_size"):
        Attention(2, 3, score="dot")
    att = Attention(2, 3)
    with pytest.raises(ValueError, match=r"keys must be \(B, S, 3\)"):
        att(torch.randn(1, 2), torch.randn(1, 4, 2))
    with pytest.raises(ValueError, match="query batch 2 != keys batch 1"):
        att(torch.randn(2, 2), torch.randn(1, 4, 3))
    with pytest.raises(TypeError, match="bool"):
        att(torch.randn(1, 2), torch.randn(1, 4, 3), torch.ones(1, 4))
    with pytest.raises(ValueError, match=r"mask must be \(B, S\)"):
        att(torch.randn(1, 2), torch.randn(1, 4, 3), torch.ones(1, 3, dtype=torch.bool))
