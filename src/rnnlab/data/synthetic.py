"""Synthetic long-range tasks, generated on the fly (see docs/tasks.md).

- ``adding`` (Hochreiter & Schmidhuber 1997; Le et al. 2015 with ``halves=True``),
- ``copy`` memory (the locuslab/TCN generator of Bai, Kolter & Koltun 2018),
- ``reverse`` and ``digit-add``: sequence-to-sequence tasks with different input and output
  lengths, for attention models.

Every task is deterministic: training batches come from the ``torch.Generator`` the caller
passes (``task.train_generator()`` gives one seeded from the task's seed), and the fixed
validation and test sets are drawn from their own seeds derived from ``seed``, so they never
overlap the training stream by construction of the seeds. Nothing is stored on disk.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab.data.containers import BOS, EOS, PAD, Batch, pad_sequences
from rnnlab.errors import UserInputError

DIGITS = [str(d) for d in range(10)]
SEQ2SEQ_VOCAB = [PAD, BOS, EOS, *DIGITS, "+"]
"""Shared vocabulary of the seq2seq tasks: ``<pad>`` = 0, ``<s>`` = 1, ``</s>`` = 2, digits
``0..9`` = 3..12, ``+`` = 13."""

_STREAMS = {"train": 0, "val": 1, "test": 2}


def _stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for one stream (train/val/test) of a task seed; streams are independent."""
    state = np.random.SeedSequence([seed, _STREAMS[stream]]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


@dataclass
class SyntheticTask:
    """Base class of the synthetic tasks.

    Attributes:
        name: task name as given to :func:`make_task`.
        kind: ``"regression"`` (adding), ``"tagging"`` (copy memory: a class per step) or
            ``"seq2seq"``.
        length: the task's length parameter T.
        seed: seeds the validation and test sets and :meth:`train_generator`.
        input_size: features per input step (for seq2seq: the vocabulary size; inputs are ids).
        num_classes: output classes per step (tagging, seq2seq) or None (regression).
        vocab: token strings for seq2seq tasks, else None.
        val_size, test_size: number of sequences in the fixed evaluation sets.
        main_metric: the key of :meth:`metrics` that papers report (lower is better except
            for names ending in ``accuracy``).
        chance_level: value of ``main_metric`` of the trivial strategy described in
            docs/tasks.md (analytic, for reports; tests recompute it from data).
    """

    name: str
    kind: str
    length: int
    seed: int
    input_size: int
    num_classes: int | None
    vocab: list[str] | None = None
    val_size: int = 1000
    test_size: int = 1000
    main_metric: str = ""
    chance_level: float = math.nan
    _fixed: dict[str, Batch] = field(default_factory=dict, init=False, repr=False)

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        """Draw ``n`` fresh sequences using ``generator``."""
        raise NotImplementedError

    def batch(self, batch_size: int, generator: torch.Generator) -> Batch:
        """One training batch drawn with ``generator`` (pass the same generator each step)."""
        return self.sample(batch_size, generator)

    def train_generator(self) -> torch.Generator:
        """A generator seeded from the task's training stream."""
        return torch.Generator().manual_seed(_stream_seed(self.seed, "train"))

    def validation_set(self) -> Batch:
        """The fixed validation set (``val_size`` sequences), identical on every call."""
        return self._fixed_set("val", self.val_size)

    def test_set(self) -> Batch:
        """The fixed test set (``test_size`` sequences), identical on every call."""
        return self._fixed_set("test", self.test_size)

    def _fixed_set(self, stream: str, size: int) -> Batch:
        if stream not in self._fixed:
            generator = torch.Generator().manual_seed(_stream_seed(self.seed, stream))
            self._fixed[stream] = self.sample(size, generator)
        return self._fixed[stream]

    def metrics(self, output: Tensor, batch: Batch) -> dict[str, float]:
        """Task metrics of a model's ``output`` on ``batch`` (see each task)."""
        raise NotImplementedError


@dataclass
class AddingTask(SyntheticTask):
    """The adding problem.

    Input float32 ``(B, T, 2)``: channel 0 uniform on [0, 1); channel 1 zero except 1 at two
    distinct positions, drawn uniformly from the whole sequence, or with ``halves=True`` one
    in each half (first in ``[0, T//2)``, second in ``[T//2, T)``, Le et al. 2015). Target
    float32 ``(B,)``: the sum of the two marked values. Metric: MSE; predicting 1.0 always
    scores Var(U1 + U2) = 1/6.
    """

    halves: bool = False

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        t = self.length
        values = torch.rand(n, t, generator=generator)
        if self.halves:
            half = t // 2
            first = torch.randint(0, half, (n,), generator=generator)
            second = torch.randint(half, t, (n,), generator=generator)
        else:
            first = torch.randint(0, t, (n,), generator=generator)
            # Draw from the T - 1 other positions, so the two markers are distinct and the
            # pair is uniform over all ordered pairs.
            second = torch.randint(0, t - 1, (n,), generator=generator)
            second = second + (second >= first).long()
        markers = torch.zeros(n, t)
        rows = torch.arange(n)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        target = values[rows, first] + values[rows, second]
        return Batch(torch.stack([values, markers], dim=-1), target)

    def metrics(self, output: Tensor, batch: Batch) -> dict[str, float]:
        """``output``: predictions ``(B,)`` or ``(B, 1)``. Returns ``{"mse": ...}``."""
        return {"mse": float(F.mse_loss(output.reshape(-1).float(), batch.y.float()))}


@dataclass
class CopyMemoryTask(SyntheticTask):
    """Copy memory, exactly as locuslab/TCN's ``data_generator`` (Bai et al. 2018).

    With blank length T and memory length M = 10: input of length T + 2M = M random digits
    from 1–8, then T − 1 zeros, then the marker 9 repeated M + 1 times; target (int64
    ``(B, T + 2M)``) = T + M zeros, then the M digits. ``encoding="value"`` (default, as the
    reference code) gives float32 ``(B, T + 2M, 1)`` of raw digit values; ``"one-hot"`` gives
    float32 ``(B, T + 2M, 10)``. Metrics: 10-class cross-entropy averaged over all T + 2M
    steps, and recall accuracy over the last M steps. Chance (zeros, then uniform guesses over
    1–8): cross-entropy M·ln 8 / (T + 2M), recall accuracy 1/8.
    """

    memory: int = 10
    encoding: str = "value"

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        m, t = self.memory, self.length
        digits = torch.randint(1, 9, (n, m), generator=generator)
        tokens = torch.cat(
            [digits, torch.zeros(n, t - 1, dtype=torch.long), torch.full((n, m + 1), 9)], dim=1
        )
        target = torch.cat([torch.zeros(n, t + m, dtype=torch.long), digits], dim=1)
        if self.encoding == "one-hot":
            x = F.one_hot(tokens, 10).float()
        else:
            x = tokens.float().unsqueeze(-1)
        return Batch(x, target)

    def metrics(self, output: Tensor, batch: Batch) -> dict[str, float]:
        """``output``: logits ``(B, T + 2M, 10)``.

        Returns ``cross_entropy`` (mean over all steps, the published loss) and
        ``recall_accuracy`` (fraction of the last M digits predicted exactly).
        """
        m = self.memory
        ce = F.cross_entropy(output.reshape(-1, output.shape[-1]).float(), batch.y.reshape(-1))
        recalled = output[:, -m:].argmax(-1) == batch.y[:, -m:]
        return {"cross_entropy": float(ce), "recall_accuracy": float(recalled.float().mean())}


@dataclass
class Seq2SeqTask(SyntheticTask):
    """Base of the sequence-to-sequence tasks: token ids over :data:`SEQ2SEQ_VOCAB`.

    Batches: ``x`` int64 ``(B, S)`` source ids padded with 0, ``lengths`` ``(B,)``;
    ``y`` int64 ``(B, U)`` target ids ending with ``</s>`` (id 2) padded with 0,
    ``target_lengths`` ``(B,)`` (``</s>`` counted). The decoder input for teacher forcing is
    ``<s>`` (id 1) followed by ``y[:, :-1]``.
    """

    min_length: int = 1

    def _sources_targets(self, n: int, generator: torch.Generator) -> list[tuple[str, str]]:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        index = {token: i for i, token in enumerate(SEQ2SEQ_VOCAB)}
        pairs = self._sources_targets(n, generator)
        sources = [torch.tensor([index[c] for c in src]) for src, _ in pairs]
        targets = [torch.tensor([*(index[c] for c in tgt), index[EOS]]) for _, tgt in pairs]
        x, lengths = pad_sequences(sources, 0)
        y, target_lengths = pad_sequences(targets, 0)
        return Batch(x.long(), y.long(), lengths, target_lengths)

    def _digit_strings(self, n: int, generator: torch.Generator) -> list[str]:
        """``n`` digit strings with lengths uniform in [min_length, length]."""
        lengths = torch.randint(self.min_length, self.length + 1, (n,), generator=generator)
        digits = torch.randint(0, 10, (n, self.length), generator=generator)
        rows = zip(digits.tolist(), lengths.tolist(), strict=True)
        return ["".join(DIGITS[d] for d in row[:k]) for row, k in rows]

    def metrics(self, output: Tensor, batch: Batch) -> dict[str, float]:
        """``output``: logits ``(B, U, V)`` aligned with ``batch.y``.

        Returns ``cross_entropy`` per target token (padding excluded), ``token_accuracy`` and
        ``sequence_accuracy`` (every token of the target, ``</s>`` included, correct).
        """
        valid = batch.y != 0
        ce = F.cross_entropy(output.transpose(1, 2).float(), batch.y, ignore_index=0)
        correct = (output.argmax(-1) == batch.y) & valid
        whole = (correct | ~valid).all(dim=1)
        return {
            "cross_entropy": float(ce),
            "token_accuracy": float(correct.sum() / valid.sum()),
            "sequence_accuracy": float(whole.float().mean()),
        }


@dataclass
class ReverseTask(Seq2SeqTask):
    """Sequence reversal: a digit string of length in [min_length, T] → the same reversed.

    Source length L, target length L + 1 (``</s>``). Chance token accuracy: 1/10 per digit.
    """

    def _sources_targets(self, n: int, generator: torch.Generator) -> list[tuple[str, str]]:
        return [(s, s[::-1]) for s in self._digit_strings(n, generator)]


@dataclass
class DigitAddTask(Seq2SeqTask):
    """Digit-string addition: ``"a+b"`` → the decimal digits of a + b.

    a and b have lengths uniform in [min_length, T] digits (leading digit non-zero unless the
    number is a single digit); the target has max(len a, len b) or one more digits (no leading
    zeros), then ``</s>``. Sums are exact for any T (Python integers).
    """

    def _sources_targets(self, n: int, generator: torch.Generator) -> list[tuple[str, str]]:
        strings = self._digit_strings(2 * n, generator)
        leading = torch.randint(1, 10, (2 * n,), generator=generator).tolist()
        # Replace the leading digit of multi-digit numbers by a non-zero one.
        with_leading = zip(strings, leading, strict=True)
        numbers = [s if len(s) == 1 else DIGITS[d] + s[1:] for s, d in with_leading]
        pairs = zip(numbers[:n], numbers[n:], strict=True)
        return [(f"{a}+{b}", str(int(a) + int(b))) for a, b in pairs]


TASKS: dict[str, type[SyntheticTask]] = {
    "adding": AddingTask,
    "copy": CopyMemoryTask,
    "reverse": ReverseTask,
    "digit-add": DigitAddTask,
}


def make_task(
    name: str,
    length: int,
    *,
    seed: int = 0,
    val_size: int = 1000,
    test_size: int = 1000,
    **options: object,
) -> SyntheticTask:
    """Build a synthetic task.

    Args:
        name: ``"adding"``, ``"copy"``, ``"reverse"`` or ``"digit-add"``.
        length: T — sequence length (adding), blank length (copy; sequences are T + 20
            long), or maximum number of digits (reverse, digit-add).
        seed: seeds the fixed validation/test sets and ``train_generator()``.
        val_size, test_size: sizes of the fixed evaluation sets.
        **options: ``halves`` (adding, default False); ``memory`` (copy, default 10) and
            ``encoding`` (copy: ``"value"`` default, or ``"one-hot"``); ``min_length``
            (reverse, digit-add: default 1).

    Raises:
        UserInputError: unknown task or option, or an impossible length.
    """
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UserInputError(f"unknown synthetic task {name!r}; choose from {list(TASKS)}.{hint}")
    allowed = {
        "adding": {"halves"},
        "copy": {"memory", "encoding"},
        "reverse": {"min_length"},
        "digit-add": {"min_length"},
    }[name]
    unknown = set(options) - allowed
    if unknown:
        raise UserInputError(
            f"task {name!r} has no option(s) {sorted(unknown)}; options: {sorted(allowed)}"
        )
    minimum = 2 if name == "adding" else 1
    if not isinstance(length, int) or length < minimum:
        raise UserInputError(f"task {name!r} needs an integer length ≥ {minimum}, got {length!r}")
    if val_size < 1 or test_size < 1:
        raise UserInputError(f"val_size and test_size must be ≥ 1, got {val_size}, {test_size}")
    common = {"name": name, "length": length, "seed": seed}
    common |= {"val_size": val_size, "test_size": test_size}
    if name == "adding":
        return AddingTask(
            kind="regression",
            input_size=2,
            num_classes=None,
            main_metric="mse",
            chance_level=1 / 6,
            halves=bool(options.get("halves", False)),
            **common,
        )
    if name == "copy":
        memory = int(options.get("memory", 10))  # type: ignore[call-overload]
        encoding = str(options.get("encoding", "value"))
        if encoding not in ("value", "one-hot"):
            raise UserInputError(f"copy encoding must be 'value' or 'one-hot', got {encoding!r}")
        if memory < 1:
            raise UserInputError(f"copy memory length must be ≥ 1, got {memory}")
        return CopyMemoryTask(
            kind="tagging",
            input_size=1 if encoding == "value" else 10,
            num_classes=10,
            main_metric="cross_entropy",
            chance_level=memory * math.log(8) / (length + 2 * memory),
            memory=memory,
            encoding=encoding,
            **common,
        )
    min_length = int(options.get("min_length", 1))  # type: ignore[call-overload]
    if not 1 <= min_length <= length:
        raise UserInputError(f"min_length must be in [1, {length}], got {min_length}")
    return TASKS[name](
        kind="seq2seq",
        input_size=len(SEQ2SEQ_VOCAB),
        num_classes=len(SEQ2SEQ_VOCAB),
        vocab=list(SEQ2SEQ_VOCAB),
        main_metric="sequence_accuracy",
        chance_level=0.0,
        min_length=min_length,
        **common,
    )
