"""Target runs: synthetic trajectories as the thing a run fits, scored by free runs on the
held-out end of each target (:func:`evaluate`), and their per-context table."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from .. import results as _results
from .._errors import ConfigError
from ..analysis import metrics as _metrics
from ..config import EvaluationConfig, ExperimentConfig, TrainingConfig
from ..data.trajectory import Trajectory
from ..models.base import Model, rates, simulate
from ..training.control import Controller, effective_leak, effective_readout
from ..training.loop import observe, stack_targets, warm_up

__all__ = ["TargetSource", "evaluate", "summary_table"]


@dataclasses.dataclass(frozen=True, eq=False)
class TargetSource:
    """Trajectories (one per context) as the thing a run fits
    (:func:`brainbias.experiment.pipeline.run`); the held-out end of each is scored."""

    config: ExperimentConfig
    trajectories: tuple

    @classmethod
    def from_config(cls, config: ExperimentConfig, targets=None) -> TargetSource:
        """The config's ``[[targets]]``, or the given trajectories (Python API)."""
        return cls(config, tuple(_targets_of(config) if targets is None else targets))

    @functools.cached_property
    def _arrays(self):
        """The stacked targets, once (dt, inputs and outputs are read from them)."""
        return stack_targets(list(self.trajectories))

    @property
    def contexts(self) -> tuple:
        return tuple(t.name for t in self.trajectories)

    @property
    def dt(self) -> float:
        return float(self._arrays.dt)

    @property
    def n_inputs(self) -> int:
        return int(self._arrays.inputs.shape[-1])

    @property
    def n_outputs(self) -> int:
        return int(self._arrays.outputs.shape[-1])

    def targets(self) -> list:
        return list(self.trajectories)

    def selector(self):
        """The model-selection callback of the fit (``training.select_every > 0``), scoring
        free runs against the validation segment of each target: the steps between the fit's
        part and the test part (:func:`~brainbias.training.stacking.stack_targets`). None
        without selection."""
        training = self.config.training
        if not training.select_every:
            return None
        from .selection import ValidationSelector

        targets = self.targets()
        fit_part = stack_targets(targets, test_fraction=training.test_fraction,
                                 validation_fraction=training.validation_fraction).n_train
        train_part = stack_targets(targets, test_fraction=training.test_fraction).n_train
        segments = []
        for t, a, b in zip(targets, fit_part, train_part, strict=True):
            if b - a < self.config.evaluation.washout + 3:
                raise ConfigError(
                    f"target {t.name!r}: the validation segment has {b - a} steps, fewer than "
                    f"evaluation.washout + 3 = {self.config.evaluation.washout + 3}. Increase "
                    "training.validation_fraction or the target's n_steps.")
            segments.append(dataclasses.replace(
                t, outputs=t.outputs[a:b], inputs=None if t.inputs is None else t.inputs[a:b]))
        return ValidationSelector(segments, every=training.select_every,
                                  washout=self.config.evaluation.washout,
                                  free_run_steps=training.validation_free_run)

    def select_tau(self, *, progress: bool = False):
        """``tau = "auto"`` for targets
        (:func:`~brainbias.experiment.timescale.select_tau_for_targets`)."""
        from .timescale import select_tau_for_targets

        return select_tau_for_targets(self.config, self.targets(), progress=progress)

    def results(self, train_result):
        """Held-out free-run evaluation of the fitted network as a results Dataset."""
        network, targets = train_result.network, self.targets()
        evaluation = evaluate(network, train_result.controller, targets, self.config.training,
                              self.config.evaluation)
        arrays = stack_targets(targets, n_outputs=network.n_outputs, n_inputs=network.n_inputs)
        return _results.make_dataset(
            network=network, controller=train_result.controller, train_result=train_result,
            evaluation=evaluation, target_arrays=arrays, targets=targets,
            config_dict=self.config.to_dict(), seed=self.config.seed)

    def finish(self, ds):
        return ds

    def save_figures(self, ds, out) -> None:
        from .. import plotting

        plotting.save_run_figures(ds, out)


def _targets_of(config: ExperimentConfig) -> list:
    from ..data.targets import make_target

    if not config.targets:
        raise ConfigError("config: no [[targets]] tables; add at least one target (or a "
                          "[recording] table to fit recorded spikes).")
    return [make_target(dict(spec)) for spec in config.targets]


def evaluate(network: Model, controller: Controller, targets: Sequence[Trajectory],
             training: TrainingConfig, evaluation: EvaluationConfig) -> dict:
    """Free-running evaluation of every context on the held-out end of its target.

    Closed loop: ``evaluation.washout`` held-out steps warm the network up with the true output
    fed back, then it runs on its own output for the rest of the held-out segment. Driven: the
    same with the true inputs and no feedback. Autonomous: from the initial state over the whole
    target (nothing is held out). Contexts with shorter segments are NaN-padded.

    Returns
    -------
    dict
        ``target``, ``prediction`` (context, time, output), ``rates`` and ``states``
        (context, time, unit),
        ``inputs`` (context, time, input), ``metrics`` {name: (context,)}, ``attrs``.
    """
    arrays = stack_targets(targets, test_fraction=training.test_fraction,
                           n_outputs=network.n_outputs, n_inputs=network.n_inputs)
    readout = effective_readout(network, controller)
    leak = effective_leak(network, controller)
    w = evaluation.washout
    segments = []
    for c, t in enumerate(targets):
        n, n_tr = int(arrays.n_steps[c]), int(arrays.n_train[c])
        y = jnp.asarray(arrays.outputs[c, :n])
        u = jnp.asarray(arrays.inputs[c, :n]) if arrays.inputs.shape[-1] else None
        mask = jnp.asarray(arrays.output_mask[c])
        bias, x0 = controller.bias[c], controller.initial_state[c]
        if training.run_mode == "autonomous":
            states, out = simulate(network, bias, x0, n_steps=n - 1, readout=readout, leak=leak)
            y_ref, u_seg = y[1:], None
        else:
            seg_y = y[n_tr:]
            seg_u = u[n_tr:] if u is not None else None
            if len(seg_y) < w + 2:
                raise ConfigError(
                    f"target {t.name!r}: the held-out segment has {len(seg_y)} steps, fewer than "
                    f"evaluation.washout + 2 = {w + 2}. Increase n_steps or training.test_fraction."
                )
            kw = dict(readout=readout, output_mask=mask, leak=leak)
            start = warm_up(network, bias, x0, run_mode=training.run_mode, teacher=seg_y[:w],
                            inputs=None if seg_u is None else seg_u[:w], **kw)
            if training.run_mode == "closed_loop":
                states, out = simulate(network, bias, start, mode="closed_loop",
                                       n_steps=len(seg_y) - w - 1,
                                       inputs=None if seg_u is None else seg_u[w:-1], **kw)
            else:
                states, out = simulate(network, bias, start, mode="driven",
                                       inputs=seg_u[w:-1], **kw)
            y_ref = seg_y[w + 1:]
            u_seg = None if seg_u is None else seg_u[w:-1]
        segments.append(dict(target=np.asarray(y_ref),
                             prediction=np.asarray(observe(out, training.loss)),
                             rates=np.asarray(rates(network, states)),
                             states=np.asarray(states),
                             inputs=None if u_seg is None else np.asarray(u_seg)))
    n_time = max(len(s["target"]) for s in segments)

    def pad(name, width):
        arr = np.full((len(segments), n_time, width), np.nan)
        for c, s in enumerate(segments):
            if s[name] is not None:
                arr[c, : len(s[name]), : s[name].shape[1]] = s[name]
        return arr

    result = {
        "target": pad("target", network.n_outputs),
        "prediction": pad("prediction", network.n_outputs),
        "rates": pad("rates", network.n_units),
        "states": pad("states", network.n_units),
        "inputs": pad("inputs", arrays.inputs.shape[-1]),
    }
    metrics = {name: np.full(len(targets), np.nan) for name in _results.METRICS}
    for c, (t, s) in enumerate(zip(targets, segments, strict=True)):
        used = arrays.output_mask[c].astype(bool)
        yt, yp = s["target"][:, used], s["prediction"][:, used]
        metrics["nrmse"][c] = _metrics.nrmse(yt, yp, horizon=evaluation.horizon)
        vpt = _metrics.valid_prediction_time(yt, yp, dt=network.dt,
                                             threshold=evaluation.vpt_threshold,
                                             lyapunov_exponent=t.lyapunov_exponent)
        metrics["valid_prediction_steps"][c] = vpt["steps"]
        metrics["valid_prediction_time"][c] = vpt["time"]
        metrics["valid_prediction_lyapunov_times"][c] = vpt["lyapunov_times"]
        if t.kind == "limit_cycle":
            lc = _metrics.limit_cycle_errors(yt, yp, dt=network.dt)
            for k in ("period", "target_period", "period_error", "amplitude_error"):
                metrics[k][c] = lc[k]
    result["metrics"] = metrics
    result["attrs"] = dict(eval_washout=w, nrmse_horizon=evaluation.horizon,
                           vpt_threshold=evaluation.vpt_threshold,
                           test_fraction=training.test_fraction)
    return result


def summary_table(ds) -> str:
    """Per-context fit-quality table (plain text) of a target run's results Dataset."""
    a = ds.attrs
    rows = [("context", "kind", f"NRMSE@{a['nrmse_horizon']}", "valid pred. (steps)",
             "valid pred. (Lyap.)", "period err", "ampl. err")]

    def fmt(v, spec=".3f"):
        v = float(v)
        return "—" if not np.isfinite(v) else format(v, spec)

    for c in ds["context"].values:
        d = ds.sel(context=c)
        rows.append((str(c), str(d["target_kind"].values), fmt(d["nrmse"]),
                     fmt(d["valid_prediction_steps"], ".0f"),
                     fmt(d["valid_prediction_lyapunov_times"], ".2f"),
                     fmt(d["period_error"]), fmt(d["amplitude_error"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = (f"free-running on the held-out {a['test_fraction']:.0%} of each target after "
             f"{a['eval_washout']} warm-up steps; valid prediction ends at normalised error "
             f"{a['vpt_threshold']}; mode={a['mode']}, run_mode={a['run_mode']}, "
             f"training {a['training_stopped']} in {a['training_wall_time']:.0f} s.")
    from .timescale import tau_summary

    return "\n".join(lines) + "\n" + notes + "\n" + tau_summary(ds)
