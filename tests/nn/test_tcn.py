"""rnnlab.nn.TCN: causality, shapes, receptive field, initialisation."""

import io
import pickle

import pytest
import torch

from rnnlab.nn.tcn import TCN


def _grad_of_output_step(tcn: TCN, x: torch.Tensor, t: int) -> torch.Tensor:
    """d output[t] / d input, batch-first input (B, T, I); returns |grad| summed to (T,)."""
    x = x.clone().requires_grad_(True)
    out, _ = tcn(x)
    out[:, t].sum().backward()
    return x.grad.abs().sum(dim=(0, 2))


@pytest.mark.parametrize("kernel_size,num_layers", [(2, 3), (3, 2), (5, 1)])
def test_causal_and_receptive_field_via_gradients(kernel_size: int, num_layers: int) -> None:
    torch.manual_seed(0)
    tcn = TCN(3, 6, num_layers, kernel_size=kernel_size, batch_first=True).double()
    rf = tcn.receptive_field
    assert rf == 1 + 2 * (kernel_size - 1) * (2**num_layers - 1)
    seq_len = rf + 6
    t = seq_len - 4
    grad = _grad_of_output_step(tcn, torch.randn(2, seq_len, 3, dtype=torch.float64), t)
    # Nothing after t influences output t ...
    assert torch.all(grad[t + 1 :] == 0)
    # ... every step inside the receptive field does, and nothing before it.
    assert torch.all(grad[t - rf + 1 : t + 1] > 0)
    assert torch.all(grad[: t - rf + 1] == 0)


def test_future_change_leaves_past_outputs_identical() -> None:
    torch.manual_seed(1)
    tcn = TCN(2, 4, 3).eval()
    x = torch.randn(15, 3, 2)
    y, state = tcn(x)
    assert state is None
    x2 = x.clone()
    x2[9:] = torch.randn(6, 3, 2) * 10
    y2, _ = tcn(x2)
    torch.testing.assert_close(y2[:9], y[:9], rtol=0, atol=0)
    assert not torch.allclose(y2[9:], y[9:])


def test_shapes_time_major_batch_first_and_unbatched_agree() -> None:
    torch.manual_seed(2)
    tcn = TCN(5, 7, 2, dropout=0.1).eval()
    x = torch.randn(11, 4, 5)  # (T, B, I)
    y, _ = tcn(x)
    assert y.shape == (11, 4, 7)
    tcn.batch_first = True
    y_bf, _ = tcn(x.transpose(0, 1))
    assert y_bf.shape == (4, 11, 7)
    torch.testing.assert_close(y_bf.transpose(0, 1), y)
    y_single, _ = tcn(x[:, 1])
    assert y_single.shape == (11, 7)
    torch.testing.assert_close(y_single, y[:, 1])


def test_weight_norm_init_and_downsample() -> None:
    torch.manual_seed(3)
    tcn = TCN(3, 64, 2, kernel_size=4)
    first = tcn.blocks[0]
    assert first.downsample is not None and tcn.blocks[1].downsample is None
    std = first.conv2.weight.detach().std().item()
    assert 0.008 < std < 0.012  # N(0, 0.01) as in Bai et al.
    names = {n for n, _ in tcn.named_parameters()}
    assert {"blocks.0.conv1.weight_g", "blocks.0.conv1.weight_v"} <= names  # weight norm
    g, v = first.conv1.weight_g, first.conv1.weight_v
    torch.testing.assert_close(g.flatten(), v.flatten(1).norm(dim=1))  # g = ||v|| at init
    torch.testing.assert_close(first.conv1.weight, v)


def test_tcn_pickles_and_saves_whole() -> None:
    tcn = TCN(3, 8, 2, dropout=0.1).eval()
    x = torch.randn(6, 2, 3)
    buffer = io.BytesIO()
    torch.save(tcn, buffer)
    buffer.seek(0)
    for copy in (pickle.loads(pickle.dumps(tcn)), torch.load(buffer, weights_only=False)):
        torch.testing.assert_close(copy(x)[0], tcn(x)[0])


def test_dropout_only_in_training() -> None:
    tcn = TCN(2, 8, 2, dropout=0.5)
    x = torch.randn(10, 2, 2)
    tcn.eval()
    torch.testing.assert_close(tcn(x)[0], tcn(x)[0])
    tcn.train()
    torch.manual_seed(0)
    a = tcn(x)[0]
    torch.manual_seed(1)
    assert not torch.allclose(a, tcn(x)[0])


def test_bad_input_messages() -> None:
    tcn = TCN(3, 4, 1)
    with pytest.raises(ValueError, match="feature size 3, got 5"):
        tcn(torch.randn(4, 2, 5))
    with pytest.raises(ValueError, match="rank 3"):
        tcn(torch.randn(4, 2, 3, 1))
    with pytest.raises(ValueError, match="hx must be None"):
        tcn(torch.randn(4, 2, 3), torch.zeros(1))
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        TCN(3, 4, 0)
    with pytest.raises(ValueError, match="dropout"):
        TCN(3, 4, 1, dropout=1.0)
