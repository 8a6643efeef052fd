"""Run configuration: frozen dataclasses that validate themselves, built from TOML tables.

Unknown keys are errors with a "did you mean" suggestion; values are type-checked and
range-checked on construction. ``ExperimentConfig.from_toml(path)`` is what ``brainbias fit``
reads; ``to_dict()`` is what a results file stores (as JSON) to rebuild the run.

:class:`TrainingConfig` (and :func:`to_dict` with it) lives in :mod:`brainbias.training.config`,
next to the code that reads it, and is re-exported here with the other tables.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import typing
from pathlib import Path

from ._errors import (
    ConfigError,
    check_int,
    check_positive,
    dataclass_of,
    did_you_mean,
    missing_tables,
    qualified,
    read_toml,
    suggest_key,
    table_index,
    table_name,
    type_message,
    type_ok,
)
from .data.recordings.config import RecordingConfig
from .models.connectivity import ConnectivityConfig
from .models.ltc import LTCConfig
from .models.rate import FORMS, NONLINEARITIES
from .models.registry import family_class
from .training.config import TrainingConfig, check_choice, to_dict

__all__ = [
    "NetworkConfig",
    "TrainingConfig",
    "EvaluationConfig",
    "RecordingConfig",
    "ExperimentConfig",
    "from_dict",
    "to_dict",
    "defaulted_sections",
    "key_index",
    "read_toml",
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

        A relative ``[recording] path`` (and ``teacher``, ``condition_csv``) is resolved against
        the config file's folder, so that a config and its data can move together. The tables
        the file leaves out take their documented defaults; :func:`defaulted_sections` says
        which.

        Raises
        ------
        ConfigError
            The path is missing, a folder, unreadable, not a text file, empty or not valid
            TOML; or a key or value is wrong (the message says where it belongs).
        """
        path = Path(path)
        data = read_toml(path)
        config = from_dict(cls, data, where=str(path))
        rec = config.recording
        if rec is not None:
            resolved = {name: os.path.normpath(path.parent.absolute() / getattr(rec, name))
                        for name in rec.PATH_KEYS if getattr(rec, name) is not None
                        and not Path(getattr(rec, name)).is_absolute()}
            if resolved:
                config = dataclasses.replace(config,
                                             recording=dataclasses.replace(rec, **resolved))
        top = tuple(t for t in missing_tables(cls, data) if "." not in t)  # [network], ...
        object.__setattr__(config, "_defaulted_sections", top)
        return config

    def to_dict(self) -> dict:
        return to_dict(self)


def _toml(value) -> str:
    """``value`` as it is written in TOML (for messages that say what to write)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if not isinstance(value, str) else f'"{value}"'


def from_dict(cls, data, *, where="config"):
    """Build config dataclass ``cls`` from nested dicts, rejecting unknown keys and bad types.

    An unknown key is an error that names the closest key or the table the key belongs to
    (``gain`` under ``[network]`` → ``[network.connectivity]``); every message starts with
    ``where`` (the file) and names the key with its full dotted path.
    """
    try:
        return _from_dict(cls, data, ())
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _from_dict(cls, data, section: tuple):
    """:func:`from_dict` for the table at ``section`` (messages without the file name)."""
    dotted = ".".join(section)
    if not isinstance(data, dict):
        what = f"{table_name(section)} " if section else ""
        raise ConfigError(f"{dotted or 'config'}: expected a table {what}(key = value lines), "
                          f"got {type(data).__name__} {data!r}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            where = f" in {table_name(section)}" if section else ""
            raise ConfigError(f"unknown key {key!r}{where}." + suggest_key(key, section,
                                                                          key_index())
                              + f" Known keys{where}: {sorted(fields)}.")
        hint = hints[key]
        sub = dataclass_of(hint)
        if sub is not None and not (value is None and sub is not hint):
            kwargs[key] = _from_dict(sub, value, section + (key,))
        elif not type_ok(value, hint):
            raise ConfigError(type_message(".".join(section + (key,)), hint, value,
                                           fields[key].default))
        else:
            kwargs[key] = _target_tables(value) if key == "targets" else value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(qualified(str(exc), section, fields)) from None


def _target_tables(value) -> tuple:
    """The ``[[targets]]`` tables, each a table whose ``kind`` and ``name`` are text."""
    for i, t in enumerate(value):
        if not isinstance(t, dict):
            raise ConfigError(f"targets[{i}]: expected a [[targets]] table, got "
                              f"{type(t).__name__} {t!r}.")
        for name in ("kind", "name"):
            if name in t and not isinstance(t[name], str):
                raise ConfigError(f"targets[{i}].{name}: expected text in double quotes, got "
                                  f"{type(t[name]).__name__} {t[name]!r}.")
    return tuple(dict(t) for t in value)


@functools.lru_cache(maxsize=1)
def key_index() -> dict:
    """Every config key → the tables that hold it (tuples of names, ``()`` = the top level).

    Built from the dataclass tree of :class:`ExperimentConfig` and the keyword arguments of the
    target generators (``[[targets]]``), so that a misplaced key's message can say where it
    belongs.
    """
    from .data.targets.registry import TARGETS

    targets = {name for g in TARGETS.values() for name in inspect.signature(g).parameters}
    return table_index(ExperimentConfig, {("targets",): sorted(targets | {"kind"})})


def defaulted_sections(config) -> tuple:
    """The tables of the TOML file ``config`` was read from that were missing, and so took
    their documented defaults (dotted names, e.g. ``("training", "evaluation")``); ``()`` for a
    config built in Python.

    Examples
    --------
    >>> defaulted_sections(ExperimentConfig())
    ()
    """
    return tuple(getattr(config, "_defaulted_sections", ()))


