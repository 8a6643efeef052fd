"""What a file or Neo objects hold, before any spike is loaded: segments, spike-train handles.

Every reader (Neo IOs, :mod:`.nwb`, Neo objects passed in Python) is turned into a list of
``_Segment``: a name, annotations, the segment's Events and Epochs (small, loaded) and one
``_Train`` per spike train — name, extent, annotations and a ``load()`` that reads its spike
times only when called. Neo's lazy proxies are loaded one spike train at a time; those of
``neo.rawio`` readers (NIX through ``nixio_fr``, Blackrock, Plexon, Spike2, …) through the raw
timestamps, so that Neo's own checks (which assume sorted times) do not hide bad spike times.

``_open_file`` picks the Neo IO (``_candidate_ios``) and turns every way opening can fail into
a DataError; the readers stay open until the caller's ``contextlib.ExitStack`` closes them.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable

import numpy as np

from ..._errors import ConfigError, DataError, did_you_mean
from .container import _label

# Neo IO module names → the package to `pip install` when the name differs.
_PIP_NAMES = {"cv2": "opencv-python", "yaml": "pyyaml", "sklearn": "scikit-learn",
              "PIL": "pillow", "igor": "igor2"}
# Annotations readers add for their own bookkeeping (not the lab's metadata).
_INTERNAL_ANNOTATIONS = ("nix_name", "nwb_group")


@dataclasses.dataclass
class _Train:
    """One spike train of one segment; ``load()`` reads its times (seconds, as stored)."""

    name: object
    t_start: float
    t_stop: float
    annotations: dict
    loader: Callable

    def load(self) -> np.ndarray:
        return np.asarray(self.loader(), dtype=float).reshape(-1)


@dataclasses.dataclass
class _Segment:
    """A Neo segment without its spike data: name, annotations, trains, events, epochs."""

    name: object
    annotations: dict
    trains: list
    events: list  # neo.Event, loaded
    epochs: list  # neo.Epoch, loaded
    _markers: list = dataclasses.field(default=None, repr=False)

    def markers(self) -> list:
        """``(obj, times, ends, labels)`` of every Event and Epoch, seconds (computed once).

        ``ends`` is None for Events; ``labels`` a list of str (empty when there are none).
        """
        if self._markers is None:
            out = []
            for obj in list(self.events) + list(self.epochs):
                times = np.asarray(obj.times.rescale("s").magnitude, dtype=float).reshape(-1)
                ends = (times + np.asarray(obj.durations.rescale("s").magnitude,
                                           dtype=float).reshape(-1)
                        if hasattr(obj, "durations") else None)
                labels = [_label(x) for x in np.asarray(getattr(obj, "labels", [])).reshape(-1)]
                out.append((obj, times, ends, labels if len(labels) == times.size else []))
            self._markers = out
        return self._markers

    @property
    def extent(self):
        """``(start, stop)`` every spike train covers, seconds (None without trains)."""
        if not self.trains:
            return None
        return max(t.t_start for t in self.trains), min(t.t_stop for t in self.trains)


# --------------------------------------------------------------------------- from Neo objects


def _seconds_of(q) -> float:
    return float(q.rescale("s").magnitude)


def _from_neo(segments, *, names=None) -> list:
    """``_Segment`` s of Neo segments (loaded objects or lazy proxies).

    ``names`` replaces missing segment names (readers that lose them, see ``_nix_names``).
    """
    out = []
    for seg in segments:
        trains = [_train_of(st) for st in seg.spiketrains]
        ann = {k: v for k, v in dict(seg.annotations).items() if k not in _INTERNAL_ANNOTATIONS}
        name = seg.name
        if not name and names:
            name = names.get(dict(seg.annotations).get("nix_name"), name)
        out.append(_Segment(name=name, annotations=ann, trains=trains,
                            events=[_loaded(e) for e in seg.events],
                            epochs=[_loaded(e) for e in seg.epochs]))
    return out


def _loaded(obj):
    return obj.load() if hasattr(obj, "load") and hasattr(obj, "proxy_for") else obj


def _train_of(st) -> _Train:
    ann = {k: v for k, v in dict(st.annotations).items() if k not in _INTERNAL_ANNOTATIONS}
    start, stop = _seconds_of(st.t_start), _seconds_of(st.t_stop)
    rawio = getattr(st, "_rawio", None)
    if rawio is not None:  # a neo.rawio proxy: raw timestamps, no SpikeTrain checks
        def load(st=st, rawio=rawio):
            ts = rawio.get_spike_timestamps(block_index=st._block_index, seg_index=st._seg_index,
                                            spike_channel_index=st._spike_channel_index,
                                            t_start=None, t_stop=None)
            return rawio.rescale_spike_timestamp(ts, dtype="float64")
    elif hasattr(st, "proxy_for"):
        def load(st=st):
            return st.load().rescale("s").magnitude
    else:
        def load(st=st):
            return st.rescale("s").magnitude
    return _Train(name=st.name, t_start=start, t_stop=stop, annotations=ann, loader=load)


def _neo_segments(source) -> list:
    """Neo segments of a Block, a Segment or a list of them (ConfigError otherwise)."""
    import neo

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
    return segments


# --------------------------------------------------------------------------- from files


def _open_file(path: pathlib.Path, io, stack) -> tuple:
    """``(segments, reader name)`` of a file; lazy readers are closed by ``stack``."""
    if not path.exists():
        raise DataError(f"{path}: no such file or directory.")
    instance, candidates = _candidate_ios(path, io)
    missing, errors = [], []
    for cls in candidates:
        if cls.__name__ == "PickleIO":
            errors.append("neo.io.PickleIO: refused — unpickling runs arbitrary code; convert "
                          "the file to NWB or NIX")
            continue
        try:
            if cls.__name__ == "NWBIO" and instance is None:
                from .nwb import read_nwb

                return read_nwb(path, stack), "NWB (pynwb, lazy)"
            return _read_with_neo(path, cls, instance, stack), f"neo.io.{cls.__name__}"
        except ImportError as exc:
            missing.append((cls.__name__, _pip_name(exc)))
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 — any reader failure becomes a DataError below
            errors.append(f"{cls.__module__}.{cls.__name__}: {type(exc).__name__}: {exc}")
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


def _read_with_neo(path, cls, instance, stack) -> list:
    """Segments read by a Neo IO: lazily (proxies) where it supports that, else loaded."""
    import neo

    reader = instance
    if reader is None:
        # NixIO opens read-write by default and would lock or modify the file.
        kwargs = {"mode": "ro"} if cls.__module__ == "neo.io.nixio" else {}
        reader = cls(str(path), **kwargs)
    # Neo 0.14's NWBIO claims lazy support but its proxies fail (reached only with an IO
    # instance: NWB files are otherwise read by .nwb)
    lazy = bool(getattr(cls, "support_lazy", False)) and cls.__name__ != "NWBIO"
    try:
        try:
            blocks = reader.read(lazy=lazy)
        except Exception:  # noqa: BLE001 — some lazy readers fail where the eager one works
            if not lazy:
                raise
            lazy = False
            blocks = reader.read(lazy=False)
    except BaseException:
        _close(reader, instance)
        raise
    if lazy:
        stack.callback(_close, reader, instance)
    else:
        _close(reader, instance)
    if isinstance(blocks, neo.Block):
        blocks = [blocks]
    segments = [seg for blk in blocks for seg in blk.segments]
    names = _nix_names(path) if cls.__module__ == "neo.io.nixio_fr" else None
    return _from_neo(segments, names=names)


def _close(reader, instance):
    close = getattr(reader, "close", None)
    if instance is None and callable(close):
        try:
            close()
        except Exception:  # noqa: BLE001 — closing a reader that failed to open
            pass


def _nix_names(path) -> dict:
    """NIX group name → Neo segment name (Neo's raw NIX reader drops segment names)."""
    try:
        import nixio

        with nixio.File.open(str(path), nixio.FileMode.ReadOnly) as fh:
            return {g.name: g.metadata["neo_name"] for b in fh.blocks for g in b.groups
                    if g.metadata is not None and "neo_name" in g.metadata}
    except Exception:  # noqa: BLE001 — names are a nicety; the data were read already
        return {}


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
        names = sorted({c.__name__ for c in neo.io.iolist} | {"NixIOFr"})
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
