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
import textwrap
import time
from pathlib import Path

import numpy as np

from .._errors import ConfigError, DataError, did_you_mean
from ..config import ExperimentConfig, RecordingConfig

__all__ = [
    "PopulationData",
    "load_binned",
    "prepare",
    "evaluate",
    "fit_heldout_readout",
    "run",
    "build",
    "summary_table",
    "RECORDING_SCORES",
]

#: score name → description; each is stored per condition (``context``), for the baseline
#: (``<name>_baseline``) and overall (``<name>_overall``, ``<name>_baseline_overall``).
RECORDING_SCORES = {
    "psth_r2": "PSTH R² of the held-out trials' PSTH, held-in neurons (NLB convention)",
    "pvar": "CURBD pVar of the held-out trials' PSTH, held-in neurons",
    "co_bps": "co-smoothing bits/spike of the held-out neurons on the held-out trials (NLB)",
}
# Relative ridge penalties tried for the co-smoothing readout (× mean eigenvalue of XᵀX).
_RIDGE_GRID = 10.0 ** np.arange(-6.0, 2.5, 0.5)
# Floor of the co-smoothing readout's rates, as a fraction of the neuron's mean training rate.
_RATE_FLOOR_FRACTION = 0.01


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


def load_binned(rec: RecordingConfig, recording=None):
    """Read (Neo) and bin/smooth (Elephant) the recording a :class:`RecordingConfig` names.

    Parameters
    ----------
    rec : RecordingConfig
    recording : brainbias.data.recordings.Recording, optional
        Use this instead of reading ``rec.path`` (Python API; e.g. from ``from_spike_times``).

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
        recording = recordings.read_recording(path, io=rec.io, condition_key=rec.condition_key,
                                              trial_key=rec.trial_key,
                                              align_event=rec.align_event)
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
    return recordings.bin_and_smooth(
        recording, bin_size=rec.bin_size, kernel=rec.kernel, kernel_width=rec.kernel_width,
        t_start=rec.t_start, t_stop=rec.t_stop)


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


# --------------------------------------------------------------------------- co-smoothing


def _poisson_loglik(counts, rates_hz, bin_size):
    lam = rates_hz * bin_size
    return float(np.sum(counts * np.log(lam) - lam))


def fit_heldout_readout(unit_rates, data: PopulationData, *, seed: int = 0):
    """Ridge readout from the network's unit rates to the held-out neurons (co-smoothing).

    Parameters
    ----------
    unit_rates : array, shape (context, time, unit)
        φ(x) of the fitted network per condition (the same for every trial of a condition:
        the fit is autonomous).
    data : PopulationData
    seed : int
        Seeds the two-fold split of the training trials that chooses the penalty (a condition
        with a single training trial cannot be split: then the middle of the grid, 10⁻², is
        used).

    Returns
    -------
    dict
        ``weights`` (held-out neuron, unit), ``intercept`` (held-out neuron,) in Hz,
        ``penalty`` (the chosen relative penalty), ``floor`` (held-out neuron,) Hz, and
        ``predict``: a function (context, time, unit) → (context, time, held-out neuron) Hz.
    """
    x = np.asarray(unit_rates, dtype=float)
    n_ctx, n_time, n_units = x.shape
    xf = x.reshape(-1, n_units)
    x_mean = xf.mean(axis=0)
    xc = xf - x_mean
    # one eigendecomposition serves every penalty: W(λ) = V diag(1/(s² + λ)) Vᵀ Xᵀ y
    evals, evecs = np.linalg.eigh(xc.T @ xc)
    evals = np.clip(evals, 0.0, None)
    mean_eval = max(float(evals.mean()), 1e-300)
    cond = data.trial_conditions
    rates = data.binned["rates"].transpose("trial", "time", "neuron").values[..., data.held_out]
    counts = data.binned["counts"].transpose("trial", "time", "neuron").values[..., data.held_out]
    train = data.train_trials
    floor = np.maximum(_RATE_FLOOR_FRACTION * rates[train].mean(axis=(0, 1)), 1e-3)

    def psth(trials):
        return np.stack([rates[trials[cond[trials] == c]].mean(axis=0)
                         for c in data.conditions]).reshape(-1, rates.shape[-1])

    def solve(y, lam):
        y_mean = y.mean(axis=0)
        proj = evecs.T @ (xc.T @ (y - y_mean))
        w = evecs @ (proj / (evals + lam * mean_eval)[:, None])  # (unit, neuron)
        return w, y_mean - x_mean @ w

    def predict_flat(w, b):
        return np.maximum(xf @ w + b, floor)

    # two halves of every condition's training trials
    rng = np.random.default_rng([seed, 1])
    halves = [[], []]
    for c in data.conditions:
        idx = rng.permutation(train[cond[train] == c])
        halves[0].extend(idx[: len(idx) // 2].tolist())
        halves[1].extend(idx[len(idx) // 2:].tolist())
    halves = [np.sort(np.array(h, dtype=int)) for h in halves]
    penalty = float(_RIDGE_GRID[len(_RIDGE_GRID) // 2])
    if all(len(h) for h in halves) and all(
            set(cond[h]) == set(data.conditions) for h in halves):
        scores = []
        for lam in _RIDGE_GRID:
            total = 0.0
            for fit_half, score_half in (halves, halves[::-1]):
                w, icpt = solve(psth(fit_half), lam)
                pred = predict_flat(w, icpt).reshape(n_ctx, n_time, -1)
                ctx = [data.conditions.index(c) for c in cond[score_half]]
                total += _poisson_loglik(counts[score_half], pred[ctx], data.bin_size)
            scores.append(total)
        penalty = float(_RIDGE_GRID[int(np.argmax(scores))])
    w, icpt = solve(psth(train), penalty)

    def predict(r):
        r = np.asarray(r, dtype=float)
        return np.maximum(r.reshape(-1, n_units) @ w + icpt, floor).reshape(
            r.shape[:-1] + (w.shape[1],))

    return {"weights": w.T, "intercept": icpt, "penalty": penalty, "floor": floor,
            "predict": predict}


# --------------------------------------------------------------------------- evaluation


def evaluate(network, controller, data: PopulationData, *, split_seed: int = 0) -> dict:
    """Simulate every condition from its trained initial state and score it on held-out data.

    Parameters
    ----------
    network : Network
    controller : Controller
        Trained; ``controller.contexts`` equal ``data.conditions``.
    data : PopulationData
    split_seed : int
        Seeds the penalty choice of the co-smoothing readout.

    Returns
    -------
    dict
        ``observed`` (context, time, output) the network's output in fit units; ``states``,
        ``rates`` (context, time, unit); ``model_psth`` (context, time, neuron) Hz (held-in
        neurons from the network, held-out from the co-smoothing readout); ``scores``
        {name: (per_condition ndarray, overall float)} for every name in
        :data:`RECORDING_SCORES` and its ``_baseline``; ``nrmse`` (context,);
        ``readout`` (see :func:`fit_heldout_readout`).

    Raises
    ------
    ConfigError
        Controller contexts that are not the recording's conditions.
    """
    import jax.numpy as jnp

    from ..analysis.metrics import nrmse as _nrmse
    from ..data.scores import co_smoothing_bits_per_spike, psth_r2, pvar
    from ..models.rate import rates as unit_rates
    from ..models.rate import simulate
    from ..training.control import effective_leak, effective_readout
    from ..training.loop import observe

    if tuple(controller.contexts) != tuple(data.conditions):
        raise ConfigError(f"controller: contexts {list(controller.contexts)} must equal the "
                          f"recording's conditions {list(data.conditions)}, in order.")
    readout = effective_readout(network, controller)
    leak = effective_leak(network, controller)
    n = data.n_bins
    states, observed = [], []
    for c in range(len(data.conditions)):
        x, y = simulate(network, controller.bias[c], controller.initial_state[c], n_steps=n,
                        readout=readout, leak=leak)
        states.append(np.asarray(x, dtype=float))
        observed.append(np.asarray(observe(y, data.loss), dtype=float))
    states, observed = np.stack(states), np.stack(observed)
    rates_u = np.asarray(unit_rates(network, jnp.asarray(states)), dtype=float)

    hin, hout = data.held_in, data.held_out
    model_psth = np.empty_like(data.test_psth)
    model_psth[..., hin] = data.to_hz(observed)
    ro = fit_heldout_readout(rates_u, data, seed=split_seed)
    model_psth[..., hout] = ro["predict"](rates_u)

    labels = data.conditions
    data_in, train_in, model_in = (p[..., hin] for p in (data.test_psth, data.train_psth,
                                                         model_psth))
    scores = {}
    for suffix, pred in (("", model_in), ("_baseline", train_in)):
        r2 = psth_r2(data_in, pred, conditions=labels)
        scores["psth_r2" + suffix] = (r2.per_condition, r2.overall)
        scores["pvar" + suffix] = (np.array([pvar(data_in[c], pred[c])
                                             for c in range(len(labels))]),
                                   pvar(data_in, pred))
    cond = data.trial_conditions
    test = data.test_trials
    ctx = np.array([labels.index(c) for c in cond[test]])
    k = data.binned["counts"].transpose("trial", "time", "neuron").values[test][..., hout]
    for suffix, pred in (("", model_psth[..., hout]), ("_baseline", data.train_psth[..., hout])):
        s = co_smoothing_bits_per_spike(k, pred[ctx], bin_size=data.bin_size,
                                        conditions=cond[test])
        per = dict(zip(s.conditions, s.per_condition, strict=True))
        scores["co_bps" + suffix] = (np.array([per.get(c, np.nan) for c in labels]), s.overall)
    target = data.to_fit_units(data.test_psth[..., hin], _mean_counts(data, test)[..., hin])
    nrmse = np.array([_nrmse(target[c], observed[c]) for c in range(len(labels))])
    return {"observed": observed, "target": target, "states": states, "rates": rates_u,
            "model_psth": model_psth, "scores": scores, "nrmse": nrmse, "readout": ro}


def _mean_counts(data: PopulationData, trials):
    cond = data.trial_conditions
    counts = data.binned["counts"].transpose("trial", "time", "neuron").values.astype(float)
    return np.stack([counts[trials[cond[trials] == c]].mean(axis=0) for c in data.conditions])


# --------------------------------------------------------------------------- the run


def _check_window(config: ExperimentConfig, data: PopulationData):
    if config.training.window != data.n_bins:
        raise ConfigError(
            f"training.window: a recording is fitted over its whole analysis window, which has "
            f"{data.n_bins} bins ([{data.binned.attrs['t_start']:g}, "
            f"{data.binned.attrs['t_stop']:g}] s at {data.bin_size:g} s), got window = "
            f"{config.training.window}. Set window = {data.n_bins} in [training]."
        )


def run(config: ExperimentConfig, *, recording=None, out_dir=None, force: bool = False,
        resume: bool = False, progress: bool = True, figures: bool = True):
    """Fit a recording, evaluate it on held-out trials and neurons, and (optionally) save.

    Parameters
    ----------
    config : ExperimentConfig
        With a ``recording`` table (or pass ``recording``; then ``config.recording`` may be
        None and its defaults apply). ``training`` must have ``run_mode="autonomous"``,
        ``train_initial_state=True``, ``test_fraction=0`` and ``window`` = number of bins.
    recording : brainbias.data.recordings.Recording, optional
        Fit this instead of reading ``config.recording.path``.
    out_dir : path, optional
        Writes ``run.nc``, ``checkpoint.npz`` and the figures there.
    force, resume, progress, figures
        As :func:`brainbias.experiment.pipeline.run`.

    Returns
    -------
    xarray.Dataset
        Schema-v1 results plus the recording variables
        (:data:`brainbias.results.RECORDING_VARIABLES`): per-condition and overall held-out
        scores next to the baseline, splits, data/baseline/model PSTHs, the co-smoothing
        readout.

    Raises
    ------
    ConfigError, DataError
        Bad settings, unreadable data (see :func:`load_binned`, :func:`prepare`).

    Examples
    --------
    >>> from brainbias.config import ExperimentConfig  # doctest: +SKIP
    >>> from brainbias.experiment.recording import run  # doctest: +SKIP
    >>> config = ExperimentConfig.from_toml(
    ...     "analyses/configs/recording_demo.toml")  # doctest: +SKIP
    >>> ds = run(config)  # doctest: +SKIP
    >>> float(ds.psth_r2_overall), float(ds.psth_r2_baseline_overall)  # doctest: +SKIP
    """
    import jax

    from .. import results as _results
    from ..training.loop import fit

    if config.recording is None:
        if recording is None:
            raise ConfigError("config: no [recording] table and no recording passed.")
        config = dataclasses.replace(config, recording=RecordingConfig())
    rec = config.recording
    out = Path(out_dir) if out_dir is not None else None
    run_file = out / "run.nc" if out is not None else None
    if run_file is not None:
        _results.prepare_output(run_file, force=force or resume)  # fail before training
    t0 = time.perf_counter()
    binned = load_binned(rec, recording)
    data = prepare(binned, rec, loss=config.training.loss)
    _check_window(config, data)
    targets = data.targets()
    load_time = time.perf_counter() - t0

    selection, tau = None, config.network.tau
    if tau == "auto":
        from .timescale import select_tau_for_recording

        selection = select_tau_for_recording(config, data, progress=progress)
        tau = selection.chosen_tau
    network, controller, k_train = build(config, data, tau=tau)
    train_result = fit(network, controller, targets, config.training, key=k_train,
                       checkpoint=None if out is None else out / "checkpoint.npz",
                       resume=resume, progress=progress)
    ev = evaluate(train_result.network, train_result.controller, data, split_seed=rec.split_seed)
    ds = _make_dataset(config, data, targets, train_result, ev, load_time=load_time)
    if selection is not None:
        ds = _results.with_tau_selection(ds, selection)
    if rec.teacher is not None:
        from .groundtruth import compare_run_with_teacher

        ds = _results.with_teacher_comparison(
            ds, compare_run_with_teacher(ds, rec.teacher, key=jax.random.PRNGKey(config.seed)))
    if run_file is not None:
        _results.save(ds, run_file, force=True)
        if figures:
            from .. import plotting

            plotting.save_recording_figures(ds, out)
    return ds


def build(config: ExperimentConfig, data: PopulationData, *, tau=None):
    """The network (fixed random weights from ``config.seed``), the initial controller and the
    training key of a recording fit; ``tau`` overrides ``config.network.tau`` (needed when
    that is ``"auto"``). Returns ``(network, controller, train_key)``."""
    import jax
    import jax.numpy as jnp

    from ..models.rate import make_network
    from ..training.control import make_controller

    tau = config.network.tau if tau is None else tau
    if tau == "auto":
        raise ConfigError('build: network.tau is "auto"; pass the chosen tau=... '
                          "(brainbias.experiment.timescale chooses it).")
    k_net, k_ctrl, k_train = jax.random.split(jax.random.PRNGKey(config.seed), 3)
    nc = config.network
    network = make_network(
        nc.n_units, n_inputs=0, n_outputs=len(data.held_in), connectivity=nc.connectivity,
        input_scale=nc.input_scale, feedback_scale=nc.feedback_scale,
        readout_scale=nc.readout_scale, dt=data.bin_size, tau=float(tau),
        nonlinearity=nc.nonlinearity, form=nc.form, key=k_net,
        dtype=jnp.dtype(config.training.dtype))
    controller = make_controller(network, list(data.conditions), mode=config.training.mode,
                                 bias_scale=config.training.bias_init_scale, key=k_ctrl)
    return network, controller, k_train


def _make_dataset(config, data: PopulationData, targets, train_result, ev, *, load_time):
    from .. import results as _results
    from ..training.loop import stack_targets

    n_ctx, n_time = len(data.conditions), data.n_bins
    nan = np.full(n_ctx, np.nan)
    metrics = {name: nan.copy() for name in _results.METRICS}
    metrics["nrmse"] = ev["nrmse"]
    evaluation = {
        "target": ev["target"], "prediction": ev["observed"], "rates": ev["rates"],
        "states": ev["states"], "inputs": np.zeros((n_ctx, n_time, 0)), "metrics": metrics,
        "attrs": dict(eval_washout=0, nrmse_horizon=n_time, vpt_threshold=float("nan"),
                      test_fraction=0.0),
    }
    arrays = stack_targets(targets, n_outputs=train_result.network.n_outputs, n_inputs=0)
    ds = _results.make_dataset(
        network=train_result.network, controller=train_result.controller,
        train_result=train_result, evaluation=evaluation, target_arrays=arrays, targets=targets,
        config_dict=config.to_dict(), seed=config.seed)
    b = data.binned
    ds = ds.assign_coords(time=("time", b["time"].values,
                                {"units": "s", "description": "bin centre, trial clock"}))
    ds["target"].attrs["description"] = ("held-out trials' PSTH of the held-in neurons, in the "
                                         "fit's units (normalised rate or counts per bin)")
    ds["prediction"].attrs["description"] = ("the network's output from its trained initial "
                                             "state, same units")
    ds["nrmse"].attrs["description"] = ("NRMSE of prediction vs the held-out trials' PSTH "
                                        "(held-in neurons, fit units, whole window)")
    names = np.array(data.neuron_names)
    held_out = np.zeros(len(names), dtype=bool)
    held_out[data.held_out] = True
    test = np.zeros(b.sizes["trial"], dtype=bool)
    test[data.test_trials] = True
    ro = ev["readout"]
    co_w = np.full((len(names), ds.sizes["unit"]), np.nan)
    co_w[data.held_out] = ro["weights"]
    co_b = np.full(len(names), np.nan)
    co_b[data.held_out] = ro["intercept"]
    new = {
        "psth_data": (("context", "time", "neuron"), data.test_psth,
                      {"units": "Hz", "description": "held-out trials' PSTH (smoothed rates)"}),
        "psth_baseline": (("context", "time", "neuron"), data.train_psth,
                          {"units": "Hz", "description": "training trials' PSTH: the "
                           "smoothed-PSTH baseline"}),
        "psth_model": (("context", "time", "neuron"), ev["model_psth"],
                       {"units": "Hz", "description": "network (held-in neurons) and "
                        "co-smoothing readout (held-out neurons)"}),
        "neuron_held_out": (("neuron",), held_out,
                            {"description": "held out of the fit, scored by co-smoothing"}),
        "normalisation_offset": (("neuron",), data.offset, {"units": "Hz"}),
        "normalisation_scale": (("neuron",), data.scale,
                                {"units": "Hz", "description": "fit units = (rate - offset) / "
                                 "scale (mse); expected count per bin = scale * softplus(output) "
                                 "(poisson)"}),
        "co_smoothing_weights": (("neuron", "unit"), co_w,
                                 {"units": "Hz", "description": "ridge readout unit rates -> "
                                  "held-out neuron (NaN rows: held-in)"}),
        "co_smoothing_intercept": (("neuron",), co_b, {"units": "Hz"}),
        "trial_test": (("trial",), test, {"description": "held out of the fit"}),
        "trial_condition": (("trial",), np.asarray(data.trial_conditions, dtype=object)),
    }
    for name, text in RECORDING_SCORES.items():
        for suffix in ("", "_baseline"):
            per, overall = ev["scores"][name + suffix]
            what = text + (" — baseline (training-trial PSTH)" if suffix else "")
            new[name + suffix] = (("context",), np.asarray(per, dtype=float),
                                  {"description": what})
            new[name + suffix + "_overall"] = ((), float(overall),
                                               {"description": what + ", all conditions"})
    ds = ds.assign(new)
    ds = ds.assign_coords(neuron=("neuron", names), trial=("trial", b["trial"].values))
    ds.attrs.update(
        recording_source=str(b.attrs.get("source", "")),
        recording_bin_size=data.bin_size,
        recording_kernel=str(b.attrs["kernel"]),
        recording_kernel_width=float(b.attrs["kernel_width"]),
        recording_t_start=float(b.attrs["t_start"]),
        recording_t_stop=float(b.attrs["t_stop"]),
        recording_align_event=str(b.attrs.get("align_event", "")),
        recording_dropped_neurons=str(b.attrs.get("dropped_neurons", "")),
        recording_split_seed=int(config.recording.split_seed),
        recording_test_trial_fraction=float(config.recording.test_trial_fraction),
        recording_test_neuron_fraction=float(config.recording.test_neuron_fraction),
        recording_soft_normalisation_constant=float(data.soft_normalisation_constant),
        recording_loss=data.loss,
        recording_load_time=float(load_time),
        co_smoothing_penalty=float(ro["penalty"]),
    )
    return _results.validate(ds)


# --------------------------------------------------------------------------- summary


def summary_table(ds) -> str:
    """Per-condition held-out scores of a recording run next to the baseline (plain text)."""
    def fmt(v, spec=".3f"):
        v = float(v)
        return "—" if not np.isfinite(v) else format(v, spec)

    def pair(name, sel):
        return f"{fmt(sel(name))} / {fmt(sel(name + '_baseline'))}"

    rows = [("condition", "NRMSE", "PSTH R² (model / base)", "pVar (model / base)",
             "co-bps (model / base)")]
    for c in ds["context"].values:
        d = ds.sel(context=c)
        rows.append((str(c), fmt(d["nrmse"]),
                     *(pair(n, lambda v, d=d: d[v]) for n in RECORDING_SCORES)))
    rows.append(("overall", "",
                 *(pair(n, lambda v: ds[v + "_overall"]) for n in RECORDING_SCORES)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    a = ds.attrs
    n_test = int(ds["trial_test"].sum())
    n_out = int(ds["neuron_held_out"].sum())
    notes = (f"held-out trials: {n_test} of {ds.sizes['trial']}; held-in neurons "
             f"{ds.sizes['neuron'] - n_out} (NRMSE, PSTH R², pVar), held-out neurons {n_out} "
             f"(co-smoothing bits/spike); base = smoothed PSTH of the training trials; split "
             f"seed {a['recording_split_seed']}; {a['recording_bin_size'] * 1e3:g} ms bins, "
             f"{a['recording_kernel']} σ = {a['recording_kernel_width'] * 1e3:g} ms, window "
             f"[{a['recording_t_start']:g}, {a['recording_t_stop']:g}] s; mode={a['mode']}, "
             f"loss={a['recording_loss']}, training {a['training_stopped']} in "
             f"{a['training_wall_time']:.0f} s.")
    from .timescale import tau_summary

    text = "\n".join(lines) + "\n" + textwrap.fill(notes, width=100, break_on_hyphens=False)
    text += "\n\n" + tau_summary(ds)
    if "teacher_attractor_kind" in ds:
        from .groundtruth import comparison_table

        text += "\n\nattractors against the teacher (" + str(a.get("teacher_source", "")) + \
            ")\n" + comparison_table(ds)
    return text
