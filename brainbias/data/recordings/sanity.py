"""Spikes in, checked: loading each spike train once, what is refused, what is repaired, and
which units are kept.

=====================================  ====================================================
what the file holds                    what happens
=====================================  ====================================================
NaN or infinite spike times            DataError naming the trial and unit
spikes outside the spike train's       DataError naming the trial and unit, with the
``t_start``/``t_stop`` (negative       offending range (negative times with a non-negative
times included)                        ``t_start`` get a hint about clocks)
unsorted spike times                   sorted; one RecordingWarning naming the trials
duplicated spike times (same unit)     duplicates dropped; one RecordingWarning naming the
                                       trials and how many were dropped
a unit without spikes in any trial     dropped with a RecordingWarning naming it (all
                                       units empty: DataError)
a trial without spikes                 kept (silence is data); :func:`~.binning.bin_and_smooth`
                                       warns, naming it
a segment without spike trains         DataError naming the segment
=====================================  ====================================================

Trials are always named by their name and condition (``trial 'trial_3_left' (condition
'left')``), never by a bare index. Unit selection: ``units`` (annotation → value or list of
values; NWB units-table columns are annotations) before any spike is loaded, ``min_rate``
(Hz, over the analysis window) after.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from ..._errors import ConfigError, DataError, did_you_mean
from .container import _TIME_EPS, RecordingWarning, _label, _short
from .trials import _clip


class _Report:
    """Repairs made while loading, warned about once at the end."""

    def __init__(self):
        self.unsorted = {}  # unit -> set of trial descriptions
        self.duplicates = {}  # unit -> [count, set of trial descriptions]

    def warn(self, stacklevel):
        if self.unsorted:
            items = [f"unit {u!r} in {_join(sorted(w), 3)}" for u, w in self.unsorted.items()]
            warnings.warn(f"unsorted spike times were sorted for {len(items)} unit(s): "
                          f"{_join(items, 4, '; ')}", RecordingWarning, stacklevel=stacklevel)
        if self.duplicates:
            total = sum(n for n, _ in self.duplicates.values())
            items = [f"unit {u!r}: {n} in {_join(sorted(w), 3)}"
                     for u, (n, w) in self.duplicates.items()]
            warnings.warn(f"dropped {total} duplicated spike time(s) (a unit cannot fire twice "
                          f"at the same instant) of {len(items)} unit(s): "
                          f"{_join(items, 4, '; ')}", RecordingWarning, stacklevel=stacklevel)


def _join(items, n, sep=", "):
    """``items`` joined, the first ``n`` of them and how many in all."""
    items = list(items)
    head = sep.join(str(x) for x in items[:n])
    return head + (f"{sep}… ({len(items)} in all)" if len(items) > n else "")


def _where(times, trials, segment_name):
    """Descriptions of the trials holding any of ``times`` (or the segment's, outside them)."""
    out = [t.what for t in trials if np.any((times >= t.start - _TIME_EPS)
                                            & (times <= t.stop + _TIME_EPS))]
    return out or [f"segment {segment_name!r} (outside the trials)"]


def _clean(times, train, *, unit, trials, segment_name, report):
    """Checked spike times of one train: sorted, without duplicates, inside its extent."""
    here = (trials[0].what if len(trials) == 1 and trials[0].origin[0] == "segment"
            else f"segment {segment_name!r}")
    bad = ~np.isfinite(times)
    if bad.any():
        raise DataError(f"{here}, unit {unit!r}: {int(bad.sum())} NaN or infinite spike "
                        "time(s). Remove them from the file.")
    lo, hi = train.t_start, train.t_stop
    outside = (times < lo - _TIME_EPS) | (times > hi + _TIME_EPS)
    if outside.any():
        neg = times[outside] < 0
        hint = (" Negative spike times with t_start >= 0: the times may be on another clock "
                "(relative to an event, or to another segment's start)."
                if neg.any() and lo >= 0 else "")
        raise DataError(
            f"{here}, unit {unit!r}: {int(outside.sum())} spike time(s) outside the spike "
            f"train's recorded extent [{lo:g}, {hi:g}] s (they span {times[outside].min():g} "
            f"… {times[outside].max():g} s).{hint} Fix t_start/t_stop or the times in the "
            "file; nothing is dropped silently."
        )
    if times.size > 1 and np.any(np.diff(times) < 0):
        order = np.argsort(times, kind="stable")
        moved = times[order != np.arange(times.size)]
        report.unsorted.setdefault(unit, set()).update(_where(moved, trials, segment_name))
        times = times[order]
    if times.size > 1:
        dup = np.concatenate([[False], np.diff(times) == 0])
        if dup.any():
            entry = report.duplicates.setdefault(unit, [0, set()])
            entry[0] += int(dup.sum())
            entry[1].update(_where(times[dup], trials, segment_name))
            times = times[~dup]
    return times


def _load_spikes(segments, order, trials, names, *, progress):
    """Fill ``spikes`` of every trial, one spike train at a time (lazy readers: one in memory).

    Segments no trial uses are not read. Warns once about repairs (see the module table).
    """
    by_segment = {}
    for t in trials:
        t.spikes = [None] * len(names)
        by_segment.setdefault(t.segment, []).append(t)
    report = _Report()
    jobs = [(s, k) for s in sorted(by_segment) for k in range(len(names))]
    for s, k in _progress(jobs, progress, unit="train"):
        seg, ts = segments[s], by_segment[s]
        train = seg.trains[order[s][k]]
        times = _clean(train.load(), train, unit=names[k], trials=ts, segment_name=seg.name,
                       report=report)
        for t in ts:
            t.spikes[k] = np.array(_clip(times, t.start, t.stop))  # a copy: `times` is freed
    report.warn(stacklevel=4)
    return trials


def _progress(items, progress, **kwargs):
    """``items`` with a tqdm bar (``progress``: True, False, or None = when stderr is a TTY)."""
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress or len(items) < 2:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="reading spike trains", leave=False, **kwargs)


# --------------------------------------------------------------------------- unit selection


def _unit_annotations(segments, order, k):
    """The annotations of neuron ``k`` (first segment's value of each key)."""
    out = {}
    for seg, idx in zip(segments, order, strict=True):
        for key, v in seg.trains[idx[k]].annotations.items():
            out.setdefault(key, v)
    return out


def _matches(value, wanted) -> bool:
    options = wanted if isinstance(wanted, (list, tuple)) else [wanted]
    for w in options:
        if isinstance(w, (int, float)) and not isinstance(w, bool):
            try:
                if float(value) == float(w):
                    return True
            except (TypeError, ValueError):
                pass
        if _label(value) == _label(w):
            return True
    return False


def _select_units(segments, order, names, units):
    """Names and per-segment train indices of the neurons whose annotations match ``units``."""
    if not units:
        return names, order
    if not isinstance(units, dict):
        raise ConfigError(f"units: expected a table annotation = value (or list of values), "
                          f"e.g. {{quality = \"good\"}}, got {units!r}.")
    ann = [_unit_annotations(segments, order, k) for k in range(len(names))]
    have = sorted({key for a in ann for key in a})
    for key in units:
        if key not in have:
            raise ConfigError(f"units: no unit has the annotation {key!r}; the units have "
                              f"{have or 'no annotations'}." + did_you_mean(key, have))
    keep = [k for k, a in enumerate(ann)
            if all(key in a and _matches(a[key], w) for key, w in units.items())]
    if not keep:
        values = {key: sorted({_label(a[key]) for a in ann if key in a}) for key in units}
        raise DataError(f"units={units}: no unit matches; the values in the file are "
                        f"{values}.")
    return tuple(names[k] for k in keep), [[idx[k] for k in keep] for idx in order]


def _select_by_rate(trials, names, min_rate, window):
    """Drop units without spikes (warned) and below ``min_rate`` Hz (over the window)."""
    counts = np.zeros(len(names))
    duration = 0.0
    for t in trials:
        lo = t.start if window[0] is None else max(t.start, t.zero + window[0])
        hi = t.stop if window[1] is None else min(t.stop, t.zero + window[1])
        duration += hi - lo
        counts += [_clip(s, lo, hi).size for s in t.spikes]
    rates = counts / duration if duration > 0 else counts
    total = np.array([sum(t.spikes[k].size for t in trials) for k in range(len(names))])
    empty = total == 0
    if empty.all():
        raise DataError(f"none of the {len(names)} unit(s) has a spike in any trial.")
    keep = ~empty
    if empty.any():
        warnings.warn(f"dropped {int(empty.sum())} unit(s) without a spike in any trial: "
                      f"{_short([names[k] for k in np.nonzero(empty)[0]], 10)}",
                      RecordingWarning, stacklevel=4)
    if min_rate:
        slow = keep & (rates < min_rate)
        if slow.all() or not (keep & ~slow).any():
            best = sorted(zip(rates, names, strict=True), reverse=True)[:5]
            raise DataError(f"min_rate={min_rate:g} Hz: no unit is that fast; the fastest are "
                            + ", ".join(f"{n!r} {r:.3g} Hz" for r, n in best) + ".")
        if slow.any():
            dropped = [f"{names[k]} ({rates[k]:.2g} Hz)" for k in np.nonzero(slow)[0]]
            warnings.warn(f"min_rate={min_rate:g} Hz: dropped {int(slow.sum())} of "
                          f"{int(keep.sum())} unit(s): {_short(dropped, 8)}", RecordingWarning,
                          stacklevel=4)
        keep &= ~slow
    idx = np.nonzero(keep)[0]
    for t in trials:
        t.spikes = [t.spikes[k] for k in idx]
    return tuple(names[k] for k in idx)
