"""make_rnn forwards Recurrent's options and shows Recurrent's signature."""

import inspect
import pydoc

import torch

from rnnlab.nn import make_rnn
from rnnlab.nn.recurrent import Recurrent


def test_signature_is_recurrents_without_self():
    ours = inspect.signature(make_rnn)
    theirs = list(inspect.signature(Recurrent.__init__).parameters.values())[1:]
    assert list(ours.parameters.values()) == theirs
    assert "zoneout" in ours.parameters and ours.parameters["engine"].default == "auto"
    text = pydoc.render_doc(make_rnn)
    assert "recurrent_dropout: 'float' = 0.0" in text and "-> 'Recurrent'" in text


def test_every_option_is_forwarded():
    options = dict(
        bias=True,
        batch_first=True,
        dropout=0.25,
        bidirectional=True,
        proj_size=2,
        layer_norm=False,
        recurrent_dropout=0.1,
        zoneout=0.2,
        forget_bias=1.0,
        engine="reference",
        check_finite=True,
        dtype=torch.float64,
    )
    torch.manual_seed(0)
    made = make_rnn("lstm", 3, 4, 2, **options)
    torch.manual_seed(0)
    built = Recurrent("lstm", 3, 4, 2, **options)
    assert repr(made) == repr(built)
    assert made.state_dict().keys() == built.state_dict().keys()
    for name, tensor in made.state_dict().items():
        assert torch.equal(tensor, built.state_dict()[name]), name
    assert made.batch_first and made.bidirectional and made.engine == "reference"
    assert not any(
        "bias" in name for name in dict(make_rnn("gru", 3, 4, bias=False).named_parameters())
    )
