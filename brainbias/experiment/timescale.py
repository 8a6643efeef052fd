"""The network's time constant from the data: ``[network] tau = "auto"``.

τ is part of the model: with the same weights and biases, a network with another τ runs the same
trajectories at another speed, and a bias-only fit cannot fully make up for a wrong one (it
recovers the *kind* of dynamics but not its time scale). ``tau = "auto"`` fits the run once per
value of a grid and keeps the τ whose fit does best on data the fit did not see:

* **recordings** (:func:`select_tau_for_recording`): the training trials are split again (same
  seed and fraction as the test split, per condition) into *fit* and *validation* trials; each
  candidate is fitted on the fit trials and scored by the PSTH R² of the validation trials'
  PSTH (held-in neurons, :func:`brainbias.data.scores.psth_r2`, higher is better);
* **targets** (:func:`select_tau_for_targets`): each target's training part is split again
  (the same ``test_fraction``) into a fit part and a *validation* segment at its end; each
  candidate is fitted on the fit part and scored by the mean NRMSE of its free run over the
  validation segment (:func:`brainbias.experiment.pipeline.evaluate`, lower is better).

The test trials / the test segment are never used for the choice, so the reported held-out
scores stay honest. The chosen τ is then fitted once more on all training data (that is the
run). Every candidate uses the same random weights (the same seed): only τ differs.

The default grid is ``dt × 2^(k/2)``, k = 0 … 8 (1 to 16 × dt, neighbours √2 apart); override
it with ``tau_grid = [...]`` (same unit as ``dt``, every value ≥ dt). The cost is one fit per
grid value plus the final fit. With ``training.mode = "bias+tau"`` every candidate is a starting
value of a trained τ, and the score picks the best start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from .._errors import ConfigError

__all__ = [
    "DEFAULT_TAU_GRID_MULTIPLES",
    "TauSelection",
    "tau_grid",
    "select_tau",
    "select_tau_for_recording",
    "select_tau_for_targets",
    "tau_summary",
]

#: the default grid in units of dt: 2^(k/2) for k = 0 … 8 (1 … 16 × dt, log-spaced by √2)
DEFAULT_TAU_GRID_MULTIPLES = tuple(float(2.0 ** (k / 2)) for k in range(9))


@dataclasses.dataclass(frozen=True, eq=False)
class TauSelection:
    """What ``tau = "auto"`` tried and chose (stored in the results, dim ``tau_candidate``).

    Attributes
    ----------
    candidates : ndarray, shape (tau_candidate,)
        The grid, ascending (time unit of ``dt``).
    scores : ndarray, shape (tau_candidate,)
        The held-out score of each candidate's fit (NaN if its fit failed).
    training_loss : ndarray, shape (tau_candidate,)
        Final training loss of each candidate's fit (mean over contexts, last iteration).
    fitted_tau : ndarray, shape (tau_candidate,)
        τ at the end of each candidate's fit (the candidate itself unless τ is trained).
    criterion : str
        What the score is.
    better : {"higher", "lower"}
        Which way the score improves.
    """

    candidates: np.ndarray
    scores: np.ndarray
    training_loss: np.ndarray
    fitted_tau: np.ndarray
    criterion: str
    better: str

    @property
    def chosen_index(self) -> int:
        """Position of the best finite score on the grid (ConfigError if none is finite)."""
        finite = np.isfinite(self.scores)
        if not finite.any():
            raise ConfigError('network.tau = "auto": no candidate of the grid '
                              f"{self.candidates.tolist()} gave a finite held-out score; check "
                              "the data or give tau explicitly.")
        s = np.where(finite, self.scores, -np.inf if self.better == "higher" else np.inf)
        return int(np.argmax(s) if self.better == "higher" else np.argmin(s))

    @property
    def chosen_tau(self) -> float:
        """The chosen grid value (the *starting* τ of a ``bias+tau`` fit)."""
        return float(self.candidates[self.chosen_index])


def tau_grid(network_config, dt: float) -> np.ndarray:
    """The τ candidates of a config for sampling interval ``dt``, ascending.

    Raises
    ------
    ConfigError
        A grid value below ``dt`` (the Euler step would overshoot), or ``tau`` not ``"auto"``.
    """
    if network_config.tau != "auto":
        raise ConfigError(f'tau_grid: network.tau is {network_config.tau!r}, not "auto".')
    grid = network_config.tau_grid
    if grid is None:
        grid = [dt * m for m in DEFAULT_TAU_GRID_MULTIPLES]
    grid = np.sort(np.asarray(grid, dtype=float))
    low = grid[grid < dt * (1 - 1e-12)]
    if low.size:
        raise ConfigError(
            f"network.tau_grid: every value must be ≥ dt = {dt:g} (leak dt/tau ≤ 1), got "
            f"{low.tolist()}. Remove them or use values from {dt:g} up.")
    return grid


def select_tau(candidates: Sequence[float], fit_and_score: Callable, *, criterion: str,
               better: str) -> TauSelection:
    """Fit and score every candidate; the generic loop behind both ``select_tau_for_*``.

    Parameters
    ----------
    candidates : sequence of float
    fit_and_score : callable
        ``fit_and_score(tau) -> (score, training_loss, fitted_tau)``; a
        :class:`~brainbias.TrainingError` (non-finite loss) gives the candidate a NaN score.
    criterion, better
        As :class:`TauSelection`.

    Returns
    -------
    TauSelection

    Examples
    --------
    >>> from brainbias.experiment.timescale import select_tau
    >>> sel = select_tau([0.1, 0.2, 0.4], lambda t: (-(t - 0.2) ** 2, 0.0, t),
    ...                  criterion="toy", better="higher")
    >>> sel.chosen_tau
    0.2
    """
    if better not in ("higher", "lower"):
        raise ConfigError(f'better: expected "higher" or "lower", got {better!r}.')
    from .._errors import TrainingError

    rows = []
    for t in candidates:
        try:
            rows.append(tuple(float(v) for v in fit_and_score(float(t))))
        except TrainingError:  # e.g. a non-finite loss at this τ: the candidate loses
            rows.append((float("nan"), float("nan"), float(t)))
    scores, losses, fitted = (np.array(col) for col in zip(*rows, strict=True))
    return TauSelection(candidates=np.asarray(candidates, dtype=float), scores=scores,
                        training_loss=losses, fitted_tau=fitted, criterion=criterion,
                        better=better)


def _final_loss(train_result) -> float:
    loss = np.asarray(train_result.loss)
    return float(loss[-1].mean()) if loss.size else float("nan")


def select_tau_for_recording(config, data, *, progress: bool = False) -> TauSelection:
    """Choose τ for a recording fit by the validation trials' PSTH R² (see module docstring).

    Parameters
    ----------
    config : ExperimentConfig
        With ``network.tau = "auto"`` and a ``recording`` table.
    data : brainbias.experiment.recording.PopulationData
        The prepared recording (its training trials are split into fit and validation).
    progress : bool
        Progress bars of the candidate fits.

    Returns
    -------
    TauSelection

    Raises
    ------
    ConfigError
        A condition with fewer than 2 training trials (nothing to validate on), a grid value
        below the bin size.
    """
    from ..training.control import effective_tau
    from ..training.loop import fit
    from . import recording as population
    from .pipeline import build
    from .recording import RecordingSource

    rec = config.recording
    train = data.train_trials
    cond = data.trial_conditions[train]
    few = [c for c in data.conditions if np.sum(cond == c) < 2]
    if few:
        raise ConfigError(f'network.tau = "auto" splits the training trials into fit and '
                          f"validation trials, but conditions {few} have fewer than 2 training "
                          "trials. Give tau explicitly or record more trials.")
    inner = population.prepare(data.binned.isel(trial=train), rec, loss=data.loss)
    targets = inner.targets()

    def fit_and_score(tau):
        network, controller, key = build(config, RecordingSource(config, inner), tau=tau)
        result = fit(network, controller, targets, config.training, key=key, progress=progress)
        ev = population.evaluate(result.network, result.controller, inner,
                                 split_seed=rec.split_seed)
        score = ev["scores"]["psth_r2"][1]
        return score, _final_loss(result), effective_tau(result.network, result.controller)

    return select_tau(tau_grid(config.network, data.bin_size), fit_and_score,
                      criterion="PSTH R² of validation trials (held-in neurons), fit on the "
                      "other training trials", better="higher")


def select_tau_for_targets(config, targets, *, progress: bool = False) -> TauSelection:
    """Choose τ for a target fit by the free-running NRMSE on a validation segment.

    Each target's training part (its first ``1 − test_fraction``) is split again with the same
    ``test_fraction``: the candidates are fitted on the first part and scored on the rest, as
    :func:`brainbias.experiment.pipeline.evaluate` scores the test segment.

    Raises
    ------
    ConfigError
        ``run_mode = "autonomous"`` (nothing is held out in time), a training part too short
        to hold out a validation segment, a grid value below ``dt``.
    """
    from ..training.control import effective_tau
    from ..training.loop import fit
    from .pipeline import build, evaluate

    training = config.training
    if training.run_mode == "autonomous":
        raise ConfigError('network.tau = "auto" scores each candidate on a held-out segment, but '
                          'run_mode = "autonomous" fits the whole target. Give tau explicitly.')
    inner = []
    for t in targets:
        n = int(np.floor(t.n_steps * (1.0 - training.test_fraction)))
        inner.append(dataclasses.replace(
            t, outputs=t.outputs[:n], inputs=None if t.inputs is None else t.inputs[:n]))

    def fit_and_score(tau):
        network, controller, key = build(config, inner, tau=tau)
        result = fit(network, controller, inner, training, key=key, progress=progress)
        ev = evaluate(result.network, result.controller, inner, training, config.evaluation)
        score = float(np.mean(ev["metrics"]["nrmse"]))
        return score, _final_loss(result), effective_tau(result.network, result.controller)

    return select_tau(tau_grid(config.network, inner[0].dt), fit_and_score,
                      criterion=f"mean NRMSE@{config.evaluation.horizon} of the free run on a "
                      "validation segment at the end of each target's training part",
                      better="lower")


def tau_summary(ds) -> str:
    """How a run's τ was set, as text: the value, whether it was chosen (``auto``: the grid and
    the held-out score per candidate) and whether it was trained (``bias+tau``)."""
    a = ds.attrs
    tau, initial = float(a["tau"]), float(a.get("initial_tau", a["tau"]))
    trained = "trained_leak_logit" in ds
    how = {"auto": "chosen by held-out score", "fixed": "given"}.get(
        str(a.get("tau_selection", "fixed")), str(a.get("tau_selection")))
    if trained:
        how = f"fitted with the biases (mode bias+tau) from {initial:.4g}" + (
            ", a start chosen by held-out score" if a.get("tau_selection") == "auto" else "")
    line = f"tau = {tau:.4g} ({how})"
    if "tau_selection_score" not in ds:
        return line
    better = a.get("tau_selection_better", "higher")
    rows = [("tau candidate", "held-out score", "training loss", "fitted tau")]
    chosen = float(a["tau_selection_chosen"])
    for t, s, loss, ft in zip(ds["tau_candidate"].values, ds["tau_selection_score"].values,
                              ds["tau_selection_training_loss"].values,
                              ds["tau_selection_fitted_tau"].values, strict=True):
        rows.append((f"{t:.4g}" + (" *" if np.isclose(t, chosen) else ""), f"{s:.4f}",
                     f"{loss:.4g}", f"{ft:.4g}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return (line + "\n" + "\n".join(lines) + f"\nscore: {a['tau_selection_criterion']} "
            f"({better} is better); * = chosen")
