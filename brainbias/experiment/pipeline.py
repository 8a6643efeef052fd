"""One run from a config: build targets and network, fit, evaluate, assemble results.

This is the single code path behind ``brainbias fit``, ``brainbias demo`` and the Python call
:func:`run`, so that the CLI and the API agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .. import results as _results
from .._errors import ConfigError
from ..analysis import metrics as _metrics
from ..config import EvaluationConfig, ExperimentConfig, TrainingConfig
from ..data.trajectory import Trajectory
from ..models.rate import Network, make_network, rates, simulate
from ..training.control import Controller, effective_leak, effective_readout, make_controller
from ..training.loop import TrainResult, fit, observe, stack_targets, warm_up

__all__ = ["run", "evaluate", "build", "summary_table"]


def build(config: ExperimentConfig, targets: Sequence[Trajectory] | None = None, *, tau=None):
    """Targets, network and initial controller of a config, from its seed.

    ``tau`` overrides ``config.network.tau`` (needed when that is ``"auto"``: the same weights
    are drawn whatever τ). Returns ``(targets, network, controller, train_key)``.
    """
    targets = _targets_of(config) if targets is None else list(targets)
    arrays = stack_targets(targets)
    key = jax.random.PRNGKey(config.seed)
    k_net, k_ctrl, k_train = jax.random.split(key, 3)
    nc = config.network
    tau = nc.tau if tau is None else tau
    if tau == "auto":
        raise ConfigError('build: network.tau is "auto"; pass the chosen tau=... '
                          "(brainbias.experiment.timescale chooses it).")
    dtype = jnp.dtype(config.training.dtype)
    network = make_network(
        nc.n_units, n_inputs=arrays.inputs.shape[-1], n_outputs=arrays.outputs.shape[-1],
        connectivity=nc.connectivity, input_scale=nc.input_scale,
        feedback_scale=nc.feedback_scale, readout_scale=nc.readout_scale, dt=arrays.dt,
        tau=float(tau), nonlinearity=nc.nonlinearity, form=nc.form, key=k_net, dtype=dtype,
    )
    controller = make_controller(network, [t.name for t in targets], mode=config.training.mode,
                                 bias_scale=config.training.bias_init_scale, key=k_ctrl)
    return targets, network, controller, k_train


def _targets_of(config: ExperimentConfig) -> list:
    from ..data.targets import make_target

    if not config.targets:
        raise ConfigError("config: no [[targets]] tables; add at least one target (or a "
                          "[recording] table to fit recorded spikes).")
    return [make_target(dict(spec)) for spec in config.targets]


def evaluate(network: Network, controller: Controller, targets: Sequence[Trajectory],
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


def run(config: ExperimentConfig, *, out_dir=None, force: bool = False, resume: bool = False,
        progress: bool = True, figures: bool = True, targets: Sequence[Trajectory] | None = None):
    """Fit, evaluate and (optionally) save one experiment.

    Parameters
    ----------
    config : ExperimentConfig
    out_dir : path, optional
        Writes ``run.nc``, ``checkpoint.npz`` and figures there.
    force : bool
        Overwrite an existing ``run.nc``.
    resume : bool
        Continue from ``out_dir/checkpoint.npz``.
    targets : sequence of Trajectory, optional
        Use these instead of building ``config.targets`` (Python API).

    Returns
    -------
    xarray.Dataset
        The results (schema :data:`brainbias.results.SCHEMA_VERSION`).

    Notes
    -----
    A config with a ``[recording]`` table is fitted by :func:`brainbias.experiment.recording.run`
    (held-out trials and neurons, recording variables in the results).
    """
    if config.recording is not None:
        if targets is not None:
            raise ConfigError("targets: a config with a [recording] table fits the recording; "
                              "do not pass targets as well.")
        from . import recording as population

        return population.run(config, out_dir=out_dir, force=force, resume=resume,
                              progress=progress, figures=figures)
    out = Path(out_dir) if out_dir is not None else None
    run_file = out / "run.nc" if out is not None else None
    if run_file is not None:
        _results.prepare_output(run_file, force=force or resume)  # fail before training
    selection, tau = None, config.network.tau
    if tau == "auto":
        from .timescale import select_tau_for_targets

        targets = _targets_of(config) if targets is None else list(targets)
        selection = select_tau_for_targets(config, targets, progress=progress)
        tau = selection.chosen_tau
    targets, network, controller, key = build(config, targets, tau=tau)
    train_result: TrainResult = fit(
        network, controller, targets, config.training, key=key,
        checkpoint=None if out is None else out / "checkpoint.npz", resume=resume,
        progress=progress)
    evaluation = evaluate(train_result.network, train_result.controller, targets,
                          config.training, config.evaluation)
    arrays = stack_targets(targets, n_outputs=network.n_outputs, n_inputs=network.n_inputs)
    ds = _results.make_dataset(
        network=train_result.network, controller=train_result.controller,
        train_result=train_result, evaluation=evaluation, target_arrays=arrays, targets=targets,
        config_dict=config.to_dict(), seed=config.seed)
    if selection is not None:
        ds = _results.with_tau_selection(ds, selection)
    if run_file is not None:
        _results.save(ds, run_file, force=True)
        if figures:
            from .. import plotting

            plotting.save_run_figures(ds, out)
    return ds


def summary_table(ds) -> str:
    """Per-context fit-quality table (plain text) of a results Dataset.

    Runs fitted to a recording get :func:`brainbias.experiment.recording.summary_table` (held-out
    scores next to the smoothed-PSTH baseline).
    """
    if _results.is_recording_run(ds):
        from .recording import summary_table as recording_table

        return recording_table(ds)
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


def replace_training(config: ExperimentConfig, **changes) -> ExperimentConfig:
    """A copy of ``config`` with training fields changed (validated)."""
    return dataclasses.replace(config, training=dataclasses.replace(config.training, **changes))
