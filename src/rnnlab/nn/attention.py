"""Attention over a sequence of keys, with padding masks.

Scores (``q`` a query, ``k_s`` the key at source position ``s``):

- ``bahdanau`` (additive; Bahdanau, Cho & Bengio 2015, eq. 6 / appendix A.1.2):
  ``e_s = v^T tanh(W_q q + W_k k_s)``
- ``luong`` with ``score="general"`` (multiplicative; Luong, Pham & Manning 2015, eq. 8):
  ``e_s = q^T W_a k_s``
- ``luong`` with ``score="dot"``: ``e_s = q^T k_s`` (needs ``query_size == key_size``).

Weights ``a = softmax(e)`` over valid positions only; the context is ``sum_s a_s k_s``.
Keys are batch-first (B, S, K), as is usual for attention; queries are (B, Q) for one decoder
step or (B, T, Q) for T steps at once (Luong attention over all decoder outputs).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Attention"]

_KINDS = ("luong", "bahdanau")
_LUONG_SCORES = ("general", "dot")


class Attention(nn.Module):
    """Additive (Bahdanau) or multiplicative (Luong) attention.

    Args:
        query_size: features of a query (the decoder state).
        key_size: features of a key (an encoder output); the context has this size.
        kind: ``"luong"`` or ``"bahdanau"``.
        hidden_size: width of the additive scorer (bahdanau only; default ``key_size``).
        score: Luong's score function, ``"general"`` (default) or ``"dot"``.

    ``forward(query, keys, mask=None) -> (context, weights)``: ``query`` (B, Q) or (B, T, Q),
    ``keys`` (B, S, K), ``mask`` (B, S) bool with True at valid positions. Returns ``context``
    (B, K) or (B, T, K) and ``weights`` (B, S) or (B, T, S). Masked positions get exactly zero
    weight; a row whose positions are all masked raises ``ValueError``.
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        kind: str = "luong",
        hidden_size: int | None = None,
        score: str = "general",
    ) -> None:
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"Attention kind must be one of {_KINDS}, got {kind!r}")
        if score not in _LUONG_SCORES:
            raise ValueError(f"Attention score must be one of {_LUONG_SCORES}, got {score!r}")
        if kind == "luong" and score == "dot" and query_size != key_size:
            raise ValueError(
                "Luong dot attention needs query_size == key_size, got "
                f"query_size={query_size}, key_size={key_size}; use score='general'"
            )
        if kind == "luong" and hidden_size is not None:
            raise ValueError("hidden_size applies to kind='bahdanau' only")
        self.query_size = query_size
        self.key_size = key_size
        self.kind = kind
        self.score = score if kind == "luong" else "additive"
        if kind == "bahdanau":
            self.hidden_size = hidden_size or key_size
            self.query_proj = nn.Linear(query_size, self.hidden_size, bias=False)
            self.key_proj = nn.Linear(key_size, self.hidden_size, bias=True)
            self.v = nn.Linear(self.hidden_size, 1, bias=False)
        elif score == "general":
            self.hidden_size = key_size
            self.weight = nn.Linear(key_size, query_size, bias=False)  # W_a: k -> W_a k

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """Unnormalised scores (B, T, S) for queries (B, T, Q) and keys (B, S, K)."""
        if self.kind == "bahdanau":
            q = self.query_proj(query).unsqueeze(2)  # (B, T, 1, H)
            k = self.key_proj(keys).unsqueeze(1)  # (B, 1, S, H)
            return self.v(torch.tanh(q + k)).squeeze(-1)
        projected = keys if self.score == "dot" else self.weight(keys)  # (B, S, Q)
        return torch.bmm(query, projected.transpose(1, 2))

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` over ``keys``; see the class docstring for shapes."""
        single_step = self._check(query, keys, mask)
        if single_step:
            query = query.unsqueeze(1)
        scores = self.scores(query, keys)  # (B, T, S)
        if mask is not None:
            if not bool(mask.any(dim=1).all()):
                empty = (~mask.any(dim=1)).nonzero().flatten().tolist()
                raise ValueError(
                    f"Attention mask has no valid position in batch rows {empty}; every "
                    "sequence needs at least one True entry"
                )
            scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # exp(-inf) = 0 exactly at masked positions
        context = torch.bmm(weights, keys)
        if single_step:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    def _check(self, query: Tensor, keys: Tensor, mask: Tensor | None) -> bool:
        if keys.dim() != 3 or keys.shape[-1] != self.key_size:
            raise ValueError(
                f"Attention keys must be (B, S, {self.key_size}), got shape {tuple(keys.shape)}"
            )
        if query.dim() not in (2, 3) or query.shape[-1] != self.query_size:
            raise ValueError(
                f"Attention query must be (B, {self.query_size}) or (B, T, {self.query_size}), "
                f"got shape {tuple(query.shape)}"
            )
        if query.shape[0] != keys.shape[0]:
            raise ValueError(
                f"Attention query batch {query.shape[0]} != keys batch {keys.shape[0]}"
            )
        if mask is not None:
            if mask.dtype != torch.bool:
                raise TypeError(f"Attention mask must be a bool tensor, got dtype {mask.dtype}")
            if mask.shape != keys.shape[:2]:
                raise ValueError(
                    f"Attention mask must be (B, S) = {tuple(keys.shape[:2])}, "
                    f"got shape {tuple(mask.shape)}"
                )
        return query.dim() == 2

    def extra_repr(self) -> str:
        return (
            f"query_size={self.query_size}, key_size={self.key_size}, kind={self.kind!r}, "
            f"score={self.score!r}"
        )
