"""Recordings in: Neo files (NWB, NIX, …), Neo objects and spike-time arrays → :class:`Recording`.

* :func:`read_recording` reads any file Neo can read and Neo objects; ``_read_file`` picks the
  Neo IO and turns every way reading can fail into a DataError; ``_attach_nwb_trials`` adds
  the NWB trials table that Neo's NWBIO skips, as an Epoch named ``"trials"``;
  ``_match_neurons`` pairs the spike trains of different segments by name.
* :func:`from_spike_times` builds the same Recording from arrays passed in Python.

Cutting trials, condition labels and alignment are in :mod:`.trials`.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

import numpy as np

from ..._errors import ConfigError, DataError, did_you_mean
from .container import _TIME_EPS, Recording, _label, _seconds, _short
from .trials import _align, _build, _crop, _cut_trials, _Trial

# Neo IO module names → the package to `pip install` when the name differs.
_PIP_NAMES = {"cv2": "opencv-python", "yaml": "pyyaml", "sklearn": "scikit-learn",
              "PIL": "pillow", "igor": "igor2"}


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
        One trial per segment, or per interval/time of the ``trial_key`` marker, in
        segment order.

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
    instance, candidates = _candidate_ios(path, io)
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


def _candidate_ios(path, io):
    """The IO instance given (or None) and the Neo IO classes to try on ``path``, in order."""
    import neo

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
    return instance, candidates


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
