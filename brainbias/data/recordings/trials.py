"""Trials and conditions: cutting trials from segments, condition labels, alignment, cropping.

Readers (:mod:`.reading`) turn their input into a list of ``_Trial`` (plain numpy, times on the
source clock); the steps here cut, label, align and crop those trials, and ``_build`` turns
them into a :class:`~.container.Recording` (trial clocks, ``neo.SpikeTrain``). ``_realign``
re-zeroes an existing Recording on an event (used by :func:`~.binning.bin_and_smooth`).
Selecting trials or conditions of a Recording is :meth:`Recording.select
<brainbias.data.recordings.Recording.select>`.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ..._errors import ConfigError, DataError, did_you_mean
from .container import _TIME_EPS, Recording, RecordingWarning, _label, _short


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


def _train_seconds(st):
    return np.asarray(st.rescale("s").magnitude, dtype=float).reshape(-1)


def _extent(st):
    return float(st.t_start.rescale("s").magnitude), float(st.t_stop.rescale("s").magnitude)


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
    """_Trial list from segments (trials = segments) or cut by an Epoch/Event.

    Returns the trials and whether ``window`` was used to cut them (Event markers).
    """
    if trial_key is None:
        return _segment_trials(segments, order, condition_key, origin), False
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
    trials = []
    window_used = False
    skipped = []
    for s, (seg, idx) in enumerate(zip(segments, order, strict=True)):
        marker = next((m for m in list(seg.epochs) + list(seg.events)
                       if _label(m.name) == trial_key), None)
        if marker is None:
            skipped.append(f"segment {s} ({seg.name!r})")
            continue
        cut, used = _marker_trials(seg, idx, marker, condition_key=condition_key,
                                   trial_key=trial_key, window=window, origin=origin)
        trials.extend(cut)
        window_used = window_used or used
    if skipped:
        warnings.warn(f"trial_key={trial_key!r}: {len(skipped)} segment(s) have no such "
                      f"Epoch/Event and were not used: {_short(skipped, 5)}", RecordingWarning,
                      stacklevel=3)
    return trials, window_used


def _segment_trials(segments, order, condition_key, origin):
    """One _Trial per segment, over the extent all its spike trains cover."""
    trials = []
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
    return trials


def _marker_trials(seg, idx, marker, *, condition_key, trial_key, window, origin):
    """The _Trials one segment's Epoch/Event marker cuts, and whether ``window`` was used.

    The marker's numeric ``array_annotations`` columns (e.g. NWB trials-table times) become
    per-trial events, usable for alignment.
    """
    trains = [seg.spiketrains[j] for j in idx]
    all_spikes = [_train_seconds(st) for st in trains]
    ext = [_extent(st) for st in trains]
    seg_start, seg_stop = max(e[0] for e in ext), min(e[1] for e in ext)
    is_epoch = hasattr(marker, "durations")
    times, ends = _marker_intervals(marker, is_epoch, trial_key, window)
    cond = _marker_conditions(marker, condition_key, trial_key)
    numeric = {k: np.asarray(v) for k, v in marker.array_annotations.items()
               if np.asarray(v).dtype.kind == "f"}
    trials = []
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
    return trials, not is_epoch


def _marker_intervals(marker, is_epoch, trial_key, window):
    """Trial starts and stops (seconds, source clock) that a marker defines.

    An Epoch's intervals, or ``window`` around each time of an Event.
    """
    times = np.asarray(marker.times.rescale("s").magnitude, dtype=float).reshape(-1)
    if is_epoch:
        ends = times + np.asarray(marker.durations.rescale("s").magnitude, float).reshape(-1)
        return times, ends
    if window[0] is None or window[1] is None:
        raise ConfigError(
            f"trial_key={trial_key!r} names an Event: give t_start and t_stop (seconds "
            "around each event) to define the trial window."
        )
    return times + window[0], times + window[1]


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
