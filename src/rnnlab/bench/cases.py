"""What the benchmark times: cell variants, sizes, modes, engines, scaling sweeps, CLI parsing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rnnlab.nn.cells import CELLS
from rnnlab.nn.engines import ENGINE_SUPPORTS, ENGINES, LayerOptions

MODES = ("forward", "train")
SIZES: tuple[tuple[int, int, int, int], ...] = (
    (100, 64, 64, 128),
    (100, 64, 256, 256),
    (1000, 16, 1, 64),
)
QUICK_SIZES = ((100, 64, 64, 128),)


@dataclass(frozen=True)
class Variant:
    """A cell with layer options, e.g. ``lstm+layer_norm``."""

    cell: str
    layer_norm: bool = False
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0

    @property
    def name(self) -> str:
        extras = [
            label
            for label, on in (
                ("ln", self.layer_norm),
                (f"rd{self.recurrent_dropout:g}", self.recurrent_dropout),
                (f"zo{self.zoneout:g}", self.zoneout),
            )
            if on
        ]
        return "+".join([self.cell, *extras])

    @property
    def options(self) -> LayerOptions:
        return LayerOptions(
            layer_norm=self.layer_norm,
            recurrent_dropout=self.recurrent_dropout,
            zoneout=self.zoneout,
        )


def _lstm_and_gru_forms(cell: str) -> tuple[Variant, ...]:
    """The plain cell and its LayerNorm, recurrent-dropout and zoneout forms."""
    return (
        Variant(cell),
        Variant(cell, layer_norm=True),
        Variant(cell, recurrent_dropout=0.25),
        Variant(cell, zoneout=0.1),
    )


# Every variant issue 7 sets a target for.
VARIANTS: tuple[Variant, ...] = (
    *_lstm_and_gru_forms("lstm"),
    Variant("lstm-peephole"),
    Variant("lstm-cifg"),
    *_lstm_and_gru_forms("gru"),
    Variant("gru-cho"),
    Variant("rnn-tanh"),
    Variant("rnn-relu"),
    Variant("indrnn"),
    Variant("mingru"),
    Variant("minlstm"),
)
QUICK_VARIANTS: tuple[Variant, ...] = (
    Variant("lstm"),
    Variant("lstm-peephole"),
    Variant("gru"),
    Variant("rnn-tanh"),
    Variant("mingru"),
)
QUICK_ENGINES = ("native", "loop", "scan")

AXIS_POSITION = {"T": 0, "B": 1, "H": 3}
"""Index in (T, B, I, H) of each axis a sweep can vary."""


@dataclass(frozen=True)
class Sweep:
    """One panel of the scaling curves: ``axis`` (T, H or B) takes ``values`` around ``base``."""

    axis: str
    base: tuple[int, int, int, int]
    values: tuple[int, ...]

    def sizes(self) -> list[tuple[int, int, int, int]]:
        """(T, B, I, H) of every point."""
        position = AXIS_POSITION[self.axis]
        return [
            tuple(v if k == position else b for k, b in enumerate(self.base))  # type: ignore[misc]
            for v in self.values
        ]


# Around issue 7's sizes: the long sequence (1000, 16, 1, 64) and the moderate (100, 64, 64, ·).
SWEEPS: tuple[Sweep, ...] = (
    Sweep("T", (100, 16, 1, 64), (50, 100, 200, 500, 1000)),
    Sweep("H", (100, 64, 64, 128), (32, 64, 128, 256, 512)),
    Sweep("B", (100, 64, 64, 128), (1, 4, 16, 64, 256)),
)
QUICK_SWEEPS: tuple[Sweep, ...] = (
    Sweep("T", (100, 16, 1, 64), (50, 200, 800)),
    Sweep("H", (100, 16, 64, 128), (32, 128, 512)),
    Sweep("B", (100, 64, 64, 128), (1, 16, 256)),
)
CURVES: tuple[tuple[str, str], ...] = (
    ("lstm", "native"),
    ("lstm", "loop"),
    ("lstm-peephole", "loop"),
    ("lstm-cifg", "loop"),
    ("lstm+ln", "loop"),
    ("gru", "native"),
    ("gru", "loop"),
    ("gru-cho", "loop"),
    ("mingru", "scan"),
)
"""(variant, engine) of each scaling curve: torch.nn's fused kernel (``native``) and the fast
engines of the LSTM forms, the GRU forms and minGRU."""


def parse_variants(text: str) -> list[Variant]:
    """Parse ``lstm,gru+ln,lstm+rd0.25,lstm+zo0.1`` into variants; ValueError names bad parts.

    ``rd`` and ``zo`` without a number mean 0.25 and 0.1.
    """
    variants = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        cell, *extras = part.split("+")
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r} in {part!r}: expected one of {sorted(CELLS)}")
        options: dict[str, float | bool] = {}
        for extra in extras:
            try:
                if extra == "ln":
                    options["layer_norm"] = True
                elif extra.startswith("rd"):
                    options["recurrent_dropout"] = float(extra[2:] or 0.25)
                elif extra.startswith("zo"):
                    options["zoneout"] = float(extra[2:] or 0.1)
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"unknown option {extra!r} in {part!r}: expected ln, rd<p> or zo<p>"
                ) from None
        variants.append(Variant(cell, **options))  # type: ignore[arg-type]
    if not variants:
        raise ValueError(f"no cell variant in {text!r}")
    return variants


def parse_sizes(text: str) -> list[tuple[int, int, int, int]]:
    """Parse ``100x64x64x128,1000x16x1x64`` into (T, B, I, H) tuples; ValueError when malformed."""
    sizes = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            size = tuple(int(v) for v in part.lower().split("x"))
        except ValueError:
            size = ()
        if len(size) != 4 or min(size) < 1:
            raise ValueError(f"size {part!r} is not TxBxIxH with four positive integers")
        sizes.append(size)
    if not sizes:
        raise ValueError(f"no size in {text!r}")
    return sizes  # type: ignore[return-value]


def plan(
    *,
    quick: bool = False,
    variants: list[Variant] | None = None,
    sizes: list[tuple[int, int, int, int]] | None = None,
    engines: list[str] | None = None,
    modes: list[str] | None = None,
) -> dict[str, object]:
    """Keyword arguments of :func:`run_benchmark` for the CLI's choices (quick or full)."""
    if engines is not None:
        unknown = [e for e in engines if e not in ENGINES]
        if unknown:
            raise ValueError(f"unknown engine(s) {unknown}: expected some of {sorted(ENGINES)}")
    if modes is not None:
        unknown = [m for m in modes if m not in MODES]
        if unknown:
            raise ValueError(f"unknown mode(s) {unknown}: expected some of {list(MODES)}")
    return {
        "variants": variants or (QUICK_VARIANTS if quick else VARIANTS),
        "sizes": sizes or (QUICK_SIZES if quick else SIZES),
        "modes": modes or MODES,
        "engines": engines or (QUICK_ENGINES if quick else None),
    }


def applicable_engines(variant: Variant, engines: Iterable[str] | None = None) -> list[str]:
    """Registered engines (in ``engines`` order if given) that support the variant."""
    spec = CELLS[variant.cell]
    names = list(engines) if engines is not None else ["native", "scan", "loop", "reference"]
    return [n for n in names if n in ENGINES and ENGINE_SUPPORTS[n](spec, variant.options)]


def group_flops(
    variants: Iterable[Variant],
    size: tuple[int, int, int, int],
    mode: str,
    engines: Iterable[str] | None = None,
) -> float:
    """Expected cost of timing one (size, mode) group, for progress estimates: the FLOPs of
    every case's call (each variant's :meth:`~rnnlab.nn.cells.CellSpec.flops_per_step` over
    T · B, once per engine that runs it), about three times that with the backward pass."""
    length, batch, inputs, hidden = size
    engines = None if engines is None else list(engines)
    per_step = sum(
        CELLS[v.cell].flops_per_step(inputs, hidden) * len(applicable_engines(v, engines))
        for v in variants
    )
    return float(length * batch * per_step) * (3.0 if mode == "train" else 1.0)
