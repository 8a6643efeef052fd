"""The ``[recording]`` table: :class:`RecordingConfig` (re-exported by :mod:`brainbias.config`).

It lives next to the code that reads it, like :class:`~brainbias.training.config.TrainingConfig`;
``from brainbias.config import RecordingConfig`` is the usual import.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing

from ..._errors import ConfigError, check_int, check_positive

__all__ = ["RecordingConfig"]

_STRING_KEYS = ("path", "io", "condition_key", "trial_key", "align_event", "condition_from_name",
                "condition_events", "condition_csv", "teacher")


@dataclasses.dataclass(frozen=True)
class RecordingConfig:
    """A spike recording to fit (the ``[recording]`` table): reading, binning and the splits.

    One context per condition. The fit uses the training trials' PSTHs of the held-in neurons;
    the held-out trials and neurons are only used for evaluation
    (:mod:`brainbias.experiment.recording`). ``brainbias inspect FILE`` prints a table to
    start from.

    Parameters
    ----------
    path : str, optional
        A file Neo can read (NWB, NIX, MATLAB ``.mat`` by Neo, vendor formats). In a TOML file
        a relative path is resolved against the config file's folder, otherwise against the
        working directory. May be omitted when a
        :class:`~brainbias.data.recordings.Recording` is passed in Python.
    io, condition_key, trial_key, align_event : str, optional
        As :func:`brainbias.data.recordings.read_recording`: the Neo IO, the annotation or
        trials-table column holding the condition, the Epoch/Event that cuts trials (default:
        one trial per segment), the event that becomes time 0.
    condition_from_name : str, optional
        Conditions from the trials' names (segment names): a regular expression whose group
        ``condition`` (else first group, else whole match) is the condition, e.g.
        ``"trial_\\\\d+_(?P<condition>\\\\w+)"``. Replaces ``condition_key``.
    condition_events : str, optional
        Conditions from an events channel: the Event (or Epoch) of this name whose label
        inside each trial is the trial's condition. Replaces ``condition_key``.
    condition_csv : str, optional
        Conditions from a CSV file with columns ``trial`` (trial names or 0-based positions)
        and ``condition``; resolved like ``path``. Replaces ``condition_key``. At most one of
        the three ``condition_*`` keys.
    pre, post : float, optional
        Seconds before and after ``align_event`` kept as the analysis window (the same as
        ``t_start = -pre``, ``t_stop = post``; not together with them).
    units : table, optional
        Unit selection by annotation (NWB units-table columns are annotations): annotation =
        value or list of values, e.g. ``units = {quality = "good", area = ["V1", "V2"]}``.
    min_rate : float, optional
        Keep only units firing at least this many Hz over the analysis window (all trials).
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

    #: keys holding file paths, resolved against a TOML config's folder
    PATH_KEYS: typing.ClassVar[tuple] = ("path", "teacher", "condition_csv")

    path: str | None = None
    io: str | None = None
    condition_key: str | None = "condition"
    condition_from_name: str | None = None
    condition_events: str | None = None
    condition_csv: str | None = None
    trial_key: str | None = None
    align_event: str | None = None
    pre: float | None = None
    post: float | None = None
    units: dict | None = None
    min_rate: float | None = None
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
        for name in _STRING_KEYS:
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v):
                raise ConfigError(f"recording.{name}: expected a non-empty string, got {v!r}.")
        for name in ("bin_size", "kernel_width"):
            check_positive(f"recording.{name}", getattr(self, name))
        _check_window(self)
        _check_sources(self)
        _check_units(self.units)
        if self.min_rate is not None:
            check_positive("recording.min_rate", self.min_rate, allow_zero=True)
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
            check_positive(f"recording.{name}", v, allow_zero=True)
            if not 0 < v < 1:
                raise ConfigError(f"recording.{name}: expected a number in (0, 1), got {v!r}"
                                  + ("; held-out trials and neurons are what the fit is judged "
                                     "on." if v == 0 else "."))
        check_int("recording.split_seed", self.split_seed, minimum=0)

    def read_options(self) -> dict:
        """The keyword arguments of :func:`~brainbias.data.recordings.read_recording` this
        table sets (the analysis window as ``t_start``/``t_stop``)."""
        window = self.window()
        return {"io": self.io, "condition_key": self.condition_key,
                "condition_from_name": self.condition_from_name,
                "condition_events": self.condition_events,
                "condition_csv": self.condition_csv, "trial_key": self.trial_key,
                "align_event": self.align_event, "t_start": window[0], "t_stop": window[1],
                "units": self.units, "min_rate": self.min_rate}

    def window(self) -> tuple:
        """The analysis window ``(t_start, t_stop)`` in seconds (``pre``/``post`` included;
        None: what every trial covers)."""
        if self.pre is not None or self.post is not None:
            return (None if self.pre is None else -float(self.pre),
                    None if self.post is None else float(self.post))
        return self.t_start, self.t_stop


def _check_window(rc):
    for name in ("t_start", "t_stop"):
        v = getattr(rc, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or not math.isfinite(v)):
            raise ConfigError(f"recording.{name}: expected a number of seconds, got {v!r}.")
    if rc.t_start is not None and rc.t_stop is not None and not rc.t_stop > rc.t_start:
        raise ConfigError(f"recording.t_stop ({rc.t_stop}) must be greater than t_start "
                          f"({rc.t_start}).")
    for name in ("pre", "post"):
        if getattr(rc, name) is not None:
            check_positive(f"recording.{name}", getattr(rc, name), allow_zero=True)
    if rc.pre is None and rc.post is None:
        return
    if rc.t_start is not None or rc.t_stop is not None:
        raise ConfigError("recording.pre, recording.post: seconds around align_event; they "
                          "replace t_start/t_stop — give one pair, not both.")
    if rc.align_event is None and rc.trial_key is None:
        raise ConfigError("recording.pre, recording.post: seconds before/after an event; set "
                          "align_event (or trial_key to an Event).")
    if rc.pre is not None and rc.post is not None and not rc.pre + rc.post > 0:
        raise ConfigError("recording.pre, recording.post: the window [-pre, post] is empty.")


def _check_sources(rc):
    given = [n for n in ("condition_from_name", "condition_events", "condition_csv")
             if getattr(rc, n) is not None]
    if len(given) > 1:
        raise ConfigError(f"recording.{given[1]}: give one source of condition labels; "
                          f"{' and '.join(given)} are both set.")
    if rc.condition_from_name is not None:
        try:
            rx = re.compile(rc.condition_from_name)
        except re.error as exc:
            raise ConfigError(f"recording.condition_from_name: not a valid regular expression "
                              f"({exc}): {rc.condition_from_name!r}. In TOML write a backslash "
                              "as \\\\ (or use a 'literal string').") from None
        if rx.groups > 1 and "condition" not in rx.groupindex:
            raise ConfigError(f"recording.condition_from_name: {rx.groups} groups but none "
                              "named 'condition'; name the one that is the condition "
                              "(?P<condition>...).")


def _check_units(units):
    if units is None:
        return
    if not isinstance(units, dict) or not units:
        raise ConfigError(f"recording.units: expected a table annotation = value, e.g. "
                          f"units = {{quality = \"good\"}}, got {units!r}.")
    for key, v in units.items():
        values = v if isinstance(v, list | tuple) else [v]
        if not values or not all(isinstance(x, str | int | float | bool) for x in values):
            raise ConfigError(f"recording.units.{key}: expected a value or a non-empty list of "
                              f"values (text, numbers, true/false), got {v!r}.")
