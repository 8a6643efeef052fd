"""Run configuration: frozen dataclasses that validate themselves, built from TOML tables.

Unknown keys are errors with a "did you mean" suggestion; values are type-checked and
range-checked on construction. ``ExperimentConfig.from_toml(path)`` is what ``brainbias fit``
reads; ``to_dict()`` is what a results file stores (as JSON) to rebuild the run.

:class:`TrainingConfig` (and :func:`to_dict` with it) lives in :mod:`brainbias.training.config`,
next to the code that reads it, and is re-exported here with the other tables.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from pathlib import Path

from ._errors import ConfigError, check_int, check_positive, did_you_mean
from .models.connectivity import ConnectivityConfig
from .models.ltc import LTCConfig
from .models.rate import FORMS, NONLINEARITIES
from .models.registry import family_class
from .training.config import TrainingConfig, check_choice, check_fraction, to_dict

__all__ = [
    "NetworkConfig",
    "TrainingConfig",
    "EvaluationConfig",
    "RecordingConfig",
    "ExperimentConfig",
    "from_dict",
    "to_dict",
]


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """The fixed network (the ``[network]`` table): family, size, time constant, weight scales.

    ``dt`` is not set here: the network makes one step per target sample, so ``dt`` is the
    targets' sampling interval (all targets must share it) and ``tau`` is in the same unit.
    Keys that only one family reads are errors when ``model`` names another.

    Parameters
    ----------
    model : {"rate", "ltc"}
        The model family (:data:`brainbias.models.registry.FAMILIES`): ``rate``, the firing-rate
        network (:mod:`brainbias.models.rate`); ``ltc``, the liquid time-constant network with
        conductance-based synapses (:mod:`brainbias.models.ltc`), configured in
        ``[network.ltc]``.
    n_units : int
        Number of units ``N``, ≥ 1.
    tau : float or "auto"
        Time constant, in the unit of the targets' ``dt`` (``dt ≤ tau``). ``"auto"``: chosen by
        held-out performance over ``tau_grid`` (:mod:`brainbias.experiment.timescale`). With
        ``training.mode = "bias+tau"`` the time constant is also trained, starting from
        ``tau`` (or from each grid value under ``"auto"``).
    tau_grid : list of float, optional
        The candidate time constants of ``tau = "auto"`` (only then; positive, unique). Default
        ``dt × 2^(k/2)``, k = 0 … 8, i.e. 1 … 16 × ``dt`` in steps of √2.
    nonlinearity : {"tanh", "relu", "softplus", "sigmoid", "identity"}
        The rate function φ (:data:`brainbias.models.rate.NONLINEARITIES`). Rate family only.
    form : {"continuous", "discrete"}
        ``continuous``: the leak acts on the state, ``x ← (1−a)x + a(Wφ(x) + …)``, output
        ``Cφ(x)``; ``discrete`` (Williams et al.): on the rates, ``r ← (1−a)r + aφ(Wr + …)``,
        output ``Cr``. Rate family only.
    input_scale : float
        Standard deviation of the fixed input weights ``B``, ≥ 0.
    feedback_scale : float
        Standard deviation of the fixed feedback weights ``F`` (closed loop), ≥ 0.
    readout_scale : float
        ``√N`` × the standard deviation of the fixed readout ``C``, ≥ 0.
    connectivity : table
        The recurrent weight family (:class:`~brainbias.models.connectivity.ConnectivityConfig`,
        ``[network.connectivity]``; default gain 1.2). Rate family only.
    ltc : table, optional
        The LTC network's synapses and solver (:class:`~brainbias.models.ltc.LTCConfig`,
        ``[network.ltc]``); only with ``model = "ltc"`` (default: ``LTCConfig()``).
    """

    model: str = "rate"
    n_units: int = 300
    tau: float | str = 0.1
    tau_grid: tuple | None = None
    nonlinearity: str = "tanh"
    form: str = "continuous"
    input_scale: float = 1.0
    feedback_scale: float = 1.0
    readout_scale: float = 1.0
    connectivity: ConnectivityConfig = ConnectivityConfig(gain=1.2)
    ltc: LTCConfig | None = None

    def __post_init__(self):
        family_class(self.model)
        check_int("network.n_units", self.n_units, minimum=1)
        _check_tau(self.tau, self.tau_grid)
        if self.tau_grid is not None:
            object.__setattr__(self, "tau_grid", tuple(float(t) for t in self.tau_grid))
        for name in ("input_scale", "feedback_scale", "readout_scale"):
            check_positive(f"network.{name}", getattr(self, name), allow_zero=True)
        check_choice("network.nonlinearity", self.nonlinearity, NONLINEARITIES)
        check_choice("network.form", self.form, FORMS)
        _check_family_keys(self)

    def model_options(self) -> dict:
        """The family's own arguments of :func:`brainbias.models.registry.make_model`."""
        if self.model == "ltc":
            return {"config": self.ltc or LTCConfig()}
        return {"connectivity": self.connectivity, "nonlinearity": self.nonlinearity,
                "form": self.form}


#: keys of [network] that only the rate family reads, with their defaults
_RATE_ONLY = {"nonlinearity": "tanh", "form": "continuous",
              "connectivity": ConnectivityConfig(gain=1.2)}


def _check_family_keys(nc: NetworkConfig):
    """Keys set for a family other than ``nc.model`` are errors that say where they belong."""
    if nc.model == "rate" and nc.ltc is not None:
        raise ConfigError('network.ltc: the [network.ltc] table configures model = "ltc", but '
                          'network.model is "rate". Set model = "ltc" or remove the table.')
    if nc.model == "ltc":
        wrong = [k for k, default in _RATE_ONLY.items() if getattr(nc, k) != default]
        if wrong:
            raise ConfigError(
                f"network.{wrong[0]}: belongs to the rate family, but network.model is \"ltc\" "
                f"(set: {', '.join(wrong)}). An LTC network is configured in [network.ltc] "
                "(synapse_scale, connection_probability, gain_range, reversal potentials, "
                "solver); remove these keys or set model = \"rate\".")
        if nc.ltc is None:
            object.__setattr__(nc, "ltc", LTCConfig())


def _check_tau(tau, grid):
    if isinstance(tau, str):
        if tau != "auto":
            raise ConfigError(f'network.tau: expected a positive number or "auto", got {tau!r}.'
                              + did_you_mean(tau, ("auto",)))
    else:
        check_positive("network.tau", tau)
    if grid is None:
        return
    if tau != "auto":
        raise ConfigError(f'network.tau_grid: the grid is searched only with tau = "auto", but '
                          f'tau = {tau!r}. Set tau = "auto" or remove tau_grid.')
    if isinstance(grid, str) or not isinstance(grid, (list, tuple)) or not grid:
        raise ConfigError(f"network.tau_grid: expected a non-empty list of time constants, got "
                          f"{grid!r}.")
    for t in grid:
        check_positive("network.tau_grid", t)
    if len(set(grid)) != len(grid):
        raise ConfigError(f"network.tau_grid: values must be unique, got {list(grid)}.")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """How the trained network is judged (free-running, on the held-out end of each target).

    The first steps of each held-out segment warm the network up, then it runs free for the rest
    (:func:`brainbias.experiment.targets.evaluate`). Autonomous runs are judged over the whole
    target from their initial state, without a warm-up.

    Parameters
    ----------
    washout : int
        Steps of the held-out segment that warm the network up before it runs free: the true
        output is fed back (closed loop) or the true input drives it (driven); ≥ 0. The segment
        must be at least ``washout + 2`` steps long.
    horizon : int
        Number of free-running steps over which the NRMSE is reported (metric ``nrmse``), ≥ 2.
    vpt_threshold : float
        The normalised error at which the valid prediction time ends
        (:func:`brainbias.analysis.metrics.valid_prediction_time`; 0.4 after Pathak et al.
        2018); > 0.
    """

    washout: int = 50
    horizon: int = 100
    vpt_threshold: float = 0.4

    def __post_init__(self):
        check_int("evaluation.washout", self.washout, minimum=0)
        check_int("evaluation.horizon", self.horizon, minimum=2)
        check_positive("evaluation.vpt_threshold", self.vpt_threshold)


@dataclasses.dataclass(frozen=True)
class RecordingConfig:
    """A spike recording to fit (the ``[recording]`` table): reading, binning and the splits.

    One context per condition. The fit uses the training trials' PSTHs of the held-in neurons;
    the held-out trials and neurons are only used for evaluation
    (:mod:`brainbias.experiment.recording`).

    Parameters
    ----------
    path : str, optional
        A file Neo can read. In a TOML file a relative path is resolved against the config
        file's folder, otherwise against the working directory. May be omitted when a
        :class:`~brainbias.data.recordings.Recording` is passed in Python.
    io, condition_key, trial_key, align_event : str, optional
        As :func:`brainbias.data.recordings.read_recording`.
    t_start, t_stop : float, optional
        Analysis window, seconds on the (aligned) trial clock; default: what every trial covers.
    bin_size, kernel, kernel_width : float, str, float
        As :func:`brainbias.data.recordings.bin_and_smooth` (seconds; ``bin_size`` is the network's
        ``dt``).
    soft_normalise : bool or float
        MSE targets are ``(rate − mean) / scale`` per neuron, with ``scale = range + c``
        (``True``: c = 5 Hz; a number: c in Hz) or the standard deviation (``False``), all from
        the training trials' PSTHs. Ignored for ``training.loss = "poisson"`` (counts).
    conditions : list of str, optional
        Fit only these conditions (default: all, in order of first appearance).
    test_trial_fraction, test_neuron_fraction : float
        Share of trials per condition held out for evaluation, and of neurons held out for
        co-smoothing; both in (0, 1).
    split_seed : int
        Seed of both splits (stored with the results).
    teacher : str, optional
        For a recording made by a known teacher network: its ``.npz`` file (as
        ``datasets/make_ground_truth*.py`` write them). After the fit, the attractor of every
        condition is compared with the teacher's (kind, period, frequency, decay rate;
        :mod:`brainbias.experiment.groundtruth`) and stored in the results. Resolved like ``path``.
    """

    path: str | None = None
    io: str | None = None
    condition_key: str | None = "condition"
    trial_key: str | None = None
    align_event: str | None = None
    t_start: float | None = None
    t_stop: float | None = None
    bin_size: float = 0.01
    kernel: str = "gaussian"
    kernel_width: float = 0.02
    soft_normalise: bool | float = True
    conditions: tuple | None = None
    test_trial_fraction: float = 0.25
    test_neuron_fraction: float = 0.25
    split_seed: int = 0
    teacher: str | None = None

    def __post_init__(self):
        for name in ("path", "io", "condition_key", "trial_key", "align_event", "teacher"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v):
                raise ConfigError(f"recording.{name}: expected a non-empty string, got {v!r}.")
        for name in ("bin_size", "kernel_width"):
            check_positive(f"recording.{name}", getattr(self, name))
        for name in ("t_start", "t_stop"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not math.isfinite(v)):
                raise ConfigError(f"recording.{name}: expected a number of seconds, got {v!r}.")
        if self.t_start is not None and self.t_stop is not None and not self.t_stop > self.t_start:
            raise ConfigError(f"recording.t_stop ({self.t_stop}) must be greater than t_start "
                              f"({self.t_start}).")
        if not isinstance(self.soft_normalise, bool):
            check_positive("recording.soft_normalise", self.soft_normalise, allow_zero=True)
        if self.conditions is not None:
            conds = self.conditions
            if isinstance(conds, str) or not all(isinstance(c, str) for c in conds) or not conds:
                raise ConfigError("recording.conditions: expected a non-empty list of condition "
                                  f"names, got {conds!r}.")
            if len(set(conds)) != len(conds):
                raise ConfigError(f"recording.conditions: names must be unique, got {list(conds)}.")
            object.__setattr__(self, "conditions", tuple(conds))
        for name in ("test_trial_fraction", "test_neuron_fraction"):
            v = getattr(self, name)
            check_fraction(f"recording.{name}", v, closed=False)
            if v == 0:
                raise ConfigError(f"recording.{name}: expected a number in (0, 1), got 0; "
                                  "held-out trials and neurons are what the fit is judged on.")
        check_int("recording.split_seed", self.split_seed, minimum=0)


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """A whole run: seed, network, training, evaluation and what to fit.

    What to fit is either ``targets`` or ``recording``, not both.

    Parameters
    ----------
    seed : int
        Seed of every random draw of the run (network weights, initial biases, training
        windows), ≥ 0; stored with the results.
    network : table
        The fixed network (:class:`NetworkConfig`, ``[network]``).
    training : table
        How the controller is optimised (:class:`TrainingConfig`, ``[training]``).
    evaluation : table
        How the trained network is judged (:class:`EvaluationConfig`, ``[evaluation]``).
    targets : tuple of dict
        The ``[[targets]]`` tables, one per context, each with a ``kind`` key understood by
        :func:`brainbias.data.targets.make_target` and an optional, unique ``name``.
    recording : table, optional
        A spike recording whose conditions become the contexts (:class:`RecordingConfig`,
        ``[recording]``; :mod:`brainbias.experiment.recording`). It is fitted from a trained
        initial state per condition over the whole analysis window, so it needs
        ``training.run_mode = "autonomous"``, ``train_initial_state = true`` and
        ``test_fraction = 0`` (trials, not time, are held out).
    """

    seed: int = 0
    network: NetworkConfig = NetworkConfig()
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    targets: tuple = ()
    recording: RecordingConfig | None = None

    def __post_init__(self):
        check_int("seed", self.seed, minimum=0)
        if not isinstance(self.targets, tuple):
            object.__setattr__(self, "targets", tuple(self.targets))
        if self.recording is not None:
            if not isinstance(self.recording, RecordingConfig):
                raise ConfigError("recording: expected a RecordingConfig (a [recording] table), "
                                  f"got {type(self.recording).__name__}.")
            if self.targets:
                raise ConfigError(
                    "targets, recording: give either [[targets]] tables or a [recording] table, "
                    f"not both (got {len(self.targets)} target(s) and a recording). A recording's "
                    "conditions are the contexts; fit the targets in a separate run."
                )
            t = self.training
            need = {"run_mode": "autonomous", "train_initial_state": True, "test_fraction": 0.0}
            wrong = {k: getattr(t, k) for k, v in need.items() if getattr(t, k) != v}
            if wrong:
                fix = ", ".join(f"{k} = {_toml(need[k])}" for k in wrong)
                raise ConfigError(
                    f"training: a recording is fitted from a trained initial state per condition "
                    f"over the whole analysis window, holding out trials rather than time; got "
                    f"{', '.join(f'{k}={v!r}' for k, v in wrong.items())}. Set {fix} in "
                    "[training]."
                )
        for i, t in enumerate(self.targets):
            if not isinstance(t, dict) or "kind" not in t:
                raise ConfigError(f"targets[{i}]: expected a table with a 'kind' key, got {t!r}.")
        names = [t.get("name", t["kind"]) for t in self.targets]
        if len(set(names)) != len(names):
            raise ConfigError(f"targets: context names must be unique, got {names}; give each "
                              "[[targets]] table its own `name`.")

    @classmethod
    def from_toml(cls, path) -> ExperimentConfig:
        """Read and validate a TOML config file.

        A relative ``[recording] path`` (and ``teacher``) is resolved against the config
        file's folder, so that a config and its data can move together.
        """
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}).") from None
        config = from_dict(cls, data, where=str(path))
        rec = config.recording
        if rec is not None:
            resolved = {name: os.path.normpath(path.parent.absolute() / getattr(rec, name))
                        for name in ("path", "teacher") if getattr(rec, name) is not None
                        and not Path(getattr(rec, name)).is_absolute()}
            if resolved:
                config = dataclasses.replace(config,
                                             recording=dataclasses.replace(rec, **resolved))
        return config

    def to_dict(self) -> dict:
        return to_dict(self)


def _toml(value) -> str:
    """``value`` as it is written in TOML (for messages that say what to write)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if not isinstance(value, str) else f'"{value}"'


def _dataclass_of(annotation):
    """The dataclass in a hint ``X`` or ``X | None`` (else None)."""
    if dataclasses.is_dataclass(annotation):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and dataclasses.is_dataclass(args[0]):
            return args[0]
    return None


def _type_ok(value, annotation) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in (str, bool):
        return isinstance(value, annotation)
    if annotation is tuple:
        return isinstance(value, (list, tuple))
    return True


def from_dict(cls, data, *, where="config"):
    """Build config dataclass ``cls`` from nested dicts, rejecting unknown keys and bad types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(
                f"{where}: unknown key {key!r}." + did_you_mean(key, fields)
                + f" Known keys: {sorted(fields)}."
            )
        hint = hints[key]
        sub = _dataclass_of(hint)
        if sub is not None and not (value is None and sub is not hint):
            kwargs[key] = from_dict(sub, value, where=f"{where}.{key}" if where else key)
        elif not _type_ok(value, hint):
            raise ConfigError(
                f"{where}.{key}: expected {getattr(hint, '__name__', hint)}, got "
                f"{type(value).__name__} {value!r}."
            )
        else:
            kwargs[key] = tuple(dict(v) for v in value) if key == "targets" else value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
