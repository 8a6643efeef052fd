"""Recordings in: Neo files (NWB, NIX, …), Neo objects and spike-time arrays → :class:`Recording`.

* :func:`read_recording` reads any file Neo can read and Neo objects, in steps: open without
  loading spikes (:mod:`.sources`, NWB through :mod:`.nwb`), pair the spike trains of the
  segments by name (``_match_neurons``), select units by annotation, cut the trials
  (:mod:`.trials`), label them (:mod:`.labels`), align and crop them, load and check each
  spike train once (:mod:`.sanity`), select units by rate, build the Recording.
* :func:`from_spike_times` builds the same Recording from arrays passed in Python.
"""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Mapping

import numpy as np

from ..._errors import ConfigError, DataError
from .container import _TIME_EPS, Recording, _label, _seconds, _short
from .labels import _assign_conditions
from .sanity import _load_spikes, _select_by_rate, _select_units
from .sources import _from_neo, _neo_segments, _open_file
from .trials import _align, _build, _crop, _cut_trials, _Trial

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
        The trials in the order given, on their own clocks (or aligned on ``align_event``).

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
                          condition=_label(labels[i]), events=ev, name=f"#{i}", zero=0.0))
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


# --------------------------------------------------------------------------- reading


def read_recording(source, *, io=None, condition_key="condition", trial_key=None,
                   align_event=None, t_start=None, t_stop=None, pre=None, post=None,
                   condition_from_name=None, condition_events=None, condition_csv=None,
                   units=None, min_rate=None, margin=0.0, progress=None) -> Recording:
    """Read spike trains with Neo into a :class:`Recording`.

    The file is opened without loading spikes (lazily where the reader can: NWB through
    pynwb, Neo's ``neo.rawio`` readers through proxies); trials are cut, labelled, aligned and
    cropped first, and then each spike train is loaded once, checked (see
    :mod:`~brainbias.data.recordings.sanity`: bad times are errors naming the trial, unsorted
    or duplicated times are repaired with a warning) and cut into the trials.

    Parameters
    ----------
    source : str, os.PathLike, neo.Block, neo.Segment, or sequence of Blocks/Segments
        A file (or folder) Neo can read, or Neo objects. Spike arrays passed in Python go
        through :func:`from_spike_times` instead.
    io : str, neo IO class or neo IO instance, optional
        Which Neo IO reads the file (e.g. ``"NWBIO"``, ``"NixIO"``, ``"NixIOFr"``); default:
        guessed from the extension with ``neo.io.list_candidate_ios``, trying each candidate.
        Neo's PickleIO is refused (never unpickle).
    condition_key : str or None
        Annotation that holds each trial's condition label: a segment annotation (trials =
        segments; for NWB also a column of the segment's row of the trials table), or an
        ``array_annotations`` column of the Epoch/Event named by ``trial_key`` (``"labels"``
        uses its labels). ``None``: every trial is condition ``"all"``.
    trial_key : str, optional
        Name of an Epoch (each interval is a trial) or an Event (each time marks a trial, the
        window being ``[t_start, t_stop]`` or ``[-pre, post]`` around it) to cut trials from
        the segments. ``None``: each segment is a trial. For NWB files, ``"trials"`` is the NWB
        trials table (in every layout: one segment, or one segment per trial).
    align_event : str, optional
        Event whose first occurrence in each trial becomes time 0: an Event name, an Event
        label, an Epoch name, or a numeric column of the ``trial_key`` Epoch or of the
        segment's trials-table row (e.g. an NWB time column such as ``"stimulus_onset"``).
    t_start, t_stop : float or quantity, optional
        Seconds on the (aligned) trial clock: crop every trial to this window, which must lie
        inside every trial. With an Event as ``trial_key`` they define the window.
    pre, post : float or quantity, optional
        Seconds before and after ``align_event`` (or the ``trial_key`` Event): the same as
        ``t_start = -pre``, ``t_stop = post``; not together with ``t_start``/``t_stop``.
    condition_from_name : str, optional
        A regular expression searched in each trial's name (segment name, or the trial
        marker's label): the condition is its group ``condition``, else its first group,
        else the whole match, e.g. ``r"trial_\\d+_(?P<condition>\\w+)"``.
    condition_events : str, optional
        An Event (or Epoch) whose label inside each trial is the trial's condition.
    condition_csv : str or os.PathLike, optional
        A CSV file with columns ``trial`` (trial names, or 0-based positions in file order)
        and ``condition``. At most one of the three ``condition_*`` sources; they replace
        ``condition_key``.
    units : dict, optional
        Keep only units whose annotations match: annotation → value or list of values, e.g.
        ``{"quality": "good", "area": ["V1", "V2"]}``. NWB units-table columns (and the
        electrodes' ``location``) are annotations.
    min_rate : float, optional
        Keep only units firing at least this many Hz on average over the trials (within the
        window when one is given).
    margin : float
        Seconds of data kept on each side of the ``t_start``/``t_stop`` window, where a trial
        has them (for smoothing kernels); the Recording's trials then extend past the window.
    progress : bool or None
        A progress bar over the spike trains read; ``None``: only when stderr is a terminal.

    Returns
    -------
    Recording
        One trial per segment, or per interval/time of the ``trial_key`` marker, in
        segment order; ``trial_names`` name them.

    Raises
    ------
    DataError
        Missing, unreadable or truncated file (the message names the path); a Neo IO whose
        dependency is missing (the message names the package to ``pip install``); segments
        with different neurons; trials without spike trains; bad spike times; a trial
        without a condition label; an alignment event missing in some trials; a window
        outside a trial; no unit left by ``units`` or ``min_rate``.
    ConfigError
        Unknown ``io``; a ``condition_key``, ``trial_key``, ``align_event``, ``units`` key or
        ``condition_events`` that does not exist (with a "did you mean" suggestion); an Event
        ``trial_key`` without a window; conflicting options.

    Warns
    -----
    RecordingWarning
        Spike times sorted or duplicates dropped; units without spikes, or below
        ``min_rate``, dropped; segments without the ``trial_key`` marker skipped.

    Examples
    --------
    >>> from brainbias.data.recordings import read_recording  # doctest: +SKIP
    >>> rec = read_recording("datasets/ground_truth.nwb", trial_key="trials",
    ...                      align_event="stimulus_onset")  # doctest: +SKIP
    """
    window = _window(t_start, t_stop, pre, post, align_event, trial_key)
    with contextlib.ExitStack() as stack:
        if isinstance(source, (str, pathlib.PurePath)):
            path = pathlib.Path(source)
            segments, _ = _open_file(path, io, stack)
            origin = str(path)
        else:
            if io is not None:
                raise ConfigError("io: only used when reading a file; got Neo objects.")
            segments = _from_neo(_neo_segments(source))
            origin = "neo objects passed in Python"
        if not segments:
            raise DataError(f"{origin}: no segments (no data) found.")
        names, order = _match_neurons(segments, origin)
        names, order = _select_units(segments, order, names, units)
        trials, window_used = _cut_trials(segments, order, trial_key=trial_key, window=window,
                                          origin=origin)
        if not trials:
            raise DataError(f"{origin}: no trials (trial_key={trial_key!r}).")
        _assign_conditions(trials, condition_key=condition_key, from_name=condition_from_name,
                           from_events=condition_events, from_csv=condition_csv,
                           trial_key=trial_key)
        if align_event is not None:
            trials = _align(trials, align_event)
        if not window_used and (window[0] is not None or window[1] is not None):
            trials = _crop(trials, *window, margin=float(margin))
        _load_spikes(segments, order, trials, names, progress=progress)
    names = _select_by_rate(trials, names, min_rate, (None, None) if window_used else window)
    return _build(trials, names, source=origin, align_event=align_event)


def _window(t_start, t_stop, pre, post, align_event, trial_key):
    """``(start, stop)`` seconds on the trial clock (each None when not given)."""
    window = (None if t_start is None else float(_seconds(t_start, "s", "t_start")),
              None if t_stop is None else float(_seconds(t_stop, "s", "t_stop")))
    if pre is None and post is None:
        return window
    if t_start is not None or t_stop is not None:
        raise ConfigError("pre, post: give either pre/post (seconds around align_event) or "
                          "t_start/t_stop (seconds on the trial clock), not both.")
    if align_event is None and trial_key is None:
        raise ConfigError("pre, post: seconds before/after an event — set align_event (or "
                          "trial_key to an Event).")
    out = []
    for name, v, sign in (("pre", pre, -1.0), ("post", post, 1.0)):
        if v is None:
            out.append(None)
            continue
        x = float(_seconds(v, "s", name))
        if not (np.isfinite(x) and x >= 0):
            raise ConfigError(f"{name}: expected a non-negative number of seconds, got {v!r}.")
        out.append(sign * x)
    if out[0] is not None and out[1] is not None and not out[1] > out[0]:
        raise ConfigError("pre, post: the window [-pre, post] is empty; make pre + post > 0.")
    return tuple(out)


def _match_neurons(segments, origin):
    """Neuron names and, per segment, the index of each neuron's spike train."""
    counts = [len(seg.trains) for seg in segments]
    for i, (seg, n) in enumerate(zip(segments, counts, strict=True)):
        if n == 0:
            name = seg.name if seg.name else f"#{i}"
            raise DataError(f"{origin}: segment {name!r} has no spike trains (an empty "
                            "trial); remove it or record spikes in it.")
    names = [[st.name for st in seg.trains] for seg in segments]
    usable = all(all(isinstance(x, str) and x for x in nm) and len(set(nm)) == len(nm)
                 for nm in names)
    if usable and all(set(nm) == set(names[0]) for nm in names):
        ref = names[0]
        positions = [{x: i for i, x in enumerate(nm)} for nm in names]
        return tuple(ref), [[pos[x] for x in ref] for pos in positions]
    if len(set(counts)) != 1:
        raise DataError(f"{origin}: segments hold different numbers of spike trains "
                        f"({_short(counts)}) and their names do not identify the neurons; every "
                        "trial needs the same neurons.")
    first = names[0]
    ok = all(isinstance(x, str) and x for x in first) and len(set(first)) == len(first)
    return (tuple(first) if ok else tuple(f"neuron{k}" for k in range(counts[0])),
            [list(range(counts[0]))] * len(segments))
