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
from .container import _TIME_EPS, Recording, RecordingWarning, _describe, _label, _short


@dataclasses.dataclass
class _Trial:
    """A trial on the source clock before it becomes part of a Recording (plain numpy).

    Readers first make the trials' geometry (extent, events, name; ``spikes`` None), label
    and align them, crop them, and only then load the spikes they need.
    """

    spikes: list | None  # (neuron,) of float arrays, seconds, source clock
    start: float
    stop: float
    condition: str | None
    events: dict  # name -> float array, seconds, source clock
    name: str  # the segment's name, the marker interval's label, "<marker>@<t> s", …
    zero: float = None  # the trial clock's origin on the source clock
    segment: int = -1  # index of the segment it was cut from
    origin: tuple = ()  # ("segment", seg) or ("marker", marker, row, seg): its labels

    def __post_init__(self):
        if self.zero is None:
            self.zero = self.start

    @property
    def what(self) -> str:
        return _describe(self.name, self.condition)


def _segment_events(seg, start, stop):
    """Event name/label → times within [start, stop] (seconds), from Events and Epochs.

    Numeric ``array_annotations`` columns of an Epoch with exactly one interval in the window
    (e.g. an NWB trials-table row of a segment that is one trial) are events too.
    """
    out = {}

    def add(name, times):
        if name is None or name == "":
            return
        name = _label(name)
        times = times[(times >= start - _TIME_EPS) & (times <= stop + _TIME_EPS)]
        if name not in out and times.size:
            out[name] = np.sort(times)

    for obj, times, _, labels in seg.markers():
        add(obj.name, times)
        if labels:
            arr = np.array(labels)
            for lab in dict.fromkeys(labels):
                add(lab, times[arr == lab])
    for epoch, row in _single_rows(seg, start, stop):
        for col, values in epoch.array_annotations.items():
            values = np.asarray(values)
            if values.dtype.kind == "f" and np.isfinite(values[row]):
                add(col, np.array([float(values[row])]))
    return out


def _single_rows(seg, start, stop):
    """(epoch, row) for each Epoch of ``seg`` with exactly one interval inside [start, stop]."""
    out = []
    for ep, t, ends, _ in seg.markers():
        if ends is None:
            continue
        inside = np.nonzero((t >= start - _TIME_EPS) & (ends <= stop + _TIME_EPS))[0]
        if inside.size == 1:
            out.append((ep, int(inside[0])))
    return out


def _cut_trials(segments, order, *, trial_key, window, origin):
    """The trials' geometry (no spikes, no conditions yet): one per segment, or cut by the
    Epoch/Event ``trial_key``.

    Returns the trials and whether ``window`` was used to cut them (Event markers).
    """
    if trial_key is None:
        return _segment_trials(segments, order, origin), False
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
                       if m.name and _label(m.name) == trial_key), None)
        if marker is None:
            skipped.append(f"segment {seg.name!r}")
            continue
        cut, used = _marker_trials(seg, s, idx, marker, trial_key=trial_key, window=window,
                                   origin=origin)
        trials.extend(cut)
        window_used = window_used or used
    if skipped:
        warnings.warn(f"trial_key={trial_key!r}: {len(skipped)} segment(s) have no such "
                      f"Epoch/Event and were not used: {_short(skipped, 5)}", RecordingWarning,
                      stacklevel=3)
    return _unique_names(trials), window_used


def _segment_trials(segments, order, origin):
    """One trial per segment, over the extent all its spike trains cover."""
    trials = []
    for i, (seg, idx) in enumerate(zip(segments, order, strict=True)):
        trains = [seg.trains[j] for j in idx]
        start = max(t.t_start for t in trains)
        stop = min(t.t_stop for t in trains)
        name = _label(seg.name) if seg.name else f"segment {i}"
        if not stop > start:
            raise DataError(f"{origin}: segment {name!r} has an empty extent "
                            f"[{start:g}, {stop:g}] s.")
        trials.append(_Trial(spikes=None, start=start, stop=stop, condition=None,
                             events=_segment_events(seg, start, stop), name=name, segment=i,
                             origin=("segment", seg)))
    return _unique_names(trials)


def _unique_names(trials):
    """Repeated names get their position appended (``"default (3)"``)."""
    counts = {}
    for t in trials:
        counts[t.name] = counts.get(t.name, 0) + 1
    seen = {}
    for t in trials:
        if counts[t.name] > 1:
            seen[t.name] = seen.get(t.name, 0) + 1
            t.name = f"{t.name} ({seen[t.name]})"
    return trials


def _marker_trials(seg, s, idx, marker, *, trial_key, window, origin):
    """The trials one segment's Epoch/Event marker cuts, and whether ``window`` was used.

    The marker's numeric ``array_annotations`` columns (e.g. NWB trials-table times) become
    per-trial events, usable for alignment. A trial is named by the marker's label when the
    labels name the trials one to one, else ``"<trial_key>@<start> s"``.
    """
    trains = [seg.trains[j] for j in idx]
    seg_start = max(t.t_start for t in trains)
    seg_stop = min(t.t_stop for t in trains)
    is_epoch = hasattr(marker, "durations")
    times, ends = _marker_intervals(marker, is_epoch, trial_key, window)
    labels = [_label(x) for x in np.asarray(getattr(marker, "labels", [])).reshape(-1)]
    by_label = len(labels) == len(times) and all(labels) and len(set(labels)) == len(labels)
    numeric = {k: np.asarray(v) for k, v in marker.array_annotations.items()
               if np.asarray(v).dtype.kind == "f"}
    trials = []
    for i, (start, stop) in enumerate(zip(times, ends, strict=True)):
        name = labels[i] if by_label else f"{trial_key}@{start:.6g}s"
        if start < seg_start - _TIME_EPS or stop > seg_stop + _TIME_EPS:
            raise DataError(f"{origin}: trial {name!r} of {'epoch' if is_epoch else 'event'} "
                            f"{trial_key!r} spans [{start:g}, {stop:g}] s, outside the "
                            f"recorded extent [{seg_start:g}, {seg_stop:g}] s of segment "
                            f"{seg.name!r}.")
        if not stop > start:
            raise DataError(f"{origin}: trial {name!r} of {trial_key!r} has a non-positive "
                            "duration.")
        events = _segment_events(seg, start, stop)
        for col, values in numeric.items():
            if np.isfinite(values[i]):
                events.setdefault(col, np.array([float(values[i])]))
        trials.append(_Trial(
            spikes=None, start=float(start), stop=float(stop), condition=None, events=events,
            name=name, zero=float(start) if is_epoch else float(start - window[0]), segment=s,
            origin=("marker", marker, i, seg)))
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
            f"trial_key={trial_key!r} names an Event: give t_start and t_stop (or pre and "
            "post: seconds before and after each event) to define the trial window."
        )
    return times + window[0], times + window[1]


def _clip(times, start, stop):
    """The times in [start, stop] (within _TIME_EPS); ``times`` sorted."""
    lo = np.searchsorted(times, start - _TIME_EPS, side="left")
    hi = np.searchsorted(times, stop + _TIME_EPS, side="right")
    return times[lo:hi]


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


def _crop(trials, t_start, t_stop, margin=0.0):
    """Cut every trial to [zero + t_start, zero + t_stop] (each bound optional).

    ``margin`` seconds of data on each side are kept where the trial has them (the smoothing
    kernel of :func:`~.binning.bin_and_smooth` reads spikes just outside its window).
    """
    bad = []
    for t in trials:
        start = t.start if t_start is None else t.zero + t_start
        stop = t.stop if t_stop is None else t.zero + t_stop
        if start < t.start - _TIME_EPS or stop > t.stop + _TIME_EPS:
            bad.append(f"{t.what}: [{t.start - t.zero:g}, {t.stop - t.zero:g}] s")
        elif not stop > start:
            raise DataError(f"t_start={t_start} must be before t_stop={t_stop}.")
        else:
            lo = start - (margin if t_start is not None else 0.0)
            hi = stop + (margin if t_stop is not None else 0.0)
            t.start, t.stop = max(lo, t.start), min(hi, t.stop)
            if t.spikes is not None:
                t.spikes = [_clip(s, t.start, t.stop) for s in t.spikes]
    if bad:
        raise DataError(f"window [{t_start}, {t_stop}] s (trial clock) reaches outside "
                        f"{len(bad)} trial(s), whose extents are {_short(bad, 4)}. Choose a "
                        "window inside every trial.")
    return trials


def _build(trials, names, *, source, align_event):
    """The Recording of loaded, labelled trials (trial clocks, neo.SpikeTrain in seconds)."""
    import neo
    import quantities as pq

    spiketrains, events = [], []
    for t in trials:
        lo, hi = t.start - t.zero, t.stop - t.zero
        q_lo, q_hi = lo * pq.s, hi * pq.s  # quantities, not "s": Neo parses unit strings slowly
        row = []
        for k, s in enumerate(t.spikes):
            rel = np.clip(s - t.zero, lo, hi)  # only moves spikes within _TIME_EPS of an edge
            row.append(neo.SpikeTrain(rel, t_start=q_lo, t_stop=q_hi, units=pq.s,
                                      name=names[k]))
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
        trial_names=tuple(t.name for t in trials),
    )


def _realign(recording: Recording, event: str) -> Recording:
    """Re-zero the trial clocks of an existing Recording on ``event``."""
    trials = [
        _Trial(spikes=[np.asarray(st.magnitude, float) for st in row], start=float(lo),
               stop=float(hi), condition=c, events=dict(ev), name=name, zero=0.0)
        for row, c, ev, lo, hi, name in zip(
            recording.spiketrains, recording.conditions, recording.events,
            recording.trial_t_start, recording.trial_t_stop, recording.trial_names, strict=True)
    ]
    trials = _align(trials, event)
    out = _build(trials, recording.neuron_names, source=recording.source, align_event=event)
    return dataclasses.replace(out, trial_offsets=recording.trial_offsets + out.trial_offsets)
