"""Fit recorded population activity: one tonic input per condition, judged on held-out data.

The flow (``brainbias fit`` with a ``[recording]`` table, or :func:`run` from Python)::

    RecordingConfig ─► read_recording (Neo) ─► bin_and_smooth (Elephant) ─► prepare
        splits (trials per condition, neurons; seeded), training-trial PSTHs, targets
    ─► training.fit (autonomous: a trained initial state and bias per condition)
    ─► evaluate: held-out trials (PSTH R², pVar, NRMSE; held-in neurons) and held-out neurons
       (co-smoothing bits/spike), each next to the smoothed-PSTH baseline
    ─► results Dataset (schema v1 + the recording variables) ─► figures

Choices (stated because they matter for what the numbers mean):

* **Contexts are conditions.** The network has one output per *held-in* neuron; its readout is
  the network's fixed random readout (``mode="bias"``) or trained (``mode="bias+readout"``).
* **Targets** are the training trials' condition averages (PSTHs) of the held-in neurons over
  the analysis window, one :class:`~brainbias.data.trajectory.Trajectory` (``kind="recording"``,
  ``dt = bin_size``) per condition. With ``loss="mse"`` they are smoothed rates mapped per
  neuron to ``(rate − mean) / scale`` — ``scale = range + c`` (soft normalisation, Churchland
  et al. 2012) or the standard deviation — with ``mean``, ``range`` and standard deviation
  taken over the *training* trials' PSTHs only (nothing of the held-out trials leaks into the
  fit). With ``loss="poisson"`` they are mean spike counts per bin divided by
  ``scale = m / ln 2`` (``m`` the neuron's mean training count per bin), so that the model's
  expected count is ``scale · softplus(output)`` — a fixed per-neuron gain that puts a zero
  output at the neuron's mean rate (a random fixed readout has no offset to learn it with).
  This is the Poisson likelihood of the counts, each neuron's term weighted by ``1 / scale``.
* **Whole-window fit.** The network runs autonomously from a trained initial state per
  condition; every bin of the window is scored. The Trajectory has one leading step more than
  the window (a copy of the first bin, never scored): ``simulate`` scores the outputs after
  each step, so the initial state sits one bin before the window and
  ``training.window`` equals the number of bins (checked).
* **Held-out trials**: ``split_trials`` per condition (seeded); the model's PSTH is compared
  with the held-out trials' PSTH (smoothed rates, Hz) of the held-in neurons; the baseline is
  the training trials' PSTH (:func:`brainbias.data.scores.smoothed_psth_baseline`).
* **Held-out neurons** (co-smoothing, NLB): a linear readout from the fitted network's unit
  rates φ(x) (condition × time samples) to the held-out neurons' training-trial PSTHs, by
  ridge regression with an intercept; the penalty is chosen by a two-fold split of the
  *training* trials (fit on one half's PSTH, Poisson log-likelihood of the other half's
  counts, both ways); predictions are floored at 1 % of the neuron's mean training rate
  (ridge is not constrained to positive rates). Scored by bits/spike on the held-out trials'
  counts; the baseline is the held-out neurons' training-trial PSTH.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from .._errors import ConfigError, DataError, did_you_mean
from ..config import ExperimentConfig, RecordingConfig

__all__ = [
    "PopulationData",
    "RecordingSource",
    "load_binned",
    "prepare",
    "evaluate",
    "fit_heldout_readout",
    "summary_table",
    "RECORDING_SCORES",
]

# --------------------------------------------------------------------------- data


@dataclasses.dataclass(frozen=True, eq=False)
class PopulationData:
    """A binned recording with its splits, PSTHs and fit targets (plain NumPy, read-only).

    Attributes
    ----------
    binned : xarray.Dataset
        :func:`~brainbias.data.recordings.bin_and_smooth` output: ``counts``, ``rates``
        (trial, time, neuron).
    conditions : tuple of str, shape (context,)
        The contexts, in fit order.
    train_trials, test_trials : ndarray of int
        Trial indices (into ``binned``) used for fitting / held out.
    held_in, held_out : ndarray of int
        Neuron indices fitted by the network / held out for co-smoothing.
    train_psth, test_psth : ndarray, shape (context, time, neuron)
        Condition-averaged smoothed rates (Hz) of the training / held-out trials.
    train_mean_counts : ndarray, shape (context, time, neuron)
        Condition-averaged spike counts per bin of the training trials.
    offset, scale : ndarray, shape (neuron,)
        MSE targets are ``(rate − offset) / scale`` (Hz → fit units); Poisson targets are
        ``mean counts / scale`` (offset 0) and the expected count is ``scale · softplus(y)``.
    loss : {"mse", "poisson"}
    bin_size : float
        Seconds; the network's ``dt``.
    soft_normalisation_constant : float
        ``c`` in Hz (NaN: standard-deviation scaling, or Poisson).
    """

    binned: object
    conditions: tuple
    train_trials: np.ndarray
    test_trials: np.ndarray
    held_in: np.ndarray
    held_out: np.ndarray
    train_psth: np.ndarray
    test_psth: np.ndarray
    train_mean_counts: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    loss: str
    bin_size: float
    soft_normalisation_constant: float

    @property
    def trial_conditions(self) -> np.ndarray:
        """Condition label of every trial of ``binned``, shape (trial,)."""
        return np.asarray(self.binned["condition"].values).astype(str)

    @property
    def n_bins(self) -> int:
        return int(self.binned.sizes["time"])

    @property
    def neuron_names(self) -> tuple:
        return tuple(str(n) for n in self.binned["neuron"].values)

    def to_fit_units(self, psth_hz, mean_counts):
        """Data (context, time, held-in neuron) in the fit's units: normalised smoothed rates
        (``loss="mse"``, from ``psth_hz``) or scaled mean counts per bin (``"poisson"``)."""
        sc, off = self.scale[self.held_in], self.offset[self.held_in]
        if self.loss == "poisson":
            return np.asarray(mean_counts, dtype=float) / sc
        return (np.asarray(psth_hz, dtype=float) - off) / sc

    def to_hz(self, observed):
        """The network's observed output (``training.observe``: the output itself, or
        ``softplus(output)`` for Poisson), held-in neurons → rates in Hz."""
        observed = np.asarray(observed, dtype=float)
        sc, off = self.scale[self.held_in], self.offset[self.held_in]
        if self.loss == "poisson":
            return observed * sc / self.bin_size
        return observed * sc + off

    def targets(self) -> list:
        """One :class:`~brainbias.data.trajectory.Trajectory` per condition (held-in neurons).

        Row 0 repeats the first bin and is never scored (the initial state sits one bin
        before the window); rows 1 … n_bins are the training trials' PSTH in fit units.
        """
        from ..data.trajectory import Trajectory

        y = self.to_fit_units(self.train_psth[..., self.held_in],
                              self.train_mean_counts[..., self.held_in])
        names = tuple(self.neuron_names[i] for i in self.held_in)
        cond = self.trial_conditions
        out = []
        for c, label in enumerate(self.conditions):
            n_train = int(np.sum(cond[self.train_trials] == label))
            out.append(Trajectory(np.concatenate([y[c, :1], y[c]]), dt=self.bin_size,
                                  name=label, output_names=names, kind="recording",
                                  attrs={"condition": label, "n_train_trials": n_train,
                                         "leading_unscored_step": 1}))
        return out


def load_binned(rec: RecordingConfig, recording=None, *, progress=None):
    """Read (Neo) and bin/smooth (Elephant) the recording a :class:`RecordingConfig` names.

    Parameters
    ----------
    rec : RecordingConfig
    recording : brainbias.data.recordings.Recording, optional
        Use this instead of reading ``rec.path`` (Python API; e.g. from ``from_spike_times``).
    progress : bool or None
        A progress bar while reading spike trains; ``None``: only when stderr is a terminal.

    Returns
    -------
    xarray.Dataset
        :func:`~brainbias.data.recordings.bin_and_smooth` of the selected conditions.

    Raises
    ------
    ConfigError
        No path and no recording; an unknown condition name; bad binning settings.
    DataError
        A missing or unreadable file, and the reading/binning errors of
        :mod:`brainbias.data.recordings`.
    """
    from ..data import recordings

    if recording is None:
        if rec.path is None:
            raise ConfigError("recording.path: no file given; set `path` in [recording] or "
                              "pass recording=... in Python.")
        path = Path(rec.path)
        if not path.exists():
            raise DataError(f"recording.path: file not found: {path}. Relative paths in a TOML "
                            "config are resolved against the config file's folder.")
        # crop at reading, keeping the smoothing kernel's reach beyond the window (rates at
        # the window's edges use those spikes), so that only the window's spikes are held
        margin = recordings.kernel_reach(rec.kernel, rec.kernel_width, rec.bin_size)
        recording = recordings.read_recording(path, margin=margin, progress=progress,
                                              **rec.read_options())
    elif not isinstance(recording, recordings.Recording):
        raise ConfigError(f"recording: expected a brainbias.data.recordings.Recording, got "
                          f"{type(recording).__name__}. Build one with read_recording or "
                          "from_spike_times.")
    if rec.conditions is not None:
        for c in rec.conditions:
            if c not in recording.condition_labels:
                where = recording.source or "the recording"
                raise ConfigError(
                    f"recording.conditions: no condition {c!r} in {where}; it has "
                    f"{list(recording.condition_labels)}."
                    + did_you_mean(c, recording.condition_labels))
        recording = recording.select(conditions=rec.conditions)
    t_start, t_stop = rec.window()
    return recordings.bin_and_smooth(
        recording, bin_size=rec.bin_size, kernel=rec.kernel, kernel_width=rec.kernel_width,
        t_start=t_start, t_stop=t_stop)


def prepare(binned, rec: RecordingConfig, *, loss: str = "mse") -> PopulationData:
    """Splits, PSTHs and normalisation of a binned recording (the fit's data).

    Parameters
    ----------
    binned : xarray.Dataset
        From :func:`load_binned` / :func:`~brainbias.data.recordings.bin_and_smooth`.
    rec : RecordingConfig
        Split fractions and seed, condition order, soft normalisation.
    loss : {"mse", "poisson"}

    Returns
    -------
    PopulationData

    Raises
    ------
    ConfigError
        A condition with fewer than 2 trials, fewer than 2 neurons (from the splits).
    DataError
        A dataset without ``counts``/``rates``/``condition``.
    """
    from ..data.scores import split_neurons, split_trials

    for name in ("counts", "rates"):
        if name not in binned.data_vars:
            raise DataError(f"binned: expected a bin_and_smooth dataset with {name!r}.")
    cond = np.asarray(binned["condition"].values).astype(str)
    present = list(dict.fromkeys(cond.tolist()))
    conditions = tuple(rec.conditions) if rec.conditions is not None else tuple(present)
    for c in conditions:
        if c not in present:
            raise ConfigError(f"recording.conditions: no condition {c!r} in the binned data; "
                              f"it has {present}." + did_you_mean(c, present))
    if set(present) != set(conditions):
        # only the fitted conditions' trials take part in the splits and the scores
        binned = binned.isel(trial=np.isin(cond, conditions))
        cond = np.asarray(binned["condition"].values).astype(str)
    train, test = split_trials(len(cond), cond, fraction=rec.test_trial_fraction,
                               seed=rec.split_seed)
    n_neurons = int(binned.sizes["neuron"])
    held_in, held_out = split_neurons(n_neurons, fraction=rec.test_neuron_fraction,
                                      seed=rec.split_seed)
    rates = binned["rates"].transpose("trial", "time", "neuron").values.astype(float)
    counts = binned["counts"].transpose("trial", "time", "neuron").values.astype(float)

    def average(values, trials):
        return np.stack([values[trials[cond[trials] == c]].mean(axis=0) for c in conditions])

    train_psth, test_psth = average(rates, train), average(rates, test)
    train_counts = average(counts, train)
    b = float(binned.attrs["bin_size"])
    c_soft = float("nan")
    if loss == "poisson":
        offset = np.zeros(n_neurons)
        # expected count = scale · softplus(y): a zero output is the mean count (softplus(0) =
        # ln 2); the floor keeps a neuron silent in the training trials finite
        scale = np.maximum(train_counts.mean(axis=(0, 1)), 1e-3) / np.log(2.0)
    else:
        offset = train_psth.mean(axis=(0, 1))
        if rec.soft_normalise is False:
            scale = train_psth.std(axis=(0, 1))
            # a neuron whose training PSTH is flat gets scale 1 Hz rather than a division by 0
            scale = np.where(scale > 0, scale, 1.0)
        else:
            from ..data.recordings import DEFAULT_SOFT_NORMALISATION

            c_soft = (DEFAULT_SOFT_NORMALISATION if rec.soft_normalise is True
                      else float(rec.soft_normalise))
            scale = train_psth.max(axis=(0, 1)) - train_psth.min(axis=(0, 1)) + c_soft
            scale = np.where(scale > 0, scale, 1.0)
    return PopulationData(binned=binned, conditions=conditions, train_trials=train,
                          test_trials=test, held_in=held_in, held_out=held_out,
                          train_psth=train_psth, test_psth=test_psth,
                          train_mean_counts=train_counts, offset=offset, scale=scale, loss=loss,
                          bin_size=b, soft_normalisation_constant=c_soft)




def _check_window(config: ExperimentConfig, data: PopulationData):
    if config.training.window != data.n_bins:
        raise ConfigError(
            f"training.window: a recording is fitted over its whole analysis window, which has "
            f"{data.n_bins} bins ([{data.binned.attrs['t_start']:g}, "
            f"{data.binned.attrs['t_stop']:g}] s at {data.bin_size:g} s), got window = "
            f"{config.training.window}. Set window = {data.n_bins} in [training]."
        )


# --------------------------------------------------------------------------- the source of a run


@dataclasses.dataclass(frozen=True, eq=False)
class RecordingSource:
    """A recording as the thing a run fits (:func:`brainbias.experiment.pipeline.run`).

    The conditions are the contexts, the bin size is ``dt``, the held-in neurons are the
    outputs; scores are computed on held-out trials and neurons
    (:mod:`brainbias.experiment.recording_scores`).
    """

    config: ExperimentConfig
    data: PopulationData
    load_time: float = 0.0

    @classmethod
    def read(cls, config: ExperimentConfig, recording=None, *, progress=None) -> RecordingSource:
        """Read, bin and split the recording of ``config`` (or the in-memory ``recording``;
        then a missing ``[recording]`` table means its defaults); ``progress`` as
        :func:`load_binned`."""
        if config.recording is None:
            if recording is None:
                raise ConfigError("config: no [recording] table and no recording passed.")
            config = dataclasses.replace(config, recording=RecordingConfig())
        t0 = time.perf_counter()
        binned = load_binned(config.recording, recording, progress=progress)
        data = prepare(binned, config.recording, loss=config.training.loss)
        _check_window(config, data)
        return cls(config, data, time.perf_counter() - t0)

    @property
    def contexts(self) -> tuple:
        return tuple(self.data.conditions)

    @property
    def dt(self) -> float:
        return float(self.data.bin_size)

    @property
    def n_inputs(self) -> int:
        return 0

    @property
    def n_outputs(self) -> int:
        return len(self.data.held_in)

    def targets(self) -> list:
        """The fit targets: the training trials' PSTH per condition
        (:meth:`PopulationData.targets`)."""
        return self.data.targets()

    def selector(self):
        """None: a recording fit (autonomous) is judged on held-out trials and neurons;
        ``training.select_every`` needs a closed-loop run and is refused by TrainingConfig."""
        return None

    def select_tau(self, *, progress: bool = False):
        """``tau = "auto"`` for a recording
        (:func:`~brainbias.experiment.timescale.select_tau_for_recording`)."""
        from .timescale import select_tau_for_recording

        return select_tau_for_recording(self.config, self.data, progress=progress)

    def results(self, train_result):
        """Held-out evaluation of the fitted network as a results Dataset."""
        ev = evaluate(train_result.network, train_result.controller, self.data,
                      split_seed=self.config.recording.split_seed)
        return make_dataset(self.config, self.data, self.targets(), train_result, ev,
                            load_time=self.load_time)

    def finish(self, ds):
        """Add the comparison with the teacher network when the config names one."""
        teacher = self.config.recording.teacher
        if teacher is None:
            return ds
        import jax

        from .. import results as _results
        from .groundtruth import compare_run_with_teacher

        key = jax.random.PRNGKey(self.config.seed)
        return _results.with_teacher_comparison(ds, compare_run_with_teacher(ds, teacher, key=key))

    def save_figures(self, ds, out) -> None:
        from .. import plotting

        plotting.save_recording_figures(ds, out)


from .recording_scores import (  # noqa: E402  (they score a PopulationData; import after it)
    RECORDING_SCORES,
    evaluate,
    fit_heldout_readout,
    make_dataset,
    summary_table,
)
