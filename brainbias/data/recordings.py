"""Spike recordings in, binned counts and smoothed rates out: Neo and Elephant at the boundary.

The flow is::

    file Neo can read ─┐
    neo.Block/Segments ┼─► Recording ─► bin_and_smooth ─► xarray Dataset (trial, time, neuron)
    spike-time arrays ─┘   (trials × neurons of          counts (Elephant BinnedSpikeTrain)
                            neo.SpikeTrain, seconds,     rates  (Elephant instantaneous_rate)
                            condition per trial)                   │
                                                                  psth ─► (condition, time, neuron)

* :func:`read_recording` reads any file Neo can read (NWB needs ``pynwb``, NIX needs ``nixio``).
  Trials are Neo segments, or are cut from one segment by an Epoch or an Event you name
  (``trial_key``). Condition labels come from annotations under ``condition_key``: segment
  annotations, or the cutting Epoch/Event's ``array_annotations`` (or its ``labels``). NWB
  files: Neo's NWBIO (0.14) ignores the NWB *trials* table, so it is added here as an Epoch
  named ``"trials"`` whose ``array_annotations`` are the table's columns — read such files with
  ``trial_key="trials"`` (and e.g. ``align_event="stimulus_onset"`` for a time column).
* :func:`from_spike_times` builds the same :class:`Recording` from arrays passed in Python.
* :func:`bin_and_smooth` bins with ``elephant.conversion.BinnedSpikeTrain`` (explicit
  tolerance) and smooths with ``elephant.statistics.instantaneous_rate``. Elephant's history is
  full of float-binning edge cases, so times are handed to Elephant relative to the window
  start (``t_start = 0``, ``t_stop = n_bins · bin_size``: multiples of the bin size), spikes
  within ``tolerance`` bins of an edge are snapped onto it once, for counts and rates alike,
  and the number of rate samples is checked.

Conventions (the choices the issue asked to state):

* Times are seconds everywhere after the boundary; quantities in other time units (ms, µs)
  are converted, non-time quantities are a :class:`DataError`.
* Trial time zero is the trial's start, or ``align_event``'s first occurrence in the trial.
* Bins are half-open ``[edge_k, edge_k+1)``: a spike exactly at the window's ``t_stop`` is not
  counted (it belongs to the next bin, outside the window).
* Spike times outside a trial's ``[t_start, t_stop]`` given to :func:`from_spike_times` are a
  :class:`DataError` (nothing is dropped silently). Spikes of a trial that fall outside the
  *analysis window* of :func:`bin_and_smooth` are simply outside the window (that is what a
  window is), but a window that reaches outside a trial's recorded extent is a DataError.
* Neurons without a spike in the analysis window are dropped with a :class:`RecordingWarning`
  listing them (their names are kept in ``attrs["dropped_neurons"]``, joined by ", ").
  Trials without any spike are kept with a warning (silence is data). Trials without spike
  trains, or with a non-positive duration, are DataErrors.

Neo, Elephant, quantities, pynwb, xarray and nitime are imported inside functions only.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import pathlib
import warnings
from collections.abc import Mapping

import numpy as np

from .._errors import ConfigError, DataError, did_you_mean

__all__ = [
    "Recording",
    "RecordingWarning",
    "KERNELS",
    "DEFAULT_SOFT_NORMALISATION",
    "read_recording",
    "from_spike_times",
    "bin_and_smooth",
    "psth",
    "load_nitime_locust",
]

#: Kernel names accepted by :func:`bin_and_smooth` → ``elephant.kernels`` class names.
KERNELS = {
    "gaussian": "GaussianKernel",
    "exponential": "ExponentialKernel",
    "alpha": "AlphaKernel",
    "laplacian": "LaplacianKernel",
    "rectangular": "RectangularKernel",
    "triangular": "TriangularKernel",
    "epanechnikov": "EpanechnikovLikeKernel",
}
# Causal kernels stay causal (the rate at t depends on spikes before t only): Elephant's
# ``center_kernel`` would move their median onto the spike.
_CAUSAL_KERNELS = ("exponential", "alpha")
#: ``c`` in ``rate / (range + c)``, Hz: the 5 spikes/s of Churchland et al. (2012, Nature 487:51).
DEFAULT_SOFT_NORMALISATION = 5.0
# Slack when comparing times read from files (seconds): NWB/HDF5 round trips are exact, but
# sums like start + duration are not.
_TIME_EPS = 1e-9
# Neo IO module names → the package to `pip install` when the name differs.
_PIP_NAMES = {"cv2": "opencv-python", "yaml": "pyyaml", "sklearn": "scikit-learn",
              "PIL": "pillow", "igor": "igor2"}


class RecordingWarning(UserWarning):
    """Something in a recording was dropped or looks suspicious; the message says what."""


# --------------------------------------------------------------------------- the container


@dataclasses.dataclass(frozen=True, eq=False)
class Recording:
    """Spike trains of ``neuron`` × ``trial`` with a condition label per trial.

    Build it with :func:`read_recording` or :func:`from_spike_times`; the constructor only
    checks consistency.

    Parameters
    ----------
    spiketrains : tuple of tuple of neo.SpikeTrain, shape (trial, neuron)
        In seconds, on each trial's own clock (zero = trial start or the alignment event).
        All spike trains of a trial share ``t_start``/``t_stop`` (the trial's recorded extent).
    conditions : tuple of str, shape (trial,)
        Condition label of each trial.
    neuron_names : tuple of str, shape (neuron,)
    events : tuple of dict, shape (trial,), optional
        Per trial, event name → times (seconds, trial clock) available for alignment.
    trial_offsets : ndarray, shape (trial,), optional
        Time of each trial's zero on the source's clock (seconds): where the trial came from.
    source : str
        Where the data came from (a path, or a description).
    align_event : str or None
        The event the trial clocks are aligned to, if any.

    Raises
    ------
    DataError
        Inconsistent numbers of trials/neurons, spike trains not in seconds, or spike trains
        of one trial with different extents.
    """

    spiketrains: tuple
    conditions: tuple
    neuron_names: tuple
    events: tuple = ()
    trial_offsets: np.ndarray | None = None
    source: str = ""
    align_event: str | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        trains = tuple(tuple(t) for t in self.spiketrains)
        set_(self, "spiketrains", trains)
        set_(self, "conditions", tuple(str(c) for c in self.conditions))
        set_(self, "neuron_names", tuple(str(n) for n in self.neuron_names))
        n_trials, n_neurons = len(trains), len(self.neuron_names)
        if n_trials == 0:
            raise DataError("Recording: no trials.")
        if len(self.conditions) != n_trials:
            raise DataError(f"Recording: {len(self.conditions)} condition labels for "
                            f"{n_trials} trials; give one label per trial.")
        if len(set(self.neuron_names)) != n_neurons:
            raise DataError("Recording: neuron names must be unique, got "
                            f"{_short(self.neuron_names)}.")
        for i, trial in enumerate(trains):
            if len(trial) != n_neurons:
                raise DataError(f"Recording: trial {i} has {len(trial)} spike trains, expected "
                                f"one per neuron ({n_neurons}).")
            extents = {(float(st.t_start.magnitude), float(st.t_stop.magnitude)) for st in trial}
            if len(extents) != 1:
                raise DataError(f"Recording: the spike trains of trial {i} have different "
                                f"t_start/t_stop {sorted(extents)}; cut them to a common extent.")
            if any(st.dimensionality.string != "s" for st in trial):
                raise DataError(f"Recording: trial {i} has spike trains not in seconds; build "
                                "Recordings with read_recording or from_spike_times.")
        events = tuple(dict(e) for e in self.events) or tuple({} for _ in range(n_trials))
        if len(events) != n_trials:
            raise DataError(f"Recording: {len(events)} event dictionaries for {n_trials} trials.")
        set_(self, "events", events)
        offsets = (np.zeros(n_trials) if self.trial_offsets is None
                   else np.asarray(self.trial_offsets, dtype=float))
        if offsets.shape != (n_trials,):
            raise DataError(f"Recording: trial_offsets must have shape ({n_trials},), "
                            f"got {offsets.shape}.")
        set_(self, "trial_offsets", offsets)

    @property
    def n_trials(self) -> int:
        return len(self.spiketrains)

    @property
    def n_neurons(self) -> int:
        return len(self.neuron_names)

    @property
    def trial_t_start(self) -> np.ndarray:
        """Start of each trial's recorded extent, shape (trial,), seconds on the trial clock."""
        return np.array([float(t[0].t_start.magnitude) if t else 0.0 for t in self.spiketrains])

    @property
    def trial_t_stop(self) -> np.ndarray:
        """End of each trial's recorded extent, shape (trial,), seconds on the trial clock."""
        return np.array([float(t[0].t_stop.magnitude) if t else 0.0 for t in self.spiketrains])

    @property
    def t_start(self) -> float:
        """Start of the window every trial covers (the latest trial start)."""
        return float(self.trial_t_start.max())

    @property
    def t_stop(self) -> float:
        """End of the window every trial covers (the earliest trial stop)."""
        return float(self.trial_t_stop.min())

    @property
    def condition_labels(self) -> tuple:
        """Distinct condition labels in order of first appearance."""
        return tuple(dict.fromkeys(self.conditions))

    def spike_times(self, trial: int, neuron) -> np.ndarray:
        """Spike times (seconds, trial clock) of one trial and neuron (index or name)."""
        if isinstance(neuron, str):
            if neuron not in self.neuron_names:
                raise ConfigError(f"neuron: no neuron named {neuron!r}."
                                  + did_you_mean(neuron, self.neuron_names))
            neuron = self.neuron_names.index(neuron)
        return np.asarray(self.spiketrains[trial][neuron].magnitude, dtype=float)

    def select(self, *, conditions=None, trials=None) -> Recording:
        """A Recording with only some conditions and/or trials (order kept).

        Parameters
        ----------
        conditions : sequence of str, optional
            Condition labels to keep.
        trials : sequence of int, optional
            Trial indices to keep (applied together with ``conditions``).

        Raises
        ------
        ConfigError
            An unknown condition label (with a suggestion) or a trial index out of range.
        """
        keep = np.ones(self.n_trials, dtype=bool)
        if conditions is not None:
            wanted = [conditions] if isinstance(conditions, str) else list(conditions)
            for c in wanted:
                if str(c) not in self.condition_labels:
                    raise ConfigError(
                        f"conditions: no condition {c!r} in this recording; it has "
                        f"{list(self.condition_labels)}." + did_you_mean(c, self.condition_labels)
                    )
            keep &= np.isin(np.array(self.conditions), [str(c) for c in wanted])
        if trials is not None:
            idx = np.asarray(trials, dtype=int).reshape(-1)
            if idx.size and (idx.min() < -self.n_trials or idx.max() >= self.n_trials):
                raise ConfigError(f"trials: indices must lie in [0, {self.n_trials}), got "
                                  f"{_short(idx.tolist())}.")
            mask = np.zeros(self.n_trials, dtype=bool)
            mask[idx] = True
            keep &= mask
        sel = np.nonzero(keep)[0]
        if sel.size == 0:
            raise ConfigError("select: no trial left after selection.")
        return dataclasses.replace(
            self,
            spiketrains=tuple(self.spiketrains[i] for i in sel),
            conditions=tuple(self.conditions[i] for i in sel),
            events=tuple(self.events[i] for i in sel),
            trial_offsets=self.trial_offsets[sel],
        )

    def __repr__(self):
        return (f"Recording({self.n_trials} trials, {self.n_neurons} neurons, conditions "
                f"{list(self.condition_labels)}, window [{self.t_start:g}, {self.t_stop:g}] s, "
                f"source={self.source!r})")


# --------------------------------------------------------------------------- internal trials


@dataclasses.dataclass
class _Trial:
    """A trial on the source clock before it becomes part of a Recording (plain numpy)."""

    spikes: list  # (neuron,) of float arrays, seconds, source clock
    start: float
    stop: float
    condition: str
    events: dict  # name -> float array, seconds, source clock
    what: str  # for messages: "segment 3 ('x')", "trial 4 of epoch 'trials'", ...
    zero: float = None  # the trial clock's origin on the source clock

    def __post_init__(self):
        if self.zero is None:
            self.zero = self.start


def _short(items, n=8):
    items = list(items)
    return str(items) if len(items) <= n else str(items[:n])[:-1] + f", … ({len(items)} in all)]"


def _label(value) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _seconds(value, units, what):
    """``value`` (number, array or quantity) in seconds as float64 ndarray."""
    import quantities as pq

    if isinstance(value, pq.Quantity):
        try:
            return np.asarray(value.rescale(pq.s).magnitude, dtype=float)
        except ValueError:
            raise DataError(
                f"{what}: expected times, got a quantity in {value.dimensionality.string!r}. "
                "Pass times in s, ms, us, … (quantities) or plain numbers with `units`."
            ) from None
    try:
        factor = float(pq.Quantity(1.0, units).rescale(pq.s).magnitude)
    except (ValueError, LookupError, TypeError):
        raise ConfigError(
            f"units: expected a time unit such as 's' or 'ms', got {units!r}."
        ) from None
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{what}: expected numbers (times), got {type(value).__name__}.") from None
    return arr * factor


def _check_spikes(times, start, stop, what):
    if times.ndim != 1:
        raise DataError(f"{what}: expected a 1-D array of spike times, got shape {times.shape}.")
    if not np.all(np.isfinite(times)):
        raise DataError(f"{what}: contains NaN or infinite spike times.")
    outside = (times < start - _TIME_EPS) | (times > stop + _TIME_EPS)
    if outside.any():
        raise DataError(
            f"{what}: {int(outside.sum())} spike time(s) outside the trial's "
            f"[{start:g}, {stop:g}] s (min {times.min():g}, max {times.max():g} s). If the times "
            "are in milliseconds pass units='ms' (or quantities); otherwise widen "
            "t_start/t_stop or remove those spikes. Nothing is dropped silently."
        )


def _event_times(value, units, what):
    arr = np.atleast_1d(_seconds(value, units, what)).astype(float)
    return arr[np.isfinite(arr)]


# --------------------------------------------------------------------------- from arrays


def from_spike_times(spike_times, conditions, *, t_start, t_stop, units="s", neuron_names=None,
                     events=None, align_event=None, source="spike times passed in Python"):
    """Build a :class:`Recording` from spike-time arrays.

    Parameters
    ----------
    spike_times : sequence (trial) of sequence (neuron) of array_like
        Spike times per trial and neuron, on the trial's own clock. Plain numbers are in
        ``units``; ``quantities`` arrays are converted from their own time unit.
    conditions : sequence of str, shape (trial,)
        Condition label of each trial.
    t_start, t_stop : float, quantity, or sequence of them (one per trial)
        The recorded extent of each trial (same clock and units as the spike times).
    units : str
        Unit of plain-number times: ``"s"`` (default), ``"ms"``, ``"us"``, …
    neuron_names : sequence of str, optional
        Default ``neuron0, neuron1, …``.
    events : sequence (trial) of mapping, optional
        Per trial, event name → time or times (same units), usable as ``align_event``.
    align_event : str, optional
        Shift every trial's clock so that this event's first occurrence is at 0.
    source : str
        Description stored in the Recording.

    Returns
    -------
    Recording

    Raises
    ------
    DataError
        No trials; trials with different numbers of neurons or without spike trains; spike
        times outside ``[t_start, t_stop]`` or non-finite; non-time quantities;
        ``t_stop <= t_start``; an alignment event missing from some trials.
    ConfigError
        Unknown ``units``; an ``align_event`` that no trial has.

    Examples
    --------
    >>> from brainbias.data.recordings import from_spike_times
    >>> rec = from_spike_times([[[0.1, 0.5], [0.2]], [[0.3], []]], ["left", "right"],
    ...                        t_start=0.0, t_stop=1.0)
    >>> rec.n_trials, rec.n_neurons, rec.condition_labels
    (2, 2, ('left', 'right'))
    """
    if isinstance(spike_times, np.ndarray) and spike_times.dtype != object:
        raise DataError("spike_times: expected a list (trial) of lists (neuron) of arrays, got a "
                        f"numeric array of shape {spike_times.shape}; wrap it as [[times]].")
    trials_in = list(spike_times)
    labels = [conditions] if isinstance(conditions, str) else list(conditions)
    n_trials = len(trials_in)
    if n_trials == 0:
        raise DataError("spike_times: no trials given.")
    if len(labels) != n_trials:
        raise DataError(f"conditions: {len(labels)} labels for {n_trials} trials; give one "
                        "condition label per trial.")
    starts = _per_trial(t_start, n_trials, units, "t_start")
    stops = _per_trial(t_stop, n_trials, units, "t_stop")
    if events is not None and len(events) != n_trials:
        raise DataError(f"events: {len(events)} entries for {n_trials} trials; give one mapping "
                        "(name -> times) per trial.")
    n_neurons = None
    out = []
    for i, trial in enumerate(trials_in):
        if isinstance(trial, np.ndarray) and trial.dtype != object and trial.ndim == 1:
            raise DataError(f"spike_times[{i}]: expected a list with one array per neuron, got a "
                            "single array; wrap it as [times] for one neuron.")
        trial = list(trial)
        if len(trial) == 0:
            raise DataError(f"spike_times[{i}]: empty trial (no spike trains); every trial needs "
                            "one (possibly empty) array per neuron.")
        if n_neurons is None:
            n_neurons = len(trial)
        elif len(trial) != n_neurons:
            raise DataError(f"spike_times[{i}]: {len(trial)} neurons, but trial 0 has {n_neurons};"
                            " every trial needs one array per neuron, in the same order.")
        if not stops[i] > starts[i]:
            raise DataError(f"trial {i}: t_stop ({stops[i]:g} s) must be greater than t_start "
                            f"({starts[i]:g} s).")
        spikes = []
        for k, times in enumerate(trial):
            t = np.atleast_1d(_seconds(times, units, f"spike_times[{i}][{k}]"))
            _check_spikes(t, starts[i], stops[i], f"spike_times[{i}][{k}] (trial {i}, neuron {k})")
            spikes.append(np.sort(t))
        ev = {}
        if events is not None:
            if not isinstance(events[i], Mapping):
                raise DataError(f"events[{i}]: expected a mapping name -> times, got "
                                f"{type(events[i]).__name__}.")
            ev = {str(name): _event_times(v, units, f"events[{i}][{name!r}]")
                  for name, v in events[i].items()}
        out.append(_Trial(spikes=spikes, start=starts[i], stop=stops[i],
                          condition=_label(labels[i]), events=ev, what=f"trial {i}", zero=0.0))
    names = _neuron_names(neuron_names, n_neurons)
    if align_event is not None:
        out = _align(out, align_event)
    return _build(out, names, source=source, align_event=align_event)


def _per_trial(value, n_trials, units, what):
    import quantities as pq

    if isinstance(value, pq.Quantity) or np.ndim(value) == 0:
        v = _seconds(value, units, what)
        if v.size != 1:
            arr = v.reshape(-1)  # a quantity array with one time per trial
        else:
            arr = np.full(n_trials, float(v.reshape(())))
    else:
        arr = np.concatenate([_seconds(v, units, what).reshape(-1) for v in value])
    if arr.shape != (n_trials,):
        raise DataError(f"{what}: expected one time or one per trial ({n_trials}), got "
                        f"{arr.shape[0]}.")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{what}: must be finite, got {_short(arr.tolist())}.")
    return arr


def _neuron_names(names, n):
    if names is None:
        return tuple(f"neuron{k}" for k in range(n))
    names = tuple(str(x) for x in names)
    if len(names) != n:
        raise DataError(f"neuron_names: {len(names)} names for {n} neurons.")
    return names


# --------------------------------------------------------------------------- reading


def read_recording(source, *, io=None, condition_key="condition", trial_key=None,
                   align_event=None, t_start=None, t_stop=None) -> Recording:
    """Read spike trains with Neo into a :class:`Recording`.

    Parameters
    ----------
    source : str, os.PathLike, neo.Block, neo.Segment, or sequence of Blocks/Segments
        A file (or folder) Neo can read, or Neo objects. Spike arrays passed in Python go
        through :func:`from_spike_times` instead.
    io : str, neo IO class or neo IO instance, optional
        Which Neo IO reads the file (e.g. ``"NWBIO"``, ``"NixIO"``); default: guessed from the
        extension with ``neo.io.list_candidate_ios``. Neo's PickleIO is refused (never unpickle).
    condition_key : str or None
        Annotation that holds each trial's condition label: a segment annotation (trials =
        segments), or an ``array_annotations`` column of the Epoch/Event named by
        ``trial_key`` (``"labels"`` uses its labels). ``None``: every trial is condition ``"all"``.
    trial_key : str, optional
        Name of an Epoch (each interval is a trial) or an Event (each time marks a trial, the
        window being ``[t_start, t_stop]`` around it) to cut trials from the segments. ``None``:
        each segment is a trial. For NWB files, ``"trials"`` is the NWB trials table.
    align_event : str, optional
        Event whose first occurrence in each trial becomes time 0: an Event name, an Event
        label, an Epoch name, or a numeric column of the ``trial_key`` Epoch (e.g. an NWB
        trials-table time column such as ``"stimulus_onset"``).
    t_start, t_stop : float or quantity, optional
        Seconds on the (aligned) trial clock: crop every trial to this window, which must lie
        inside every trial. With an Event as ``trial_key`` they define the window (required).

    Returns
    -------
    Recording

    Raises
    ------
    DataError
        Missing, unreadable or truncated file (the message names the path); a Neo IO whose
        dependency is missing (the message names the package to ``pip install``); segments
        with different neurons; trials without spike trains; an alignment event missing in
        some trials; a window outside a trial.
    ConfigError
        Unknown ``io``; a ``condition_key``, ``trial_key`` or ``align_event`` that does not exist
        (with a "did you mean" suggestion); an Event ``trial_key`` without ``t_start``/``t_stop``.

    Examples
    --------
    >>> from brainbias.data.recordings import read_recording  # doctest: +SKIP
    >>> rec = read_recording("datasets/ground_truth.nwb", trial_key="trials",
    ...                      align_event="stimulus_onset")  # doctest: +SKIP
    """
    import neo

    if isinstance(source, (str, pathlib.PurePath)):
        path = pathlib.Path(source)
        segments = _read_file(path, io)
        origin = str(path)
    else:
        if io is not None:
            raise ConfigError("io: only used when reading a file; got Neo objects.")
        items = [source] if isinstance(source, (neo.Block, neo.Segment)) else list(source)
        segments = []
        for obj in items:
            if isinstance(obj, neo.Block):
                segments.extend(obj.segments)
            elif isinstance(obj, neo.Segment):
                segments.append(obj)
            else:
                raise ConfigError(
                    "source: expected a path, a neo.Block, a neo.Segment or a list of them, got "
                    f"{type(obj).__name__}. For spike-time arrays use from_spike_times(...)."
                )
        origin = "neo objects passed in Python"
    if not segments:
        raise DataError(f"{origin}: no segments (no data) found.")
    window = (None if t_start is None else float(_seconds(t_start, "s", "t_start")),
              None if t_stop is None else float(_seconds(t_stop, "s", "t_stop")))
    names, order = _match_neurons(segments, origin)
    trials, window_used = _cut_trials(segments, order, condition_key=condition_key,
                                      trial_key=trial_key, window=window, origin=origin)
    if align_event is not None:
        trials = _align(trials, align_event)
    if not window_used and (window[0] is not None or window[1] is not None):
        trials = _crop(trials, *window)
    return _build(trials, names, source=origin, align_event=align_event)


def _read_file(path: pathlib.Path, io):
    """Blocks' segments from a file, with clear errors for every way reading can fail."""
    import neo

    if not path.exists():
        raise DataError(f"{path}: no such file or directory.")
    instance = None
    if io is None:
        try:
            candidates = list(neo.io.list_candidate_ios(path))
        except (ValueError, OSError) as exc:
            raise DataError(
                f"{path}: Neo has no reader for this file ({exc}). Pass io=<Neo IO name or "
                "class>, e.g. io='NWBIO' or io='NixIO'."
            ) from None
    elif isinstance(io, str):
        names = [c.__name__ for c in neo.io.iolist]
        if io not in names:
            raise ConfigError(f"io: Neo has no IO named {io!r}." + did_you_mean(io, names))
        candidates = [getattr(neo.io, io)]
    elif isinstance(io, type):
        candidates = [io]
    else:
        instance, candidates = io, [type(io)]
    candidates = list(dict.fromkeys(candidates))
    if not candidates:
        raise DataError(f"{path}: Neo has no reader for this file. Pass io=<Neo IO name>.")
    missing, errors = [], []
    for cls in candidates:
        if cls.__name__ == "PickleIO":
            errors.append("neo.io.PickleIO: refused — unpickling runs arbitrary code; convert "
                          "the file to NWB or NIX")
            continue
        reader = instance
        try:
            if reader is None:
                # NixIO opens read-write by default and would lock or modify the file.
                kwargs = {"mode": "ro"} if cls.__module__ == "neo.io.nixio" else {}
                reader = cls(str(path), **kwargs)
            blocks = reader.read(lazy=False)
        except ImportError as exc:
            missing.append((cls.__name__, _pip_name(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 — any reader failure becomes a DataError below
            errors.append(f"neo.io.{cls.__name__}: {type(exc).__name__}: {exc}")
            continue
        finally:
            close = getattr(reader, "close", None)
            if instance is None and callable(close):
                try:
                    close()
                except Exception:  # noqa: BLE001 — closing a reader that failed to open
                    pass
        if isinstance(blocks, neo.Block):
            blocks = [blocks]
        segments = [seg for blk in blocks for seg in blk.segments]
        if cls.__name__ == "NWBIO":
            try:
                _attach_nwb_trials(path, segments)
            except Exception as exc:  # noqa: BLE001 — Neo read it, the trials table is broken
                raise DataError(f"{path}: Neo read the file but its NWB trials table could not "
                                f"be read ({type(exc).__name__}: {exc}).") from exc
        return segments
    if missing and not errors:
        io_name, pkg = missing[0]
        raise DataError(
            f"{path}: reading it with neo.io.{io_name} needs the package {pkg!r}, which is not "
            f"installed. Install it with: pip install {pkg}"
        )
    detail = "; ".join(errors + [f"neo.io.{n}: needs `pip install {p}`" for n, p in missing])
    raise DataError(
        f"{path}: could not be read ({detail}). The file may be truncated, corrupt, or not in "
        "the format its extension says; pass io=<Neo IO name> to choose the reader."
    )


def _pip_name(exc: ImportError) -> str:
    name, msg = exc.name, str(exc)
    if not name and "pip install " in msg:  # Neo's own messages: "... Try `pip install nixio`."
        name = msg.split("pip install ", 1)[1].split()[0].strip("`'\".,")
    if not name and "'" in msg:  # "No module named 'x'"
        name = msg.split("'")[1]
    top = (name or "?").split(".")[0]
    return _PIP_NAMES.get(top, top)


def _attach_nwb_trials(path, segments):
    """Neo's NWBIO (0.14) skips the NWB trials table: add it as an Epoch named "trials"."""
    import neo
    import pynwb
    import quantities as pq

    if len(segments) != 1 or any(ep.name == "trials" for ep in segments[0].epochs):
        return
    with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as reader:
        table = reader.read().trials
        if table is None or len(table) == 0:
            return
        start = np.asarray(table["start_time"].data[:], dtype=float)
        stop = np.asarray(table["stop_time"].data[:], dtype=float)
        columns = {}
        for col in table.colnames:
            if col in ("start_time", "stop_time"):
                continue
            try:
                values = np.asarray(table[col].data[:])
            except Exception:  # noqa: BLE001 — ragged or exotic columns are skipped
                continue
            if values.ndim != 1 or len(values) != len(start):
                continue
            if values.dtype.kind in "OSU":
                values = np.array([_label(v) for v in values])
            columns[col] = values
    epoch = neo.Epoch(times=start * pq.s, durations=(stop - start) * pq.s, name="trials",
                      array_annotations=columns)
    segments[0].epochs.append(epoch)


def _train_seconds(st):
    return np.asarray(st.rescale("s").magnitude, dtype=float).reshape(-1)


def _extent(st):
    return float(st.t_start.rescale("s").magnitude), float(st.t_stop.rescale("s").magnitude)


def _match_neurons(segments, origin):
    """Neuron names and, per segment, the index of each neuron's spike train."""
    counts = [len(seg.spiketrains) for seg in segments]
    for i, (seg, n) in enumerate(zip(segments, counts, strict=True)):
        if n == 0:
            raise DataError(f"{origin}: segment {i} ({seg.name!r}) has no spike trains (an empty "
                            "trial); remove it or record spikes in it.")
    names = [[st.name for st in seg.spiketrains] for seg in segments]
    usable = all(all(isinstance(x, str) and x for x in nm) and len(set(nm)) == len(nm)
                 for nm in names)
    if usable and all(set(nm) == set(names[0]) for nm in names):
        ref = names[0]
        return tuple(ref), [[nm.index(x) for x in ref] for nm in names]
    if len(set(counts)) != 1:
        raise DataError(f"{origin}: segments hold different numbers of spike trains "
                        f"({_short(counts)}) and their names do not identify the neurons; every "
                        "trial needs the same neurons.")
    first = names[0]
    ok = all(isinstance(x, str) and x for x in first) and len(set(first)) == len(first)
    return (tuple(first) if ok else tuple(f"neuron{k}" for k in range(counts[0])),
            [list(range(counts[0]))] * len(segments))


def _segment_events(seg, start, stop):
    """Event name/label → times within [start, stop] (seconds), from Events and Epochs."""
    out = {}

    def add(name, times):
        if name is None or name == "":
            return
        name = _label(name)
        times = times[(times >= start - _TIME_EPS) & (times <= stop + _TIME_EPS)]
        if name not in out and times.size:
            out[name] = np.sort(times)

    for obj in list(seg.events) + list(seg.epochs):
        times = np.asarray(obj.times.rescale("s").magnitude, dtype=float).reshape(-1)
        add(obj.name, times)
        labels = np.asarray(getattr(obj, "labels", []))
        if labels.size == times.size:
            for lab in dict.fromkeys(_label(x) for x in labels):
                add(lab, times[np.array([_label(x) for x in labels]) == lab])
    return out


def _condition_of_segment(seg, i, condition_key):
    if condition_key is None:
        return "all"
    ann = dict(seg.annotations)
    if condition_key in ann:
        return _label(ann[condition_key])
    markers = [m.name for m in list(seg.epochs) + list(seg.events) if m.name]
    hint = (f" The segment holds epochs/events {_short(markers)}: to cut trials from one of "
            "them pass trial_key=<its name>." if markers else "")
    raise ConfigError(
        f"condition_key={condition_key!r}: segment {i} ({seg.name!r}) has no annotation "
        f"{condition_key!r}; its annotations are {sorted(ann)}."
        + did_you_mean(condition_key, ann) + hint
    )


def _cut_trials(segments, order, *, condition_key, trial_key, window, origin):
    """_Trial list from segments (trials = segments) or cut by an Epoch/Event."""
    trials = []
    if trial_key is None:
        for i, (seg, idx) in enumerate(zip(segments, order, strict=True)):
            trains = [seg.spiketrains[j] for j in idx]
            starts, stops = zip(*(_extent(st) for st in trains), strict=True)
            start, stop = max(starts), min(stops)
            if not stop > start:
                raise DataError(f"{origin}: segment {i} ({seg.name!r}) has an empty extent "
                                f"[{start:g}, {stop:g}] s.")
            trials.append(_Trial(
                spikes=[_clip(_train_seconds(st), start, stop) for st in trains],
                start=start, stop=stop, condition=_condition_of_segment(seg, i, condition_key),
                events=_segment_events(seg, start, stop), what=f"segment {i} ({seg.name!r})"))
        return trials, False
    markers = {}
    for seg in segments:
        for m in list(seg.epochs) + list(seg.events):
            if m.name:
                markers.setdefault(_label(m.name), m)
    if trial_key not in markers:
        raise ConfigError(
            f"trial_key={trial_key!r}: no Epoch or Event with that name in {origin}; found "
            f"{sorted(markers) or 'none'}." + did_you_mean(trial_key, markers)
        )
    window_used = False
    skipped = []
    for s, (seg, idx) in enumerate(zip(segments, order, strict=True)):
        marker = next((m for m in list(seg.epochs) + list(seg.events)
                       if _label(m.name) == trial_key), None)
        if marker is None:
            skipped.append(f"segment {s} ({seg.name!r})")
            continue
        trains = [seg.spiketrains[j] for j in idx]
        all_spikes = [_train_seconds(st) for st in trains]
        ext = [_extent(st) for st in trains]
        seg_start, seg_stop = max(e[0] for e in ext), min(e[1] for e in ext)
        times = np.asarray(marker.times.rescale("s").magnitude, dtype=float).reshape(-1)
        is_epoch = hasattr(marker, "durations")
        if is_epoch:
            ends = times + np.asarray(marker.durations.rescale("s").magnitude, float).reshape(-1)
        else:
            if window[0] is None or window[1] is None:
                raise ConfigError(
                    f"trial_key={trial_key!r} names an Event: give t_start and t_stop (seconds "
                    "around each event) to define the trial window."
                )
            window_used = True
            times, ends = times + window[0], times + window[1]
        cond = _marker_conditions(marker, condition_key, trial_key)
        numeric = {k: np.asarray(v) for k, v in marker.array_annotations.items()
                   if np.asarray(v).dtype.kind == "f"}
        for i, (start, stop) in enumerate(zip(times, ends, strict=True)):
            what = f"trial {i} of {'epoch' if is_epoch else 'event'} {trial_key!r}"
            if start < seg_start - _TIME_EPS or stop > seg_stop + _TIME_EPS:
                raise DataError(f"{origin}: {what} spans [{start:g}, {stop:g}] s, outside the "
                                f"recorded extent [{seg_start:g}, {seg_stop:g}] s.")
            if not stop > start:
                raise DataError(f"{origin}: {what} has a non-positive duration.")
            events = _segment_events(seg, start, stop)
            for col, values in numeric.items():
                if np.isfinite(values[i]):
                    events.setdefault(col, np.array([float(values[i])]))
            trials.append(_Trial(
                spikes=[_clip(s, start, stop) for s in all_spikes], start=float(start),
                stop=float(stop), condition=cond[i], events=events, what=what,
                zero=float(start) if is_epoch else float(start - window[0])))
    if skipped:
        warnings.warn(f"trial_key={trial_key!r}: {len(skipped)} segment(s) have no such "
                      f"Epoch/Event and were not used: {_short(skipped, 5)}", RecordingWarning,
                      stacklevel=3)
    return trials, window_used


def _marker_conditions(marker, condition_key, trial_key):
    n = marker.times.size
    if condition_key is None:
        return ["all"] * n
    ann = dict(marker.array_annotations)
    if condition_key in ann:
        return [_label(v) for v in np.asarray(ann[condition_key]).reshape(-1)]
    if condition_key in ("labels", "label"):
        return [_label(v) for v in np.asarray(marker.labels).reshape(-1)]
    options = sorted(ann) + ["labels"]
    raise ConfigError(
        f"condition_key={condition_key!r}: the trial marker {trial_key!r} has no column "
        f"{condition_key!r}; it has {options}." + did_you_mean(condition_key, options)
    )


def _clip(times, start, stop):
    return times[(times >= start - _TIME_EPS) & (times <= stop + _TIME_EPS)]


def _align(trials, event):
    """Move each trial's zero to the first occurrence of ``event`` in it."""
    have = set().union(*(t.events for t in trials))
    if event not in have:
        found = _short(sorted(have)) if have else "none"
        raise ConfigError(f"align_event={event!r}: no trial has such an event; events found: "
                          f"{found}." + did_you_mean(event, have))
    missing = [t.what for t in trials if event not in t.events]
    if missing:
        raise DataError(f"align_event={event!r}: missing in {len(missing)} trial(s): "
                        f"{_short(missing, 5)}. Drop those trials (Recording.select) or align "
                        "to an event every trial has.")
    for t in trials:
        t.zero = float(t.events[event][0])
    return trials


def _crop(trials, t_start, t_stop):
    """Cut every trial to [zero + t_start, zero + t_stop] (each bound optional)."""
    bad = []
    for t in trials:
        start = t.start if t_start is None else t.zero + t_start
        stop = t.stop if t_stop is None else t.zero + t_stop
        if start < t.start - _TIME_EPS or stop > t.stop + _TIME_EPS:
            bad.append(f"{t.what}: [{t.start - t.zero:g}, {t.stop - t.zero:g}] s")
        elif not stop > start:
            raise DataError(f"t_start={t_start} must be before t_stop={t_stop}.")
        else:
            t.start, t.stop = max(start, t.start), min(stop, t.stop)
            t.spikes = [_clip(s, t.start, t.stop) for s in t.spikes]
    if bad:
        raise DataError(f"window [{t_start}, {t_stop}] s (trial clock) reaches outside "
                        f"{len(bad)} trial(s), whose extents are {_short(bad, 4)}. Choose a "
                        "window inside every trial.")
    return trials


def _build(trials, names, *, source, align_event):
    import neo

    spiketrains, events = [], []
    for t in trials:
        lo, hi = t.start - t.zero, t.stop - t.zero
        row = []
        for k, s in enumerate(t.spikes):
            rel = np.clip(s - t.zero, lo, hi)  # only moves spikes within _TIME_EPS of an edge
            row.append(neo.SpikeTrain(rel, t_start=lo, t_stop=hi, units="s", name=names[k]))
        spiketrains.append(tuple(row))
        events.append({k: v - t.zero for k, v in t.events.items()})
    return Recording(
        spiketrains=tuple(spiketrains),
        conditions=tuple(t.condition for t in trials),
        neuron_names=names,
        events=tuple(events),
        trial_offsets=np.array([t.zero for t in trials]),
        source=source,
        align_event=align_event,
    )


def _realign(recording: Recording, event: str) -> Recording:
    """Re-zero the trial clocks of an existing Recording on ``event``."""
    trials = [
        _Trial(spikes=[np.asarray(st.magnitude, float) for st in row], start=float(lo),
               stop=float(hi), condition=c, events=dict(ev), what=f"trial {i}", zero=0.0)
        for i, (row, c, ev, lo, hi) in enumerate(zip(
            recording.spiketrains, recording.conditions, recording.events,
            recording.trial_t_start, recording.trial_t_stop, strict=True))
    ]
    trials = _align(trials, event)
    out = _build(trials, recording.neuron_names, source=recording.source, align_event=event)
    return dataclasses.replace(out, trial_offsets=recording.trial_offsets + out.trial_offsets)


# --------------------------------------------------------------------------- binning


def bin_and_smooth(recording: Recording, *, bin_size, kernel="gaussian", kernel_width=0.05,
                   t_start=None, t_stop=None, align_event=None, soft_normalise=False,
                   kernel_cutoff=5.0, tolerance=1e-8, drop_silent=True):
    """Spike counts and kernel-smoothed rates on a common bin grid, as an xarray Dataset.

    Counts come from ``elephant.conversion.BinnedSpikeTrain`` and rates from
    ``elephant.statistics.instantaneous_rate`` sampled once per bin, so ``counts`` and ``rates``
    share the ``time`` axis. Two corrections on top of Elephant, so that the rates integrate to
    the spike counts:

    * Elephant samples the kernel on the bin grid, whose sum × bin is not 1 for coarse bins
      (an exponential kernel 3 bins wide sums to 1.18): rates are divided by that sum.
    * Near the window edges the rates use the trial's spikes outside the window when the trial
      has them (up to ``kernel_cutoff`` widths of padding); where the recording ends, symmetric
      kernels are divided by the part of their mass on recorded bins (the usual edge
      correction; Elephant's own ``border_correction`` also rescales the whole trace to the
      spike count, which would make a rate depend on distant spikes, so it is not used). Causal
      kernels get no correction at the start of the data: they have no past there.

    Parameters
    ----------
    recording : Recording
    bin_size : float or quantity
        Bin width, seconds. Must divide ``t_stop − t_start`` (within ``tolerance`` bins).
    kernel : str
        One of ``KERNELS``. Exponential and alpha kernels stay causal.
    kernel_width : float or quantity
        The kernel's standard deviation (Elephant's ``sigma``), seconds.
    t_start, t_stop : float or quantity, optional
        The analysis window on the (aligned) trial clock; default: the window every trial
        covers (``recording.t_start``, ``recording.t_stop``).
    align_event : str, optional
        Re-align trials to this event first (see :func:`read_recording`).
    soft_normalise : bool or float
        Add ``normalised_rates = rates / (range + c)`` per neuron, with ``range`` the neuron's
        max − min over its condition-averaged rates (PSTHs) and ``c`` in Hz: ``True`` uses
        ``DEFAULT_SOFT_NORMALISATION`` (5 Hz, Churchland et al. 2012), a number sets ``c``.
    kernel_cutoff : float
        Kernel support in multiples of its width (Elephant's ``cutoff``).
    tolerance : float
        Spikes and window edges within this many *bins* of a bin edge are put on the edge
        (Elephant's ``tolerance``, passed explicitly).
    drop_silent : bool
        Drop neurons without any spike in the window (with a warning). If False they are kept
        (their rates are all zero).

    Returns
    -------
    xarray.Dataset
        ``counts`` (trial, time, neuron) int64 and ``rates`` (trial, time, neuron) float64
        [Hz]; optionally ``normalised_rates`` and ``soft_normalisation_scale`` (neuron) [Hz].
        Coordinates: ``trial`` (index into the recording), ``condition`` (trial), ``time``
        (bin centres, s), ``bin_start``/``bin_stop`` (time; the bin edges, s), ``neuron``
        (names). ``attrs``: bin_size, kernel, kernel_width, kernel_cutoff, t_start, t_stop,
        tolerance, align_event, source, dropped_neurons (names joined by ", "),
        soft_normalisation_constant.

    Raises
    ------
    ConfigError
        Non-positive bin size or kernel width, unknown kernel, ``t_stop <= t_start``, or a bin
        size that does not divide the window (the message lists the nearest valid bin sizes).
    DataError
        A window that reaches outside some trial's recorded extent; no neuron with spikes.

    Warns
    -----
    RecordingWarning
        Neurons without spikes in the window (dropped, listed), trials without any spike.

    Examples
    --------
    >>> from brainbias.data.recordings import from_spike_times, bin_and_smooth
    >>> rec = from_spike_times([[[0.05, 0.45], [0.2]]] * 2, ["a", "b"], t_start=0, t_stop=0.5)
    >>> ds = bin_and_smooth(rec, bin_size=0.1, kernel_width=0.05)
    >>> ds.counts.dims, ds.counts.shape
    (('trial', 'time', 'neuron'), (2, 5, 2))
    """
    import xarray as xr

    if not isinstance(recording, Recording):
        raise ConfigError(f"recording: expected a Recording, got {type(recording).__name__}. "
                          "Build one with read_recording or from_spike_times.")
    b = _positive_seconds(bin_size, "bin_size")
    width = _positive_seconds(kernel_width, "kernel_width")
    if kernel not in KERNELS:
        raise ConfigError(f"kernel: expected one of {tuple(KERNELS)}, got {kernel!r}."
                          + did_you_mean(kernel, KERNELS))
    if (isinstance(kernel_cutoff, bool) or not isinstance(kernel_cutoff, (int, float))
            or not kernel_cutoff > 0):
        raise ConfigError(f"kernel_cutoff: expected a positive number, got {kernel_cutoff!r}.")
    if not (isinstance(tolerance, (int, float)) and 0 < tolerance < 0.5):
        raise ConfigError(f"tolerance: expected a number in (0, 0.5) bins, got {tolerance!r}.")
    if align_event is not None:
        recording = _realign(recording, align_event)
    start = recording.t_start if t_start is None else float(_seconds(t_start, "s", "t_start"))
    stop = recording.t_stop if t_stop is None else float(_seconds(t_stop, "s", "t_stop"))
    if not stop > start:
        raise ConfigError(f"t_stop ({stop:g} s) must be greater than t_start ({start:g} s).")
    n_bins = _check_divides(start, stop, b, tolerance)
    lo_ext, hi_ext = recording.trial_t_start, recording.trial_t_stop
    outside = np.nonzero((lo_ext > start + _TIME_EPS) | (hi_ext < stop - _TIME_EPS))[0]
    if outside.size:
        raise DataError(
            f"window [{start:g}, {stop:g}] s reaches outside {outside.size} trial(s) "
            f"{_short(outside.tolist())} (e.g. trial {outside[0]} covers "
            f"[{lo_ext[outside[0]]:g}, {hi_ext[outside[0]]:g}] s). Choose a window inside every "
            "trial (default: the window all trials cover) or drop those trials."
        )

    elephant_kernel = _make_kernel(kernel, width)
    cutoff = max(float(kernel_cutoff), float(getattr(elephant_kernel, "min_cutoff", 0.0)))
    pad = math.ceil(cutoff * width / b)
    causal = kernel in _CAUSAL_KERNELS
    n_trials, n_neurons = recording.n_trials, recording.n_neurons
    # Spike times in bins from the window start, snapped once for counts and rates alike.
    u = [[_snap((np.asarray(st.magnitude, float) - start) / b, tolerance) for st in row]
         for row in recording.spiketrains]
    groups = {}
    for i in range(n_trials):
        lo = min(pad, math.floor((start - lo_ext[i]) / b + tolerance))
        hi = min(pad, math.floor((hi_ext[i] - stop) / b + tolerance))
        groups.setdefault((lo, hi), []).append(i)
    # One set of neo.SpikeTrains (window plus the kernel's padding) serves both Elephant calls,
    # and each call takes a batch of trials: SpikeTrain construction and per-call checks
    # dominate the cost otherwise.
    trains = [None] * n_trials
    rates = np.zeros((n_trials, n_bins, n_neurons))
    with warnings.catch_warnings():
        # Elephant warns when a kernel is widened to its minimal cutoff — handled above.
        warnings.filterwarnings("ignore", message="The width of the kernel was adjusted")
        mass = _kernel_mass(elephant_kernel, b, cutoff, causal)
        for (lo, hi), idx in groups.items():
            batch = _padded_trains([u[i] for i in idx], n_bins, lo, hi, b)
            r = _rate([x for row in batch for x in row], n_bins, lo, hi, b, elephant_kernel,
                      cutoff, causal=causal, mass=mass)
            rates[idx] = r[lo:lo + n_bins].reshape(n_bins, len(idx), n_neurons).transpose(1, 0, 2)
            for i, row in zip(idx, batch, strict=True):
                trains[i] = row
    counts = _count([x for row in trains for x in row], n_bins, b, tolerance)
    counts = counts.reshape(n_trials, n_neurons, n_bins).transpose(0, 2, 1).astype(np.int64)

    names = np.array(recording.neuron_names)
    conditions = np.array(recording.conditions)
    silent = counts.sum(axis=(0, 1)) == 0
    dropped = names[silent].tolist() if drop_silent else []
    if silent.all():
        raise DataError(f"no neuron has a spike in the window [{start:g}, {stop:g}] s; check the "
                        "window and the alignment.")
    if silent.any() and drop_silent:
        warnings.warn(f"dropped {int(silent.sum())} neuron(s) without spikes in "
                      f"[{start:g}, {stop:g}] s: {_short(dropped, 20)}", RecordingWarning,
                      stacklevel=2)
        counts, rates, names = counts[..., ~silent], rates[..., ~silent], names[~silent]
    empty = np.nonzero(counts.sum(axis=(1, 2)) == 0)[0]
    if empty.size:
        warnings.warn(f"{empty.size} trial(s) have no spike in [{start:g}, {stop:g}] s and are "
                      f"kept: {_short(empty.tolist(), 20)}", RecordingWarning, stacklevel=2)

    edges = start + b * np.arange(n_bins + 1)
    coords = {
        "trial": ("trial", np.arange(recording.n_trials)),
        "condition": ("trial", conditions),
        "time": ("time", 0.5 * (edges[:-1] + edges[1:]), {"units": "s", "long_name": "bin centre"}),
        "bin_start": ("time", edges[:-1], {"units": "s"}),
        "bin_stop": ("time", edges[1:], {"units": "s"}),
        "neuron": ("neuron", names),
    }
    data = {
        "counts": (("trial", "time", "neuron"), counts,
                   {"units": "count", "long_name": "spike count per bin"}),
        "rates": (("trial", "time", "neuron"), rates,
                  {"units": "Hz", "long_name": f"{kernel}-smoothed firing rate"}),
    }
    attrs = {
        "bin_size": b,
        "kernel": kernel,
        "kernel_width": width,
        "kernel_cutoff": cutoff,
        "t_start": start,
        "t_stop": stop,
        "tolerance": float(tolerance),
        "align_event": recording.align_event or "",
        "source": recording.source,
        # one string (netCDF turns a 1-element list into a scalar): names joined by ", "
        "dropped_neurons": ", ".join(dropped),
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    if soft_normalise is not False and soft_normalise is not None:
        c = _soft_constant(soft_normalise)
        means = psth(ds).rates.values  # (condition, time, neuron)
        scale = means.max(axis=(0, 1)) - means.min(axis=(0, 1)) + c
        ds["normalised_rates"] = (("trial", "time", "neuron"), rates / scale,
                                  {"units": "1", "long_name": "soft-normalised rate "
                                   "rate / (range + c)"})
        ds["soft_normalisation_scale"] = ("neuron", scale, {"units": "Hz",
                                                             "long_name": "range + c"})
        ds.attrs["soft_normalisation_constant"] = c
    return ds


def _positive_seconds(value, what):
    try:
        v = float(np.asarray(_seconds(value, "s", what)).reshape(()))
    except (ValueError, TypeError):
        raise ConfigError(f"{what}: expected one positive time (seconds), got {value!r}.") from None
    except DataError as exc:
        raise ConfigError(str(exc)) from None
    if not (math.isfinite(v) and v > 0):
        raise ConfigError(f"{what}: expected a positive time in seconds, got {value!r}.")
    return v


def _soft_constant(value):
    if value is True:
        return DEFAULT_SOFT_NORMALISATION
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError("soft_normalise: expected False, True or a constant c >= 0 in Hz, got "
                          f"{value!r}.")
    return float(value)


def _check_divides(start, stop, b, tolerance):
    ratio = (stop - start) / b
    n = round(ratio)
    if n >= 1 and abs(ratio - n) <= tolerance * max(1.0, n):
        return int(n)
    duration = stop - start
    options = sorted({duration / k for k in (math.floor(ratio), math.ceil(ratio)) if k >= 1},
                     key=lambda x: abs(x - b))
    suggestion = ", ".join(f"{x:.6g} s" for x in options)
    raise ConfigError(
        f"bin_size={b:g} s does not divide the window [{start:g}, {stop:g}] s "
        f"({duration:g} s = {ratio:.4g} bins). Nearest valid bin sizes: {suggestion}; or set "
        f"t_stop to {start + max(1, math.floor(ratio)) * b:.6g} s."
    )


def _snap(u, tolerance):
    """Put values within ``tolerance`` of an integer (a bin edge) on it."""
    r = np.round(u)
    return np.where(np.abs(u - r) < tolerance, r, u)


def _padded_trains(u, n_bins, lo, hi, b):
    """neo.SpikeTrains (seconds from the window start) over bins −lo … n_bins + hi.

    ``u`` holds spike times in bins, snapped (see _snap); the extent's end is nudged up by a
    few ulps so that Elephant's ``int((t_stop − t_start) / bin_size)`` does not floor a
    quotient like 1.2 / 0.01 = 119.999… to one bin short.
    """
    import neo
    import quantities as pq

    start, n_total = -lo * b, n_bins + lo + hi
    stop = start + n_total * b
    while int((stop - start) / b) < n_total:
        stop = np.nextafter(stop, np.inf)
    return [[neo.SpikeTrain(x[(x >= -lo) & (x < n_bins + hi)] * b, t_start=start, t_stop=stop,
                            units=pq.s) for x in row] for row in u]


def _count(trains, n_bins, b, tolerance):
    """Counts (train, time) in the window [0, n_bins · b) with Elephant's BinnedSpikeTrain."""
    import quantities as pq
    from elephant.conversion import BinnedSpikeTrain

    with warnings.catch_warnings():
        # Spikes after the window (the rate kernel's padding) are outside it by design.
        warnings.filterwarnings("ignore", message="Binning discarded")
        binned = BinnedSpikeTrain(trains, bin_size=b * pq.s, t_start=0.0 * pq.s,
                                  t_stop=n_bins * b * pq.s, tolerance=tolerance)
    return binned.to_array()


def _rate(trains, n_bins, lo, hi, b, kernel, cutoff, *, causal, mass):
    """Rates (time, train) in Hz on bins −lo … n_bins + hi − 1 of the window.

    Elephant convolves bin counts with the kernel sampled on the bin grid. Two corrections
    (documented in bin_and_smooth): divide by the sampled kernel's mass, so a spike contributes
    exactly one spike to the integral, and for symmetric kernels by the part of that mass that
    falls on recorded bins (edge correction). Both come from one extra train with a spike in
    every bin of the extent: its "rate" times b is that mass, bin by bin.
    """
    import neo
    import quantities as pq
    from elephant.statistics import instantaneous_rate

    n_total = n_bins + lo + hi
    start, stop = trains[0].t_start, trains[0].t_stop
    centres = (np.arange(n_total) + 0.5 - lo) * b
    uniform = neo.SpikeTrain(centres, t_start=start, t_stop=stop, units=pq.s)
    rate = instantaneous_rate(list(trains) + [uniform], sampling_period=b * pq.s, kernel=kernel,
                              cutoff=cutoff, t_start=start, t_stop=stop,
                              center_kernel=not causal, border_correction=False)
    out = np.asarray(rate.rescale("Hz").magnitude, dtype=float)
    if out.shape[0] != n_total:  # _padded_trains makes this unreachable; keep it loud
        raise DataError(f"internal: instantaneous_rate returned {out.shape[0]} bins, expected "
                        f"{n_total}.")
    covered = out[:, -1] * b
    # A causal kernel has no past at the start of the data: no edge correction there (it would
    # divide by ~0 for an alpha kernel); only the mass normalisation.
    norm = np.full(n_total, mass) if causal else covered
    return out[:, :-1] / norm[:, None]


def _kernel_mass(kernel, b, cutoff, causal):
    """Sum × b of Elephant's kernel sampled on the bin grid (1 for a perfectly resolved kernel)."""
    import neo
    import quantities as pq
    from elephant.statistics import instantaneous_rate

    half = math.ceil(cutoff * float(kernel.sigma.rescale(pq.s).magnitude) / b)
    n = 2 * half + 3
    stop = n * b
    while int(stop / b) < n:
        stop = np.nextafter(stop, np.inf)
    st = neo.SpikeTrain([(half + 1.5) * b], t_start=0.0, t_stop=stop, units=pq.s)
    r = instantaneous_rate(st, sampling_period=b * pq.s, kernel=kernel, cutoff=cutoff,
                           t_start=0.0 * pq.s, t_stop=stop * pq.s, center_kernel=not causal)
    return float(np.asarray(r.rescale("Hz").magnitude).sum() * b)


def _make_kernel(name, width):
    import quantities as pq
    from elephant import kernels

    return getattr(kernels, KERNELS[name])(sigma=width * pq.s)


def psth(dataset):
    """Condition averages (PSTHs) of a :func:`bin_and_smooth` dataset.

    Parameters
    ----------
    dataset : xarray.Dataset
        With ``rates`` and ``counts`` (trial, time, neuron) and a ``condition`` coordinate on
        ``trial``.

    Returns
    -------
    xarray.Dataset
        ``rates`` (condition, time, neuron) [Hz], ``mean_counts`` (condition, time, neuron)
        [spikes per bin], ``normalised_rates`` if present, and ``n_trials`` (condition).
        Conditions are in order of first appearance.

    Raises
    ------
    DataError
        A dataset without a ``trial`` dimension, ``condition`` coordinate or ``rates``.
    """
    import xarray as xr

    for what, ok in (("a 'trial' dimension", "trial" in dataset.dims),
                     ("a 'condition' coordinate", "condition" in dataset.coords),
                     ("a 'rates' variable", "rates" in dataset.data_vars)):
        if not ok:
            raise DataError(f"psth: expected a bin_and_smooth dataset with {what}.")
    cond = np.asarray(dataset["condition"].values).astype(str)
    labels = list(dict.fromkeys(cond.tolist()))
    data = {}
    for var, out in (("rates", "rates"), ("counts", "mean_counts"),
                     ("normalised_rates", "normalised_rates")):
        if var not in dataset.data_vars:
            continue
        arr = dataset[var].transpose("trial", "time", "neuron").values.astype(float)
        units = "count/bin" if var == "counts" else dataset[var].attrs.get("units", "")
        data[out] = (("condition", "time", "neuron"),
                     np.stack([arr[cond == lab].mean(axis=0) for lab in labels]),
                     {"units": units})
    data["n_trials"] = ("condition", np.array([int(np.sum(cond == lab)) for lab in labels]))
    coords = {"condition": ("condition", np.array(labels))}
    for name in ("time", "bin_start", "bin_stop", "neuron"):
        if name in dataset.coords:
            c = dataset.coords[name]
            coords[name] = (c.dims, c.values, dict(c.attrs))
    return xr.Dataset(data, coords=coords, attrs=dict(dataset.attrs))


# --------------------------------------------------------------------------- nitime data


def load_nitime_locust():
    """The locust (*Locusta migratoria*) auditory receptor recordings shipped with nitime.

    What this is, honestly: intracellular spike times of an auditory receptor cell, recorded
    for **10 s** each under **two stimuli** — a pure tone amplitude-modulated by Gaussian white
    noise with a cut-off of 200 Hz and of 800 Hz (Rokem et al. 2006, J Neurophysiol
    95:2541; nitime's example says both files are the same cell). So: one neuron, two
    stimulus-driven conditions, one trial each — not a population, and not suited to held-out
    trial evaluation. The stimulus is returned alongside.

    Returns
    -------
    recording : Recording
        2 trials (conditions ``"cutoff_200Hz"``, ``"cutoff_800Hz"``) × 1 neuron
        (``"receptor"``), 0–10 s.
    stimulus : xarray.DataArray, shape (trial, time)
        Stimulus envelope in dB SPL sampled every 50 µs, converted as in nitime's example:
        ``20 log10(a / max a) + intensity`` with the intensity from each file's header.

    Raises
    ------
    DataError
        nitime is not installed (``pip install nitime``), or its data files are missing.
    """
    import xarray as xr

    spec = importlib.util.find_spec("nitime")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("load_nitime_locust needs the package 'nitime' (its data folder holds "
                        "the recordings): pip install nitime")
    folder = pathlib.Path(list(spec.submodule_search_locations)[0]) / "data"
    spikes, stims, labels, headers = [], [], [], []
    for i in (1, 2):
        spike_file = folder / f"grasshopper_spike_times{i}.txt"
        stim_file = folder / f"grasshopper_stimulus{i}.txt"
        for f in (spike_file, stim_file):
            if not f.is_file():
                raise DataError(f"{f}: not found; this nitime installation does not ship the "
                                "locust data (reinstall nitime).")
        header = _nitime_header(spike_file)
        times_us = np.loadtxt(spike_file, comments="#", ndmin=1)
        stim = np.loadtxt(stim_file, ndmin=2)
        spikes.append(times_us * 1e-6)  # the files are in microseconds (nitime's example)
        stims.append(stim)
        cutoff = float(header.get("cut-off frequency (Hz)", "nan"))
        labels.append(f"cutoff_{cutoff:g}Hz")
        headers.append(header)
    dt = float(np.median(np.diff(stims[0][:, 0]))) * 1e-6
    n = min(len(s) for s in stims)
    duration = n * dt
    rec = from_spike_times([[s] for s in spikes], labels, t_start=0.0, t_stop=duration,
                           neuron_names=["receptor"],
                           source=f"nitime {_version('nitime')}: {folder}/grasshopper_*.txt")
    db = []
    for stim, header in zip(stims, headers, strict=True):
        a = np.maximum(stim[:n, 1], np.finfo(float).tiny)
        db.append(20.0 * np.log10(a / a.max()) + float(header.get("intensity (dB)", "0")))
    stimulus = xr.DataArray(
        np.stack(db),
        dims=("trial", "time"),
        coords={"trial": np.arange(2), "condition": ("trial", np.array(labels)),
                "time": ("time", np.arange(n) * dt, {"units": "s"}),
                "cutoff_frequency": ("trial", [float(h.get("cut-off frequency (Hz)", "nan"))
                                               for h in headers], {"units": "Hz"})},
        name="stimulus",
        attrs={"units": "dB SPL", "description": "pure tone amplitude-modulated by Gaussian "
               "white noise; envelope converted to dB SPL as in nitime's grasshopper example",
               "reference": "Rokem et al. (2006) J Neurophysiol 95:2541-2552"},
    )
    return rec, stimulus


def _nitime_header(path):
    out = {}
    with open(path) as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            key, _, value = line[1:].partition(":")
            out[key.strip()] = value.strip()
    return out


def _version(package):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"
