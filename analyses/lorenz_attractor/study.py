"""Closed-loop Lorenz-63 with bias-only control: train, free-run, score (issue 8, part 1).

Uses only the public API. One call of :func:`run_point` trains one network (one seed, one
training mode) on a z-scored Lorenz-63 trajectory and scores its free-running closed loop
against independent reference trajectories with the standard measures:

* ``D_stsp``: KL divergence of 30³-bin occupancy histograms over the reference's range, on a
  free run of ``free_run_time`` time units (≥ 1000) against an independent reference of the
  same length, beside its sampling floor (a second independent reference);
* ``D_H``: Hellinger distance of power spectra smoothed with σ = 20 frequency bins;
* largest Lyapunov exponent of the *trained network* (QR method along its own free run);
* valid prediction time (normalised error 0.4) over ``n_vpt_starts`` held-out starts.

Run ``python analyses/lorenz_attractor/study.py --help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import brainbias as bb
from brainbias.analysis.attractor_metrics import (
    lyapunov_exponent,
    power_spectrum_distance,
    state_space_divergence,
)
from brainbias.data.targets import lorenz
from brainbias.experiment.selection import (
    ValidationSelector,
    forecast_errors,
    free_run,
    valid_prediction_steps,
)
from brainbias.training.loop import warm_up

LORENZ_LYAPUNOV = 0.9056


def lorenz_data(dt: float, n_train: int, n_reference: int, *, seed: int = 0):
    """Training, validation/test, reference and floor trajectories, z-scored with ONE set of
    statistics (those of the long reference) so that every trajectory shares a scale."""
    raw = {name: lorenz(n_steps=n, dt=dt, seed=seed * 10 + i, standardise=False).outputs
           for i, (name, n) in enumerate((("train", n_train), ("test", max(n_train // 2, 5000)),
                                          ("validation", 15000),
                                          ("reference", n_reference),
                                          ("floor", n_reference)))}
    mean, std = raw["reference"].mean(0), raw["reference"].std(0)
    return {k: (v - mean) / std for k, v in raw.items()}


def vpt_scores(network, controller, test, *, dt, washout, n_starts, horizon):
    """Valid prediction times (Lyapunov times) and error curves from held-out starts."""
    errors = forecast_errors(network, controller, 0, test, washout=washout, horizon=horizon,
                             n_starts=n_starts)
    return valid_prediction_steps(errors) * dt * LORENZ_LYAPUNOV, errors


def score(network, controller, data, *, dt, free_run_time=1000.0, n_vpt_starts=24,
          lyapunov_steps=20000, washout=50):
    """All attractor measures of a trained closed-loop network (a dict of floats)."""
    n_free = int(round(free_run_time / dt))
    ref, floor = data["reference"][:n_free], data["floor"][:n_free]
    gen = free_run(network, controller, 0, data["test"][:washout], n_free)
    finite = bool(np.all(np.isfinite(gen)))
    out = {"finite": finite}
    if finite:
        out["d_stsp"] = state_space_divergence(ref, gen, n_bins=30, margin=0.0)
        out["d_h"] = power_spectrum_distance(ref, gen, smoothing=20.0)
    else:
        out["d_stsp"] = out["d_h"] = float("nan")
    out["d_stsp_floor"] = state_space_divergence(ref, floor, n_bins=30, margin=0.0)
    out["d_h_floor"] = power_spectrum_distance(ref, floor, smoothing=20.0)
    horizon = int(round(10 / LORENZ_LYAPUNOV / dt))  # 10 Lyapunov times
    vpt, errors = vpt_scores(network, controller, data["test"], dt=dt, washout=washout,
                             n_starts=n_vpt_starts, horizon=horizon)
    out["vpt_errors"] = errors
    out["vpt_median"], out["vpt_mean"] = float(np.median(vpt)), float(np.mean(vpt))
    if finite:
        readout = bb.training.control.effective_readout(network, controller)
        f64 = lambda a: jnp.asarray(a, jnp.float64)  # noqa: E731
        net64 = jax.tree_util.tree_map(f64, network)
        step = bb.autonomous_map(net64, f64(controller.bias[0]), closed_loop=True,
                                 readout=f64(readout))
        x_end = warm_up(net64, f64(controller.bias[0]), f64(controller.initial_state[0]),
                        run_mode="closed_loop", teacher=f64(data["test"][:washout]),
                        readout=f64(readout))
        lam = lyapunov_exponent(step, x_end, n_steps=lyapunov_steps, dt=dt,
                                transient=min(2000, lyapunov_steps), key=jax.random.PRNGKey(0))
        out["lyapunov"] = float(lam[0])
    else:
        out["lyapunov"] = float("nan")
    return out, gen


@dataclasses.dataclass
class Point:
    """One study point: network, training and data settings."""

    seed: int = 0
    n_units: int = 300
    tau: float = 0.1
    dt: float = 0.02
    gain: float = 1.2
    feedback_scale: float = 1.0
    readout_scale: float = 1.0
    mode: str = "bias"
    form: str = "continuous"
    n_train: int = 20000
    n_iterations: int = 3000
    learning_rate: float = 0.01
    batch_size: int = 16
    window: int = 100
    washout: int = 50
    score_washout: int = 200  # teacher-forced warm-up before every scored free run / forecast
    tf_start: float = 1.0
    tf_end: float = 0.1
    tf_fraction: float = 0.8
    bias_init_scale: float = 0.1
    ridge: float = 1e-6
    select_every: int = 0  # 0: keep the last model; else validation selection every k its
    extra: str = "{}"  # JSON of further TrainingConfig fields
    # precision phase: continue from the selected model with a lower rate and these settings,
    # keeping the model with the longest validation VPT whose D_stsp stays within
    # polish_ceiling x the selected one's (0 iterations: no precision phase)
    polish_iterations: int = 0
    polish_learning_rate: float = 0.003
    polish_ceiling: float = 1.5
    polish_extra: str = '{"teacher_noise": 0.0}'
    # Levenberg-Marquardt finish (training.polish): this many steps on the biases for the
    # teacher-forced loss, every step scored on validation; kept: the longest validation VPT
    # (24 starts) whose D_stsp stays within lm_ceiling x the selected one's (0: none)
    lm_steps: int = 0
    lm_segments: int = 4
    lm_segment_length: int = 3000
    lm_horizon: int = 1
    lm_ceiling: float = 1.5
    lm_guard_free_run: int = 50000  # steps of the guard's validation free run (slow collapses)
    # an .npz file: phase 1 (fit + selection) is loaded from it when it exists and saved to
    # it otherwise, so that finishes can be compared on the same phase-1 model ("": off)
    phase1_cache: str = ""


def run_point(p: Point, *, progress=True, free_run_time=1000.0, lyapunov_steps=20000,
              n_vpt_starts=24):
    data = lorenz_data(p.dt, p.n_train, int(round(free_run_time / p.dt)))
    target = bb.Trajectory(outputs=data["train"], dt=p.dt, name="lorenz", kind="chaotic",
                           lyapunov_exponent=LORENZ_LYAPUNOV, output_names=("x", "y", "z"))
    key = jax.random.PRNGKey(p.seed)
    k_net, k_ctrl, k_fit = jax.random.split(key, 3)
    net = bb.make_network(p.n_units, n_outputs=3, dt=p.dt, tau=p.tau, form=p.form,
                          connectivity=bb.ConnectivityConfig(gain=p.gain),
                          feedback_scale=p.feedback_scale, readout_scale=p.readout_scale,
                          key=k_net, dtype=jnp.float32)
    ctrl = bb.make_controller(net, ["lorenz"], mode=p.mode, bias_scale=p.bias_init_scale,
                              key=k_ctrl)
    cfg = bb.TrainingConfig(
        mode=p.mode, run_mode="closed_loop", n_iterations=p.n_iterations,
        learning_rate=p.learning_rate, batch_size=p.batch_size, window=p.window,
        washout=p.washout, teacher_forcing_start=p.tf_start, teacher_forcing_end=p.tf_end,
        teacher_forcing_fraction=p.tf_fraction, test_fraction=0.0, ridge=p.ridge,
        chunk_size=min(100, p.n_iterations), checkpoint_every=0, **json.loads(p.extra))
    validation = bb.Trajectory(outputs=data["validation"], dt=p.dt, name="lorenz",
                               kind="chaotic", lyapunov_exponent=LORENZ_LYAPUNOV)
    selector = (ValidationSelector(validation, every=p.select_every, washout=p.score_washout)
                if p.select_every else None)
    t0 = time.perf_counter()
    if p.phase1_cache and Path(p.phase1_cache).exists():
        result, train_time = load_phase1(p.phase1_cache, net, ctrl, cfg, selector)
    else:
        result = bb.fit(net, ctrl, [target], cfg, key=k_fit, progress=progress,
                        callback=selector)
        train_time = time.perf_counter() - t0
        if selector is not None:
            result = selector.select(result)
        if p.phase1_cache:
            save_phase1(p.phase1_cache, result, train_time, selector)
    if p.polish_iterations and selector is not None:
        result, polisher = polish(p, result, cfg, target, validation, selector, progress)
    if p.lm_steps and selector is not None:
        t_lm = time.perf_counter()
        result, lm_selector = lm_polish(p, result, cfg, target, validation, selector, progress)
        scores_lm = {"lm_time": time.perf_counter() - t_lm,
                     "lm_selected_iteration": lm_selector.best.iteration,
                     "lm_history": lm_selector.history,
                     "lm_loss": np.asarray(result.polish_loss)[:, 0].tolist()}
    network, controller = result.network, result.controller
    scores, gen = score(network, controller, data, dt=p.dt, free_run_time=free_run_time,
                        lyapunov_steps=lyapunov_steps, n_vpt_starts=n_vpt_starts,
                        washout=p.score_washout)
    scores["train_time"] = train_time
    if selector is not None:
        scores["selected_iteration"] = selector.best.iteration
        scores["validation_history"] = selector.history
    if p.polish_iterations and selector is not None:
        scores["polish_selected_iteration"] = polisher.best.iteration
        scores["polish_history"] = polisher.history
    if p.lm_steps and selector is not None:
        scores.update(scores_lm)
    return scores, result, gen, data


def save_phase1(path, result, train_time, selector):
    """The phase-1 model (biases, initial states, losses, selection) as an .npz file."""
    np.savez(path, bias=np.asarray(result.controller.bias),
             initial_state=np.asarray(result.controller.initial_state),
             loss=result.loss, teacher_forcing=result.teacher_forcing, train_time=train_time,
             best=json.dumps(None if selector is None else {
                 "score": selector.best.score, "vpt": selector.best.vpt,
                 "iteration": selector.best.iteration, "history": selector.history}))


def load_phase1(path, net, ctrl, cfg, selector):
    """``(TrainResult, train_time)`` of a saved phase 1 (same seed and settings); the
    selector's record is restored."""
    from brainbias.experiment.selection import _Best
    from brainbias.training.result import TrainResult

    z = np.load(path)
    controller = dataclasses.replace(ctrl, bias=jnp.asarray(z["bias"]),
                                     initial_state=jnp.asarray(z["initial_state"]))
    best = json.loads(str(z["best"]))
    if selector is not None and best is not None:
        selector.history = best["history"]
        selector.best = _Best(best["score"], best["vpt"], best["iteration"], net, controller)
    result = TrainResult(network=net, controller=controller, loss=z["loss"],
                         teacher_forcing=z["teacher_forcing"], config=cfg,
                         stopped=f"loaded from {path}", wall_time=float(z["train_time"]))
    return result, float(z["train_time"])


def lm_polish(p: Point, result, cfg, target, validation, selector, progress):
    """The Levenberg-Marquardt finish (:func:`brainbias.training.polish.polish`) of the
    selected model, guarded on validation: the longest median VPT over 24 starts whose D_stsp
    stays within ``lm_ceiling`` x the selected model's; the selected model competes."""
    from brainbias.training.polish import polish as lm

    cfg_lm = dataclasses.replace(cfg, polish_steps=p.lm_steps, polish_segments=p.lm_segments,
                                 polish_segment_length=p.lm_segment_length,
                                 polish_horizon=p.lm_horizon)
    guard = ValidationSelector(validation, every=1, washout=p.score_washout, n_vpt_starts=24,
                               free_run_steps=p.lm_guard_free_run,
                               criterion="valid_prediction",
                               divergence_ceiling=p.lm_ceiling * selector.best.score)
    guard.consider(len(result.loss), result.network, result.controller)
    polished = lm(result, [target], cfg_lm, callback=guard.consider, progress=progress)
    return guard.select(polished), guard


def polish(p: Point, result, cfg, target, validation, selector, progress):
    """The precision phase: fit on from the selected model (lower rate, ``polish_extra``),
    select by validation VPT under a D_stsp ceiling; the phase-1 model is the fallback."""
    cfg2 = dataclasses.replace(cfg, n_iterations=p.polish_iterations,
                               learning_rate=p.polish_learning_rate,
                               chunk_size=min(100, p.polish_iterations),
                               **json.loads(p.polish_extra))
    ceiling = p.polish_ceiling * selector.best.score
    polisher = ValidationSelector(validation, every=max(100, p.select_every // 4),
                                  washout=p.score_washout, criterion="valid_prediction",
                                  divergence_ceiling=ceiling)
    polisher.consider(0, result.network, result.controller)  # the phase-1 model competes
    second = bb.fit(result.network, result.controller, [target], cfg2,
                    key=jax.random.PRNGKey(p.seed + 7919), progress=progress, callback=polisher)
    return polisher.select(second), polisher


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in dataclasses.fields(Point):
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    ap.add_argument("--free-run-time", type=float, default=1000.0)
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--figure", default=None, help="write the attractor comparison figure here")
    ap.add_argument("--log", default=None, help="append a JSON line with settings + scores")
    args = ap.parse_args(argv)
    p = Point(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Point)})
    jax.config.update("jax_enable_x64", True)
    scores, _, gen, data = run_point(p, progress=not args.no_progress,
                                     free_run_time=args.free_run_time)
    errors = scores.pop("vpt_errors")
    if args.figure:
        from brainbias.plotting import plot_attractor_comparison

        fig = plot_attractor_comparison(
            data["reference"], gen, dt=p.dt, vpt_errors=errors,
            lyapunov_exponent=LORENZ_LYAPUNOV,
            title=f"{p.mode}, N={p.n_units}, seed {p.seed}: D_stsp {scores['d_stsp']:.2f} "
                  f"(floor {scores['d_stsp_floor']:.2f}), D_H {scores['d_h']:.3f}, median VPT "
                  f"{scores['vpt_median']:.2f} Λ, λ_max {scores['lyapunov']:.3f}")
        fig.savefig(args.figure, dpi=110)
    line = json.dumps({"point": dataclasses.asdict(p), "scores": scores})
    print(line)
    if args.log:
        with open(args.log, "a") as fh:
            fh.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
