"""NWB files read lazily with pynwb: the segments Neo's NWBIO would make, spikes on demand.

Neo's NWBIO (0.14) cannot read lazily (its proxies fail on ``Segment.spiketrains.append``),
drops the units table's columns (``quality``, electrode ``location``, …), renames events
(``"<segment>  <name> <i>"``) and skips the trials table. This reader follows NWBIO's layout —
segments from the ``segment``/``block`` columns Neo writes (else one segment ``"default"``),
spike-train names from ``_name`` (else ``unit<id>``), events from ``AnnotationSeries`` —
and adds what it skips:

* every units-table column with one scalar per unit becomes a spike-train annotation, and the
  units' electrodes' ``location`` becomes ``location`` (select units with ``units = {...}``);
* event names are restored (``markers``, not ``"trial_0  markers 0"``);
* every table of ``intervals`` (``trials``, ``epochs``, custom tables) becomes, in each segment
  whose extent holds some of its rows, an Epoch named after the table whose
  ``array_annotations`` are the table's columns (Neo-written epochs keep their own names);
* spike times are read per unit, when the trial cutter asks for them (``_Train.load``).

A unit's extent is its ``obs_intervals`` (their span if several); without them every unit
gets the span of all spikes, intervals and events of the file (found one unit at a time).
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np

from .container import _TIME_EPS, RecordingWarning, _label, _short
from .sources import _Segment, _Train

# Columns of the units table that are not per-unit metadata.
_UNIT_SKIP = {"spike_times", "obs_intervals", "_name", "segment", "block", "electrodes",
              "waveforms", "waveform_mean", "waveform_sd", "electrode_group"}
_INTERVAL_SKIP = {"start_time", "stop_time", "tags", "timeseries", "_name", "segment", "block"}


def read_nwb(path, stack) -> list:
    """The segments of an NWB file; the file stays open (closed by ``stack``) for loading."""
    import pynwb

    io = pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True)
    try:
        nwb = io.read()
    except BaseException:
        io.close()
        raise
    stack.callback(io.close)
    segments = {}  # (block, segment) -> _Segment, in order of first appearance
    _add_units(nwb, segments)
    _add_events(nwb, segments)
    _add_intervals(nwb, segments)
    return list(segments.values())


def _segment(segments, key):
    if key not in segments:
        segments[key] = _Segment(name=key[1], annotations={}, trains=[], events=[], epochs=[])
    return segments[key]


def _column(table, name, n):
    """A 1-D column of scalars as a list of str/number (None if ragged or exotic)."""
    try:
        values = np.asarray(table[name].data[:])
    except Exception:  # noqa: BLE001 — ragged, region or compound columns are skipped
        return None
    if values.ndim != 1 or len(values) != n:
        return None
    if values.dtype.kind in "OSU":
        return [_label(v) for v in values]
    if values.dtype.kind in "biuf":
        return values.tolist()
    return None


def _add_units(nwb, segments):
    units = nwb.units
    if units is None or len(units) == 0:
        return
    n, cols = len(units), set(units.colnames)
    ids = np.asarray(units.id[:])
    names = _column(units, "_name", n) if "_name" in cols else None
    names = names or [f"unit{i}" for i in ids]
    seg_col = _column(units, "segment", n) if "segment" in cols else None
    blk_col = _column(units, "block", n) if "block" in cols else None
    ann_cols = {c: v for c in sorted(cols - _UNIT_SKIP) if (v := _column(units, c, n)) is not None}
    locations = _locations(units, n) if "electrodes" in cols else None
    extents = _unit_extents(nwb, units, n, "obs_intervals" in cols)
    for i in range(n):
        key = (blk_col[i] if blk_col else "default", seg_col[i] if seg_col else "default")
        ann = {c: v[i] for c, v in ann_cols.items()}
        if locations is not None and locations[i] is not None:
            ann.setdefault("location", locations[i])
        ann["nwb_unit_id"] = int(ids[i])
        _segment(segments, key).trains.append(_Train(
            name=str(names[i]), t_start=extents[i][0], t_stop=extents[i][1], annotations=ann,
            loader=lambda i=i: units["spike_times"][i]))


def _locations(units, n):
    """Each unit's first electrode's ``location`` (None where it has none)."""
    out = []
    try:
        for i in range(n):
            rows = units["electrodes"][i]
            loc = rows["location"].iloc[0] if "location" in rows else None
            out.append(None if loc is None else _label(loc))
    except Exception:  # noqa: BLE001 — electrodes are optional metadata
        return None
    return out


def _unit_extents(nwb, units, n, has_obs):
    if has_obs:
        out = []
        for i in range(n):
            obs = np.asarray(units["obs_intervals"][i], dtype=float).reshape(-1, 2)
            out.append((float(obs[:, 0].min()), float(obs[:, 1].max())) if obs.size
                       else (None, None))
        if all(e[0] is not None for e in out):
            return out
    lo, hi = 0.0, -np.inf
    for i in range(n):  # one unit at a time
        t = np.asarray(units["spike_times"][i], dtype=float)
        if t.size:
            lo, hi = min(lo, float(np.nanmin(t))), max(hi, float(np.nanmax(t)))
    for table in nwb.intervals.values():
        if len(table):
            lo = min(lo, float(np.min(table["start_time"].data[:])))
            hi = max(hi, float(np.max(table["stop_time"].data[:])))
    if not np.isfinite(hi):
        hi = lo + 1.0
    return [(lo, hi)] * n


def _add_events(nwb, segments):
    import neo
    import pynwb
    import quantities as pq

    for group in (nwb.acquisition, nwb.stimulus):
        for name, ts in group.items():
            if not isinstance(ts, pynwb.misc.AnnotationSeries):
                continue
            try:
                where = json.loads(ts.comments or "{}")
            except ValueError:
                where = {}
            key = (where.get("block", "default"), where.get("segment", "default"))
            if key not in segments and len(segments) == 1:
                key = next(iter(segments))
            labels = np.array([_label(x) for x in np.asarray(ts.data[:]).reshape(-1)])
            event = neo.Event(times=np.asarray(ts.timestamps[:], float) * pq.s, labels=labels,
                              name=_neo_event_name(name, key[1]))
            _segment(segments, key).events.append(event)


def _neo_event_name(name, segment):
    """``"seg  cue 0"`` (how NWBIO writes event ``cue`` of segment ``seg``) → ``"cue"``."""
    prefix = f"{segment}  "
    if name.startswith(prefix) and re.search(r" \d+$", name):
        inner = re.sub(r" \d+$", "", name[len(prefix):])
        return None if inner == "None" else inner  # NWBIO writes an unnamed event as "None"
    return name


def _add_intervals(nwb, segments):
    import neo
    import quantities as pq

    for table_name, table in nwb.intervals.items():
        n = len(table)
        if n == 0:
            continue
        start = np.asarray(table["start_time"].data[:], dtype=float)
        stop = np.asarray(table["stop_time"].data[:], dtype=float)
        cols = set(table.colnames)
        columns = {c: np.asarray(v) for c in sorted(cols - _INTERVAL_SKIP)
                   if (v := _column(table, c, n)) is not None}
        labels = _tags(table, n) if "tags" in cols else np.array([""] * n)
        groups = _interval_groups(table, table_name, n, cols, start, stop, segments)
        for (key, name), rows in groups.items():
            rows = np.asarray(rows, dtype=int)
            epoch = neo.Epoch(times=start[rows] * pq.s, durations=(stop - start)[rows] * pq.s,
                              labels=labels[rows], name=name,
                              array_annotations={c: v[rows] for c, v in columns.items()})
            _segment(segments, key).epochs.append(epoch)


def _tags(table, n):
    try:
        return np.array([_label(t[0]) if len(t) else "" for t in table["tags"][:]])
    except Exception:  # noqa: BLE001 — odd tag columns: no labels
        return np.array([""] * n)


def _interval_groups(table, table_name, n, cols, start, stop, segments):
    """``{(segment key, epoch name): rows}``: Neo's own columns, else rows by containment."""
    if {"_name", "segment"} <= cols:
        names, segs = _column(table, "_name", n), _column(table, "segment", n)
        blocks = _column(table, "block", n) if "block" in cols else ["default"] * n
        groups = {}
        for i in range(n):
            groups.setdefault(((blocks[i], segs[i]), names[i]), []).append(i)
        return groups
    groups, unplaced = {}, []
    extents = {k: s.extent for k, s in segments.items()}
    for i in range(n):
        key = next((k for k, e in extents.items() if e is not None
                    and start[i] >= e[0] - _TIME_EPS and stop[i] <= e[1] + _TIME_EPS), None)
        if key is None and len(segments) == 1:
            key = next(iter(segments))  # one segment: its trials may reach past the units
        if key is None:
            unplaced.append(f"[{start[i]:g}, {stop[i]:g}] s")
            continue
        groups.setdefault((key, table_name), []).append(i)
    if unplaced:
        warnings.warn(f"NWB intervals table {table_name!r}: {len(unplaced)} row(s) lie in no "
                      f"segment's extent and are not used: {_short(unplaced, 4)}",
                      RecordingWarning, stacklevel=6)
    return groups
