"""Temporal convolutional network (Bai, Kolter & Koltun 2018, "An Empirical Evaluation of
Generic Convolutional and Recurrent Networks for Sequence Modeling").

Each residual block is two causal dilated convolutions with weight normalisation, ReLU and
dropout, plus a 1x1 convolution on the skip path when the channel count changes (Fig. 1b of the
paper). Block ``i`` uses dilation ``2**i``, so the receptive field grows exponentially with
depth. Causality comes from padding only on the left: the output at step ``t`` sees inputs
``<= t`` and nothing later.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TCN", "TemporalBlock", "WeightNormConv1d"]


class WeightNormConv1d(nn.Module):
    """``Conv1d`` with weight normalisation ``w = g * v / ||v||``, one norm per output channel
    (Salimans & Kingma 2016), as ``weight_g`` and ``weight_v`` parameters. Plain parameters
    rather than torch's parametrizations, which cannot be pickled (``torch.save(model)``,
    multiprocessing)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int
    ) -> None:
        super().__init__()
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)
        # The paper's initialisation: weights ~ N(0, 0.01), and g = ||v|| reproduces them.
        nn.init.normal_(conv.weight, 0.0, 0.01)
        self.dilation = dilation
        self.weight_v = nn.Parameter(conv.weight.detach())
        self.weight_g = nn.Parameter(_channel_norms(conv.weight.detach()))
        self.bias = nn.Parameter(conv.bias.detach())

    @property
    def weight(self) -> Tensor:
        """The effective convolution weight (out_channels, in_channels, kernel_size)."""
        return self.weight_g * self.weight_v / _channel_norms(self.weight_v)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv1d(x, self.weight, self.bias, dilation=self.dilation)


def _channel_norms(weight: Tensor) -> Tensor:
    return torch.linalg.vector_norm(weight, dim=(1, 2), keepdim=True)


class TemporalBlock(nn.Module):
    """One residual block: ``relu(x_skip + dropout(relu(conv2(dropout(relu(conv1(x)))))))``."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int, dropout: float
    ) -> None:
        super().__init__()
        self.left_pad = (kernel_size - 1) * dilation
        self.conv1 = WeightNormConv1d(in_channels, out_channels, kernel_size, dilation)
        self.conv2 = WeightNormConv1d(out_channels, out_channels, kernel_size, dilation)
        self.dropout = nn.Dropout(dropout)
        self.downsample: nn.Conv1d | None = None
        if in_channels != out_channels:
            self.downsample = nn.Conv1d(in_channels, out_channels, 1)
            nn.init.normal_(self.downsample.weight, 0.0, 0.01)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` is channels-first (B, C, T); returns (B, out_channels, T)."""
        out = self.dropout(F.relu(self.conv1(F.pad(x, (self.left_pad, 0)))))
        out = self.dropout(F.relu(self.conv2(F.pad(out, (self.left_pad, 0)))))
        skip = x if self.downsample is None else self.downsample(x)
        return F.relu(out + skip)


class TCN(nn.Module):
    """Causal dilated residual convolution stack with the calling convention of an RNN layer.

    Args:
        input_size: features per time step.
        hidden_size: channels of every block (the output feature size).
        num_layers: number of residual blocks; block ``i`` has dilation ``2**i``.
        kernel_size: convolution width (``>= 1``).
        dropout: dropout probability after each convolution.
        batch_first: input and output are (B, T, F) instead of (T, B, F).

    ``forward(x)`` takes (T, B, input_size) (or (B, T, input_size) with ``batch_first``, or
    unbatched (T, input_size)) and returns ``(output, None)`` with output of the same layout and
    last dimension ``hidden_size``. There is no recurrent state, hence ``None``. Padding at the end
    of shorter sequences does not affect outputs at their valid steps, because the network is
    causal.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        kernel_size: int = 3,
        dropout: float = 0.0,
        batch_first: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
            ("kernel_size", kernel_size),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TCN: {name} must be a positive int, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"TCN: dropout must be in [0, 1), got {dropout!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.kernel_size = kernel_size
        self.batch_first = batch_first
        self.output_size = hidden_size
        self.blocks = nn.ModuleList(
            TemporalBlock(
                input_size if i == 0 else hidden_size, hidden_size, kernel_size, 2**i, dropout
            )
            for i in range(num_layers)
        )

    @property
    def receptive_field(self) -> int:
        """Number of input steps (current one included) that can influence one output step.

        Each block has two convolutions of span ``(kernel_size - 1) * 2**i``, so the field is
        ``1 + 2 * (kernel_size - 1) * (2**num_layers - 1)``.
        """
        return 1 + 2 * (self.kernel_size - 1) * (2**self.num_layers - 1)

    def forward(self, x: Tensor, hx: None = None) -> tuple[Tensor, None]:
        """Run the stack; ``hx`` exists only for RNN call compatibility and must be None."""
        if hx is not None:
            raise ValueError("TCN has no recurrent state: hx must be None")
        if not isinstance(x, Tensor):
            raise TypeError(f"TCN expects a Tensor input, got {type(x).__name__}")
        if x.dim() not in (2, 3):
            raise ValueError(
                f"TCN expects input of rank 3 ({'B, T' if self.batch_first else 'T, B'}, "
                f"{self.input_size}) or rank 2 (T, {self.input_size}), got shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"TCN expects input feature size {self.input_size}, got {x.shape[-1]} "
                f"(input shape {tuple(x.shape)})"
            )
        unbatched = x.dim() == 2
        if unbatched:
            h = x.t().unsqueeze(0)  # (1, F, T)
        elif self.batch_first:
            h = x.transpose(1, 2)  # (B, F, T)
        else:
            h = x.permute(1, 2, 0)  # (B, F, T)
        for block in self.blocks:
            h = block(h)
        if unbatched:
            return h.squeeze(0).t(), None
        if self.batch_first:
            return h.transpose(1, 2), None
        return h.permute(2, 0, 1), None

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"kernel_size={self.kernel_size}, batch_first={self.batch_first}, "
            f"receptive_field={self.receptive_field}"
        )
