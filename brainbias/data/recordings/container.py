"""The :class:`Recording` container and the small conversions every part of the package uses.

``Recording`` holds spike trains (trial × neuron, ``neo.SpikeTrain`` in seconds on each trial's
clock), a condition label per trial, per-trial events and where each trial came from. The
helpers below turn user values into seconds (``_seconds``), labels into ``str`` (``_label``)
and long lists into short messages (``_short``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..._errors import ConfigError, DataError, did_you_mean

# Slack when comparing times read from files (seconds): NWB/HDF5 round trips are exact, but
# sums like start + duration are not.
_TIME_EPS = 1e-9


class RecordingWarning(UserWarning):
    """Something in a recording was dropped or looks suspicious; the message says what."""


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
    trial_names : tuple of str, shape (trial,), optional
        A name per trial for messages and :func:`~brainbias.data.recordings.inspect_file`: the
        segment's name, the trial marker's label, or ``"<marker>@<start> s"``; default
        ``"trial 0"``, ``"trial 1"``, ….

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
    trial_names: tuple = ()

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
        names = tuple(str(x) for x in self.trial_names) or tuple(f"trial {i}"
                                                                   for i in range(n_trials))
        if len(names) != n_trials:
            raise DataError(f"Recording: {len(names)} trial names for {n_trials} trials.")
        set_(self, "trial_names", names)

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

    def describe_trial(self, trial: int) -> str:
        """``"trial 'name' (condition 'c')"``: how messages name a trial (never by index alone)."""
        return _describe(self.trial_names[trial], self.conditions[trial])

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
            trial_names=tuple(self.trial_names[i] for i in sel),
        )

    def __repr__(self):
        return (f"Recording({self.n_trials} trials, {self.n_neurons} neurons, conditions "
                f"{list(self.condition_labels)}, window [{self.t_start:g}, {self.t_stop:g}] s, "
                f"source={self.source!r})")


# ------------------------------------------------------------------- shared conversions


def _short(items, n=8):
    items = list(items)
    return str(items) if len(items) <= n else str(items[:n])[:-1] + f", … ({len(items)} in all)]"


def _label(value) -> str:
    """A label as ``str``; surrounding blanks (MATLAB pads char arrays) are removed."""
    if isinstance(value, bytes):
        value = value.decode()
    elif isinstance(value, np.generic):
        value = value.item()
    return str(value).strip()


def _describe(name, condition) -> str:
    """How a message names a trial: by its name and its condition."""
    if condition is None:
        return f"trial {name!r}"
    return f"trial {name!r} (condition {condition!r})"


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
