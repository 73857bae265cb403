"""rnnlab.models: task models built from any encoder of :mod:`rnnlab.nn`.

Every model is a ``torch.nn.Module`` built from a dataclass config (``Model(config)`` or
``Model(**fields)``) with ``loss(batch) -> Tensor`` for training and
``metrics(batch) -> dict[str, float]`` for evaluation (see :mod:`rnnlab.models.common`).
The networks are named ``...Net`` where an estimator has the plain name
(``rnnlab.Forecaster`` fits a ``ForecastNet``). See docs/models.md.
"""

from rnnlab.deprecation import deprecated_aliases
from rnnlab.models.autoencoder import AutoencoderConfig, SequenceAutoencoder
from rnnlab.models.classifier import ClassifierNet, ClassifierNetConfig
from rnnlab.models.common import TaskModel
from rnnlab.models.decoder import Decoder
from rnnlab.models.encoder import Encoder, EncoderOutput, encoder_names, make_encoder
from rnnlab.models.forecaster import ForecastNet, ForecastNetConfig, pinball_loss
from rnnlab.models.language_model import CharLanguageModel, LanguageModelConfig
from rnnlab.models.music import MusicConfig, MusicModel
from rnnlab.models.params import count_parameters, match_hidden_size
from rnnlab.models.regressor import RegressorConfig, SequenceRegressor
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnlab.models.tagger import SequenceTagger, TaggerConfig

__all__ = [
    "AutoencoderConfig",
    "CharLanguageModel",
    "ClassifierNet",
    "ClassifierNetConfig",
    "Decoder",
    "Encoder",
    "EncoderOutput",
    "ForecastNet",
    "ForecastNetConfig",
    "LanguageModelConfig",
    "MusicConfig",
    "MusicModel",
    "RegressorConfig",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SequenceAutoencoder",
    "SequenceRegressor",
    "SequenceTagger",
    "TaggerConfig",
    "TaskModel",
    "count_parameters",
    "encoder_names",
    "make_encoder",
    "match_hidden_size",
    "pinball_loss",
]

# Old names (one release): the networks were renamed so rnnlab.Forecaster / rnnlab.Classifier
# (the estimators) cannot be confused with them.
__getattr__ = deprecated_aliases(
    __name__,
    {
        "Forecaster": "ForecastNet",
        "ForecasterConfig": "ForecastNetConfig",
        "SequenceClassifier": "ClassifierNet",
        "ClassifierConfig": "ClassifierNetConfig",
    },
    globals(),
)
