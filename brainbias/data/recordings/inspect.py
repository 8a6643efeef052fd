"""What a recording file holds, and a ``[recording]`` table to start from (``brainbias inspect``).

:func:`inspect_file` opens a file the way :func:`~brainbias.data.recordings.read_recording`
does (lazily where it can), reads each spike train once to count its spikes (``rates=False``
skips that), and returns a :class:`FileSummary`: segments, units with rates and annotations,
epochs (trials tables) with their columns, events with their labels, segment annotations, and
``suggestion`` — the ``[recording]`` keys that read this layout. ``FileSummary.text()`` is what
the command prints; ``FileSummary.recording_toml()`` the table alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import re

import numpy as np

from .container import _label
from .sanity import _progress
from .sources import _open_file

__all__ = ["FileSummary", "inspect_file"]

_SHOW = 12  # rows per list in the text
_SEP = r"([_\-\s.]+)"


@dataclasses.dataclass(frozen=True)
class FileSummary:
    """What :func:`inspect_file` found. Plain data (str, float, lists, dicts).

    Attributes
    ----------
    path, reader : str
        The file and the reader that opened it.
    segments : list of dict
        Per segment: ``name``, ``t_start``, ``t_stop`` (s), ``n_spiketrains``,
        ``annotations``.
    units : list of dict
        Per unit name: ``n_spikes`` and ``rate`` (Hz, over every segment's extent; None with
        ``rates=False``) and ``annotations``.
    epochs, events : list of dict
        Per name: ``count`` (intervals / times in all segments), ``n_segments``, ``labels``
        (distinct, in order), and for epochs ``columns`` (name → ``"number"`` or the distinct
        text values).
    annotations : dict
        Segment annotation → distinct values.
    suggestion : dict
        ``[recording]`` keys that read this layout (see :meth:`recording_toml`).
    notes : list of str
        Why each suggested key was chosen, and the alternatives.
    """

    path: str
    reader: str
    segments: list
    units: list
    epochs: list
    events: list
    annotations: dict
    suggestion: dict
    notes: list

    def recording_toml(self) -> str:
        """The ``[recording]`` table to paste into a config, with the notes as comments."""
        lines = ["[recording]"]
        for key, value in self.suggestion.items():
            lines.append(f"{key} = {_toml(value)}")
        lines += [f"# {n}" for n in self.notes]
        return "\n".join(lines)

    def text(self) -> str:
        """The report ``brainbias inspect`` prints."""
        out = [f"{self.path}  (read with {self.reader})", ""]
        out.append(f"segments: {len(self.segments)}")
        for s in self.segments[:_SHOW]:
            ann = f"  {_fmt_ann(s['annotations'])}" if s["annotations"] else ""
            out.append(f"  {s['name']!s:<24} [{s['t_start']:.6g}, {s['t_stop']:.6g}] s  "
                       f"{s['n_spiketrains']} spike trains{ann}")
        out += _more(self.segments)
        out.append(f"units: {len(self.units)}")
        for u in self.units[:_SHOW * 2]:
            rate = "" if u["rate"] is None else f"{u['rate']:8.3g} Hz  {u['n_spikes']:>7} spikes"
            out.append(f"  {u['name']!s:<24}{rate}  {_fmt_ann(u['annotations'])}".rstrip())
        out += _more(self.units, _SHOW * 2)
        out.append(f"epochs (trials tables, intervals): {len(self.epochs)}")
        for e in self.epochs:
            cols = ", ".join(f"{c} ({v if isinstance(v, str) else _fmt_values(v)})"
                             for c, v in e["columns"].items())
            out.append(f"  {e['name']!s:<24} {e['count']} intervals in {e['n_segments']} "
                       f"segment(s)" + (f"; labels {_fmt_values(e['labels'])}" if e["labels"]
                                        else "") + (f"; columns {cols}" if cols else ""))
        out.append(f"events: {len(self.events)}")
        for e in self.events:
            out.append(f"  {e['name']!s:<24} {e['count']} times in {e['n_segments']} "
                       f"segment(s); labels {_fmt_values(e['labels'])}")
        out.append(f"segment annotations: {len(self.annotations)}")
        for k, v in self.annotations.items():
            out.append(f"  {k}: {_fmt_values(v)}")
        out += ["", "# a [recording] table to start from (a recording is fitted with [training]",
                '# run_mode = "autonomous", train_initial_state = true, test_fraction = 0.0)',
                self.recording_toml()]
        return "\n".join(out)


def inspect_file(path, *, io=None, rates=True, progress=None) -> FileSummary:
    """List what a recording file holds and suggest a ``[recording]`` table for it.

    Parameters
    ----------
    path : str or os.PathLike
        A file Neo can read (as :func:`~brainbias.data.recordings.read_recording`).
    io : str, optional
        The Neo IO (default: guessed from the extension).
    rates : bool
        Count every unit's spikes (reads each spike train once, one at a time).
    progress : bool or None
        A progress bar while counting; ``None``: only when stderr is a terminal.

    Returns
    -------
    FileSummary

    Raises
    ------
    DataError
        A file that cannot be read (as :func:`~brainbias.data.recordings.read_recording`).

    Examples
    --------
    >>> from brainbias.data.recordings import inspect_file  # doctest: +SKIP
    >>> print(inspect_file("session.nwb").text())  # doctest: +SKIP
    """
    path = pathlib.Path(path)
    with contextlib.ExitStack() as stack:
        segments, reader = _open_file(path, io, stack)
        units = _units(segments, rates, progress)
    seg_rows = [{"name": _label(s.name) if s.name else f"segment {i}",
                 "t_start": s.extent[0] if s.trains else float("nan"),
                 "t_stop": s.extent[1] if s.trains else float("nan"),
                 "n_spiketrains": len(s.trains), "annotations": _plain(s.annotations)}
                for i, s in enumerate(segments)]
    epochs, events = _markers(segments)
    annotations = _distinct_annotations(seg_rows)
    suggestion, notes = _suggest(str(path), seg_rows, units, epochs, events, annotations)
    for row in epochs + events:
        row.pop("_seg_labels")
    return FileSummary(path=str(path), reader=reader, segments=seg_rows, units=units,
                       epochs=epochs, events=events, annotations=annotations,
                       suggestion=suggestion, notes=notes)


# --------------------------------------------------------------------------- gathering


def _plain(ann: dict) -> dict:
    out = {}
    for k, v in ann.items():
        if isinstance(v, (str, bytes, np.generic, int, float, bool)):
            out[str(k)] = v.item() if isinstance(v, np.generic) else (_label(v)
                                                                      if isinstance(v, bytes)
                                                                      else v)
    return out


def _units(segments, rates, progress):
    order, info = [], {}
    for s in segments:
        for k, t in enumerate(s.trains):
            name = _label(t.name) if t.name else f"neuron{k}"
            if name not in info:
                order.append(name)
                info[name] = {"name": name, "n_spikes": 0, "duration": 0.0, "rate": None,
                              "annotations": _plain(t.annotations), "trains": []}
            info[name]["trains"].append(t)
    if rates:
        jobs = [(name, t) for name in order for t in info[name]["trains"]]
        for name, t in _progress(jobs, progress, unit="train"):
            info[name]["n_spikes"] += int(t.load().size)
            info[name]["duration"] += t.t_stop - t.t_start
    out = []
    for name in order:
        u = info[name]
        if rates and u["duration"] > 0:
            u["rate"] = u["n_spikes"] / u["duration"]
        out.append({k: u[k] for k in ("name", "n_spikes", "rate", "annotations")})
    return out


def _markers(segments):
    epochs, events = {}, {}
    for s in segments:
        for obj, times, ends, labels in s.markers():
            table = epochs if ends is not None else events
            name = _label(obj.name) if obj.name else ("epoch" if ends is not None else "event")
            row = table.setdefault(name, {"name": name, "count": 0, "n_segments": 0,
                                          "labels": [], "columns": {}, "_seg_labels": []})
            row["count"] += times.size
            row["n_segments"] += 1
            row["labels"] = list(dict.fromkeys(row["labels"] + [x for x in labels if x]))
            row["_seg_labels"].append(list(dict.fromkeys(x for x in labels if x)))
            for col, values in getattr(obj, "array_annotations", {}).items():
                values = np.asarray(values).reshape(-1)
                if values.dtype.kind in "biuf":
                    row["columns"][col] = "number"
                else:
                    old = row["columns"].get(col, [])
                    row["columns"][col] = list(dict.fromkeys(list(old)
                                                             + [_label(v) for v in values]))
    for table in (epochs, events):
        for row in table.values():
            if not row["columns"]:
                row.pop("columns")
    for row in events.values():
        row.pop("columns", None)
    return list(epochs.values()), list(events.values())


def _distinct_annotations(seg_rows):
    out = {}
    for s in seg_rows:
        for k, v in s["annotations"].items():
            out.setdefault(k, [])
            if _label(v) not in out[k]:
                out[k].append(_label(v))
    return out


# --------------------------------------------------------------------------- the suggestion


def _suggest(path, segs, units, epochs, events, annotations):
    """``[recording]`` keys for this layout and notes on each choice."""
    sug, notes = {"path": path}, []
    multi = len(segs) > 1
    if multi:
        _suggest_segment_conditions(sug, notes, segs, epochs, events, annotations)
    else:
        _suggest_marker_trials(sug, notes, epochs, events)
    _suggest_alignment(sug, notes, segs, epochs, events)
    quality = [u["annotations"] for u in units if "quality" in u["annotations"]]
    if quality:
        values = list(dict.fromkeys(_label(a["quality"]) for a in quality))
        good = "good" if "good" in values else values[0]
        notes.append(f'units = {{quality = "{good}"}}  # unit quality in the file: '
                     f"{', '.join(values)}")
    for key in ("area", "location", "brain_area", "region"):
        vals = list(dict.fromkeys(_label(u["annotations"][key]) for u in units
                                  if key in u["annotations"]))
        if vals:
            notes.append(f'units = {{{key} = "{vals[0]}"}}  # {key}s: {", ".join(vals[:8])}')
    rated = [u["rate"] for u in units if u["rate"] is not None]
    if rated:
        notes.append(f"min_rate = 1.0  # Hz; unit rates here: {min(rated):.3g} … "
                     f"{max(rated):.3g} Hz")
    sug.update({"bin_size": 0.01, "kernel_width": 0.02})
    if not pathlib.Path(path).is_absolute():
        notes.append("a relative path is resolved against the config file's folder")
    return sug, notes


def _suggest_segment_conditions(sug, notes, segs, epochs, events, annotations):
    n = len(segs)
    grouping = [k for k, v in annotations.items() if 1 < len(v) < n
                and all(k in s["annotations"] for s in segs)]
    trials = next((e for e in epochs if e["name"] == "trials" and e["n_segments"] == n), None)
    text_cols = ([c for c, v in trials["columns"].items() if not isinstance(v, str)
                  and 1 < len(v) < n] if trials and "columns" in trials else [])
    pattern = _name_pattern([s["name"] for s in segs])
    channel = next((e["name"] for e in events if e["n_segments"] == n and len(e["labels"]) > 1
                    and all(len(x) == 1 for x in e["_seg_labels"])), None)
    options = []
    if grouping:
        key = "condition" if "condition" in grouping else grouping[0]
        options.append(("condition_key", key, f"segment annotation {key!r}"))
    if text_cols:
        key = "condition" if "condition" in text_cols else text_cols[0]
        options.append(("condition_key", key, f"trials-table column {key!r}"))
    if pattern:
        options.append(("condition_from_name", pattern, "the segment names"))
    if channel:
        options.append(("condition_events", channel, f"the labels of events {channel!r}"))
    notes.insert(0, f"{n} segments: one trial per segment (no trial_key)")
    if not options:
        notes.append("no condition labels found: give condition_csv = \"conditions.csv\" "
                     "(columns trial, condition)")
        return
    key, value, why = options[0]
    sug[key] = value
    notes.append(f"conditions from {why}; other sources: "
                 + ("; ".join(f"{k} = {_toml(v)}" for k, v, _ in options[1:]) or "none found"))


def _suggest_marker_trials(sug, notes, epochs, events):
    tables = sorted(epochs, key=lambda e: (e["name"] != "trials", -e["count"]))
    table = next((e for e in tables if e["count"] > 1), None)
    if table is None:
        event = next((e for e in events if e["count"] > 1), None)
        if event is None:
            notes.insert(0, "one segment and no epochs or events: the whole segment is one "
                            "trial")
            return
        sug.update({"trial_key": event["name"], "condition_key": "labels",
                    "pre": 0.1, "post": 0.5})
        notes.insert(0, f"one segment: trials cut around each event {event['name']!r} "
                        "(pre/post seconds: adjust)")
        return
    sug["trial_key"] = table["name"]
    notes.insert(0, f"one segment: trials cut by the {table['count']} intervals of "
                    f"{table['name']!r}")
    text_cols = [c for c, v in table.get("columns", {}).items() if not isinstance(v, str)
                 and 1 < len(v) < table["count"]]
    if text_cols:
        sug["condition_key"] = "condition" if "condition" in text_cols else text_cols[0]
    elif 1 < len(table["labels"]) < table["count"]:
        sug["condition_key"] = "labels"
    else:
        notes.append("no condition column found: give condition_csv or condition_events")


def _suggest_alignment(sug, notes, segs, epochs, events):
    table = next((e for e in epochs if e["name"] == sug.get("trial_key", "trials")), None)
    numeric = [c for c, v in (table or {}).get("columns", {}).items() if v == "number"]
    common = [lab for e in events if e["n_segments"] == len(segs)
              for lab in e["labels"] if all(lab in x for x in e["_seg_labels"])]
    choices = numeric + [c for c in common if c not in numeric]
    if choices and "pre" not in sug:
        sug["align_event"] = choices[0]
        rest = ", ".join(repr(c) for c in choices[1:]) or "none"
        notes.append(f"align_event: time 0 of each trial (others: {rest}); window with "
                     "t_start/t_stop or pre/post (seconds)")


def _name_pattern(names):
    """A regular expression whose group ``condition`` is the part of ``names`` that repeats
    (like ``trial_3_left``), or None."""
    if len(names) < 2 or not all(names):
        return None
    parts = [re.split(_SEP, n) for n in names]
    if len({len(p) for p in parts}) != 1:
        return None
    out, found = [], False
    for i, tokens in enumerate(zip(*parts, strict=True)):
        distinct = set(tokens)
        if i % 2:  # a separator
            out.append(re.escape(tokens[0]) if len(distinct) == 1 else r"[_\-\s.]+")
        elif len(distinct) == 1:
            out.append(re.escape(tokens[0]))
        elif all(t.isdigit() for t in tokens):
            out.append(r"\d+")
        elif not found and len(distinct) < len(names):
            out.append(r"(?P<condition>\w+?)" if i < len(parts[0]) - 1 else
                       r"(?P<condition>\w+)")
            found = True
        else:
            out.append(r"\w+?")
    return "".join(out) if found else None


# --------------------------------------------------------------------------- text


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value + "'" if "\\" in value and "'" not in value else f'"{value}"'
    return repr(value)


def _fmt_values(values, n=8) -> str:
    values = list(values)
    text = ", ".join(str(v) for v in values[:n])
    return text + (f", … ({len(values)} in all)" if len(values) > n else "")


def _fmt_ann(ann: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in ann.items())


def _more(rows, n=_SHOW):
    return [f"  … {len(rows) - n} more"] if len(rows) > n else []
