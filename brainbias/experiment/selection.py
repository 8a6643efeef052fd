"""Model selection during a fit, on a validation trajectory, by free-running quality.

For closed-loop generators the training loss does not predict how faithful the free-running
attractor is (REFERENCES §5; measured again for issue 8: validation D_stsp of successive
checkpoints of one fit jumps between ≈ 0.8 and ≈ 14, a collapse, while the loss falls
smoothly). :class:`ValidationSelector` is a :func:`brainbias.training.loop.fit` callback that, every
``every`` iterations, runs the current network free from the start of each validation
trajectory and keeps the model with the lowest state-space divergence ``D_stsp`` to it (ties
and collapses broken by the median valid prediction time). Nothing here sees the test data.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from .._errors import ConfigError, check_int
from ..analysis.forecast import forecast_errors, free_run, valid_prediction_steps
from ..data.trajectory import Trajectory

CRITERIA = ("state_space_divergence", "valid_prediction")

__all__ = ["ValidationSelector", "CRITERIA", "free_run", "forecast_errors",
           "valid_prediction_steps"]


@dataclasses.dataclass
class _Best:
    score: float = math.inf
    vpt: float = -math.inf
    iteration: int = -1
    network: object = None
    controller: object = None


class ValidationSelector:
    """A :func:`~brainbias.training.loop.fit` callback that keeps the most faithful model.

    Parameters
    ----------
    validation : Trajectory or sequence of Trajectory
        One per context, in the controller's order, never used for training.
    every : int
        Score the model every this many iterations (at the next chunk boundary).
    washout : int
        Teacher-forced warm-up steps before each free run.
    free_run_steps : int, optional
        Length of the free run scored against each validation trajectory's occupancy; default
        the validation length (the occupancies are normalised, lengths may differ).
    n_bins : int, optional
        Bins per dimension of ``D_stsp``; default ``min(20, ⌊T^(1/d)⌋)`` for a validation
        trajectory of T samples in d ≤ 3 used outputs.
    n_vpt_starts : int
        Held-out starts of the valid-prediction tie-breaker.
    criterion : {"state_space_divergence", "valid_prediction"}
        Keep the model with the lowest ``D_stsp`` (ties broken by valid prediction time), or
        the one with the longest median valid prediction time among those whose ``D_stsp`` is
        at most ``divergence_ceiling`` (ties broken by ``D_stsp``): the second suits a
        precision phase that starts from an already faithful attractor.
    divergence_ceiling : float
        For ``criterion="valid_prediction"``: the largest ``D_stsp`` a kept model may have.

    Attributes
    ----------
    history : list of dict
        ``iteration``, ``state_space_divergence`` and ``valid_prediction_lyapunov_times`` (or
        ``valid_prediction_steps`` without a Lyapunov exponent), averaged over contexts.

    Examples
    --------
    >>> sel = ValidationSelector(validation, every=500)          # doctest: +SKIP
    >>> result = fit(net, ctrl, targets, cfg, key=key, callback=sel)  # doctest: +SKIP
    >>> result = sel.select(result)                              # doctest: +SKIP
    """

    def __init__(self, validation: Trajectory | Sequence[Trajectory], *, every: int,
                 washout: int = 50, free_run_steps: int | None = None, n_bins: int | None = None,
                 n_vpt_starts: int = 8, criterion: str = "state_space_divergence",
                 divergence_ceiling: float = math.inf):
        self.validation = [validation] if isinstance(validation, Trajectory) else list(validation)
        if not self.validation or not all(isinstance(v, Trajectory) for v in self.validation):
            raise ConfigError("ValidationSelector: validation must be a Trajectory or a sequence "
                              "of Trajectory objects, one per context.")
        for name, value, lo in (("every", every, 1), ("washout", washout, 0),
                                ("n_vpt_starts", n_vpt_starts, 1)):
            check_int(f"ValidationSelector: {name}", value, minimum=lo)
        self.every, self.washout, self.n_vpt_starts = every, washout, n_vpt_starts
        if criterion not in CRITERIA:
            raise ConfigError(f"ValidationSelector: criterion must be one of {CRITERIA}, got "
                              f"{criterion!r}.")
        if not divergence_ceiling > 0:
            raise ConfigError("ValidationSelector: divergence_ceiling must be > 0, got "
                              f"{divergence_ceiling!r}.")
        self.criterion, self.divergence_ceiling = criterion, float(divergence_ceiling)
        self.free_run_steps = free_run_steps
        self.n_bins = n_bins
        self.history: list[dict] = []
        self.best = _Best()
        self._next = self.every

    def __call__(self, iteration, network, controller):
        if iteration < self._next:
            return
        self._next = iteration + self.every
        self.consider(iteration, network, controller)

    def consider(self, iteration, network, controller):
        """Score one model and keep it if it is the best so far."""
        from ..analysis.attractor_metrics import state_space_divergence

        d_values, vpts = [], []
        for c, traj in enumerate(self.validation):
            y = traj.outputs
            dim = y.shape[1]
            if dim > 3:
                raise ConfigError(f"ValidationSelector: context {c} has {dim} outputs; the "
                                  "binned D_stsp used for selection needs at most 3.")
            n_free = self.free_run_steps or len(y)
            gen = free_run(network, controller, c, y[: self.washout], n_free)[:, :dim]
            bins = self.n_bins or int(min(20, math.floor(len(y) ** (1.0 / dim))))
            finite = np.all(np.isfinite(gen)) and np.abs(gen).max() < 1e6
            d_values.append(state_space_divergence(y, gen, n_bins=bins, margin=0.0) if finite
                            else math.inf)
            horizon = max(2, min(len(y) - self.washout - 1, 5 * self._lyapunov_steps(traj)))
            errors = forecast_errors(network, controller, c, y, washout=self.washout,
                                     horizon=horizon, n_starts=self.n_vpt_starts)
            steps = valid_prediction_steps(errors)
            vpts.append(float(np.median(steps)) * traj.dt * (traj.lyapunov_exponent or 1.0))
        score, vpt = float(np.mean(d_values)), float(np.mean(vpts))
        self.history.append({"iteration": int(iteration), "state_space_divergence": score,
                             "valid_prediction": vpt})
        if self._better(score, vpt, self.best):
            self.best = _Best(score, vpt, int(iteration), network, controller)

    def _better(self, score, vpt, b: _Best) -> bool:
        if self.criterion == "valid_prediction":
            if not score <= self.divergence_ceiling:
                return False
            return vpt > b.vpt or (vpt == b.vpt and score < b.score)
        return score < b.score or (score == b.score and vpt > b.vpt)

    @staticmethod
    def _lyapunov_steps(traj: Trajectory) -> int:
        """Steps per Lyapunov time (or 50 steps without an exponent)."""
        if traj.lyapunov_exponent:
            return max(1, int(round(1.0 / (traj.lyapunov_exponent * traj.dt))))
        return 50

    def select(self, result):
        """``result`` (a TrainResult) with the best model seen, scoring the final one too.

        The returned result's ``stopped`` says which iteration was selected.
        """
        n_done = result.n_updates
        if not self.history or self.history[-1]["iteration"] != n_done:
            self.consider(n_done, result.network, result.controller)
        b = self.best
        if b.iteration < 0:  # valid_prediction: no model under the divergence ceiling
            return dataclasses.replace(result, stopped=f"{result.stopped}; no model had "
                                       f"D_stsp <= {self.divergence_ceiling:g} on validation, "
                                       "kept the final one")
        if b.iteration == n_done:
            return dataclasses.replace(result, stopped=f"{result.stopped}; selected the final "
                                       "model on validation")
        network = b.network if result.config.mode == "all" else result.network
        which = (f"polish step {b.iteration - len(result.loss)}" if b.iteration > len(result.loss)
                 else f"iteration {b.iteration}")
        return dataclasses.replace(result, network=network, controller=b.controller,
                                   stopped=f"{result.stopped}; selected {which} on validation "
                                   f"{self.criterion}")
