"""brainbias: tonic-input (bias-only) control of fixed random rate networks.

The public API is re-exported here explicitly; everything else is private.
"""

from ._errors import (
    BrainbiasError,
    ConfigError,
    DataError,
    SchemaError,
    TrainingError,
    TrainingInterrupted,
)
from ._version import __version__
from .config import (
    EvaluationConfig,
    ExperimentConfig,
    NetworkConfig,
    RecordingConfig,
    TrainingConfig,
)
from .data.targets import TARGETS, make_target
from .data.trajectory import Trajectory
from .experiment.pipeline import run
from .models.base import autonomous_map, simulate, vector_field
from .models.connectivity import ConnectivityConfig
from .models.rate import Network, make_network
from .results import load, save
from .training.control import TRAINING_MODES, Controller, make_controller
from .training.loop import TrainResult, fit

__all__ = [
    "__version__",
    # errors
    "BrainbiasError", "ConfigError", "DataError", "SchemaError", "TrainingError",
    "TrainingInterrupted",
    # models
    "ConnectivityConfig", "Network", "make_network", "simulate", "autonomous_map",
    "vector_field",
    # data
    "Trajectory", "TARGETS", "make_target",
    # training
    "Controller", "TRAINING_MODES", "make_controller", "TrainResult", "fit",
    # config, experiment, results
    "TrainingConfig", "NetworkConfig", "RecordingConfig", "EvaluationConfig",
    "ExperimentConfig", "run", "load", "save",
]
