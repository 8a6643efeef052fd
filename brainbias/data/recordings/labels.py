"""Condition labels of the trials, from one of five places (:func:`_assign_conditions`).

=========================  ==========================================================
source                     each trial's condition is
=========================  ==========================================================
``condition_key``          a segment annotation; else a column of the segment's one row
                           of a trials table (NWB); or, for trials cut by
                           ``trial_key``, a column (``array_annotations``) of that
                           Epoch/Event or its labels
``condition_from_name``    a regular expression on the trial's name (the segment's
                           name, or the marker interval's label): the group
                           ``condition``, else the first group, else the whole match
``condition_events``       the label of the Event (or Epoch) of that name inside the
                           trial
``condition_csv``          the ``condition`` column of a CSV file whose ``trial``
                           column holds trial names (or 0-based positions in file
                           order)
=========================  ==========================================================

Every trial must get exactly one label; a trial that gets none (or two different events) is a
DataError naming it.
"""

from __future__ import annotations

import collections
import csv
import pathlib
import re

import numpy as np

from ..._errors import ConfigError, DataError, did_you_mean
from .container import _TIME_EPS, _label, _short
from .trials import _single_rows

_OTHER_SOURCES = ("Other sources: condition_from_name (a pattern on segment names), "
                  "condition_events (an events channel's labels), condition_csv (a CSV of trial "
                  "-> condition); `brainbias inspect FILE` lists what the file holds.")


def _assign_conditions(trials, *, condition_key, from_name=None, from_events=None,
                       from_csv=None, trial_key=None):
    """Set ``condition`` of every trial from the one source given (see the module table)."""
    given = {k: v for k, v in (("condition_from_name", from_name),
                               ("condition_events", from_events),
                               ("condition_csv", from_csv)) if v is not None}
    if len(given) > 1:
        raise ConfigError(f"{', '.join(given)}: give one source of condition labels, got "
                          f"{len(given)}.")
    if from_name is not None:
        labels = _from_name(trials, from_name)
    elif from_events is not None:
        labels = _from_events(trials, from_events)
    elif from_csv is not None:
        labels = _from_csv(trials, from_csv)
    elif condition_key is None:
        labels = ["all"] * len(trials)
    else:
        labels = _from_key(trials, condition_key, trial_key)
    for t, c in zip(trials, labels, strict=True):
        t.condition = c
    return trials


# --------------------------------------------------------------------------- condition_key


def _from_key(trials, key, trial_key):
    columns = {}  # id(marker) -> labels
    out = []
    for t in trials:
        if t.origin[0] == "segment":
            out.append(_condition_of_segment(t.origin[1], t.name, key))
        else:
            marker, row = t.origin[1], t.origin[2]
            if id(marker) not in columns:
                columns[id(marker)] = _marker_conditions(marker, key, trial_key)
            out.append(columns[id(marker)][row])
    return out


def _condition_of_segment(seg, name, key):
    ann = dict(seg.annotations)
    if key in ann:
        return _label(ann[key])
    rows = _single_rows(seg, *seg.extent) if seg.trains else []
    for epoch, row in rows:
        if key in epoch.array_annotations:
            return _label(np.asarray(epoch.array_annotations[key])[row])
    columns = sorted({c for ep, _ in rows for c in ep.array_annotations})
    markers = [m.name for m in list(seg.epochs) + list(seg.events) if m.name]
    hint = (f" The segment holds epochs/events {_short(markers)}: to cut trials from one of "
            "them pass trial_key=<its name>." if markers else "")
    where = f"; its trials-table row has the columns {columns}" if columns else ""
    raise ConfigError(
        f"condition_key={key!r}: segment {name!r} has no annotation {key!r}; its "
        f"annotations are {sorted(ann)}{where}." + did_you_mean(key, list(ann) + columns)
        + hint + " " + _OTHER_SOURCES
    )


def _marker_conditions(marker, key, trial_key):
    n = marker.times.size
    ann = dict(marker.array_annotations)
    if key in ann:
        return [_label(v) for v in np.asarray(ann[key]).reshape(-1)]
    if key in ("labels", "label"):
        labels = np.asarray(marker.labels).reshape(-1)
        if labels.size == n:
            return [_label(v) for v in labels]
    options = sorted(ann) + ["labels"]
    raise ConfigError(
        f"condition_key={key!r}: the trial marker {trial_key!r} has no column {key!r}; it "
        f"has {options}." + did_you_mean(key, options) + " " + _OTHER_SOURCES
    )


# --------------------------------------------------------------------------- names


def _compile(pattern):
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"condition_from_name={pattern!r}: not a valid regular expression "
                          f"({exc}).") from None
    return rx


def _from_name(trials, pattern):
    rx = _compile(pattern)
    out, bad = [], []
    for t in trials:
        m = rx.search(t.name)
        if m is None:
            bad.append(t.name)
            continue
        if "condition" in rx.groupindex:
            value = m.group("condition")
        else:
            value = m.group(1) if rx.groups else m.group(0)
        if not value:
            bad.append(t.name)
            continue
        out.append(value)
    if bad:
        raise DataError(
            f"condition_from_name={pattern!r}: {len(bad)} of {len(trials)} trial name(s) do "
            f"not match (or match an empty condition): {_short(bad, 5)}. Names look like "
            f"{_short([t.name for t in trials], 3)}; use a named group (?P<condition>...) "
            "for the part that is the condition."
        )
    return out


# --------------------------------------------------------------------------- events


def _from_events(trials, name):
    out, none, several = [], [], []
    found = False
    for t in trials:
        labels = _event_labels(t, name)
        found = found or labels is not None
        distinct = list(dict.fromkeys(labels or []))
        if len(distinct) == 1:
            out.append(distinct[0])
        elif not distinct:
            none.append(t.name)
        else:
            several.append(f"{t.name!r}: {distinct}")
    if not found:
        have = sorted({_label(m.name) for t in trials for m in _markers(t) if m.name})
        raise ConfigError(f"condition_events={name!r}: no Event or Epoch of that name; found "
                          f"{have or 'none'}." + did_you_mean(name, have))
    if none or several:
        parts = ([f"no {name!r} event in {len(none)} trial(s) {_short(none, 5)}"] if none
                 else []) + ([f"different labels in {len(several)} trial(s): "
                              f"{_short(several, 3)}"] if several else [])
        raise DataError(f"condition_events={name!r}: every trial needs one label of this "
                        f"events channel inside it; {'; '.join(parts)}.")
    return out


def _markers(trial):
    seg = trial.origin[1] if trial.origin[0] == "segment" else trial.origin[3]
    return list(seg.events) + list(seg.epochs)


def _event_labels(trial, name):
    """Labels of the events ``name`` inside the trial (None: the trial's segment has none)."""
    hits = [m for m in _markers(trial) if m.name and _label(m.name) == name]
    if not hits:
        return None
    out = []
    for m in hits:
        times = np.asarray(m.times.rescale("s").magnitude, dtype=float).reshape(-1)
        labels = np.asarray(m.labels).reshape(-1)
        inside = (times >= trial.start - _TIME_EPS) & (times <= trial.stop + _TIME_EPS)
        out.extend(_label(x) for x in labels[inside] if _label(x))
    return out


# --------------------------------------------------------------------------- CSV


def _from_csv(trials, path):
    path = pathlib.Path(path)
    rows = _read_csv(path)
    names = [t.name for t in trials]
    keys = [r[0] for r in rows]
    by_name = all(k in names for k in keys)
    if not by_name and all(re.fullmatch(r"\d+", k) for k in keys):
        table = {names[int(k)]: c for k, c in rows if int(k) < len(names)}
        unknown = [k for k, _ in rows if int(k) >= len(names)]
        what = "positions"
    else:
        table = dict(rows)
        unknown = [k for k in keys if k not in names]
        what = "names"
    if unknown:
        raise DataError(f"{path}: {len(unknown)} trial(s) in the CSV are not in the recording: "
                        f"{_short(unknown, 5)}. The trial column holds trial names (like "
                        f"{_short(names, 3)}) or 0-based positions (< {len(names)}).")
    missing = [n for n in names if n not in table]
    if missing:
        raise DataError(f"{path}: no condition for {len(missing)} trial(s) (matched by "
                        f"{what}): {_short(missing, 5)}. Give every trial a row.")
    return [table[n] for n in names]


def _read_csv(path):
    """``[(trial, condition)]`` of a CSV with ``trial`` and ``condition`` columns."""
    if not path.is_file():
        raise DataError(f"condition_csv: file not found: {path}. Relative paths in a TOML "
                        "config are resolved against the config file's folder.")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip() for f in (reader.fieldnames or [])]
            reader.fieldnames = fields
            if "trial" not in fields or "condition" not in fields:
                raise DataError(f"{path}: expected a header with the columns 'trial' and "
                                f"'condition', got {fields}.")
            rows = [(_label(r["trial"]), _label(r["condition"])) for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: could not be read as CSV ({exc}).") from None
    counts = collections.Counter(k for k, _ in rows)
    dup = sorted(k for k, n in counts.items() if n > 1)
    if dup:
        raise DataError(f"{path}: trials listed more than once: {_short(dup, 5)}.")
    empty = [k for k, c in rows if not c]
    if empty:
        raise DataError(f"{path}: empty condition for trial(s) {_short(empty, 5)}.")
    if not rows:
        raise DataError(f"{path}: no rows.")
    return rows
