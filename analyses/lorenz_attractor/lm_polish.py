"""Levenberg–Marquardt on the biases for the one-step loss, after the study's phase 1.

``python analyses/lorenz_attractor/lm_polish.py SEED [--segment T] [--steps K] [--log FILE]``
fits config.toml's bias-only point (12 000 iterations, selection on validation D_stsp), then
takes K Levenberg–Marquardt steps on the biases for the full-teacher-forcing one-step loss over
four training segments of T steps — the analogue of the ridge readout's exact least-squares
solve, with N = 300 parameters and a 300 × 300 normal matrix. Every iterate is scored with the
study's test measures to show the curve; the reported model is the LAST iterate, never the
best one on the test data.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from brainbias.models import simulate

HERE = Path(__file__).resolve().parent
MEASURES = ("d_stsp", "d_h", "vpt_median", "vpt_mean", "lyapunov")
STARTS = (0, 5000, 10000, 15000)  # training segments (of the 20 000-step training trajectory)
WARM = 50  # teacher-forced steps before the residuals count


def _study():
    spec = importlib.util.spec_from_file_location("lorenz_study", HERE / "study.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _f64(a):
    return jnp.asarray(a, jnp.float64)


def one_step_residuals(network, initial_state, y, segment):
    """Residuals ``ŷ_{t+1} − y_{t+1}`` under full teacher forcing, as a function of the bias."""
    def residual(bias):
        parts = []
        for s0 in STARTS:
            seg = y[s0:s0 + segment + 1]
            _, out = simulate(network, bias, initial_state, mode="closed_loop",
                              teacher=seg[:segment], teacher_strength=1.0)
            parts.append((out[WARM:] - seg[WARM + 1:]).ravel())
        return jnp.concatenate(parts)
    return residual


def lm_step(res, jac, bias, r, loss, mu):
    """One accepted Levenberg–Marquardt step (damping ``mu`` adapted); None when none helps."""
    J = jac(bias)
    g, H = J.T @ r, J.T @ J
    while mu < 1e6:
        step = -jnp.linalg.solve(H + mu * jnp.diag(jnp.diag(H)), g)
        r_new = res(bias + step)
        loss_new = float(r_new @ r_new)
        if loss_new < loss:
            return bias + step, r_new, loss_new, mu / 3
        mu *= 4
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("--segment", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--log", type=Path, default=None)
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    study = _study()
    p = study.Point(seed=args.seed, n_units=300, tau=0.05, gain=0.9, feedback_scale=0.3,
                    readout_scale=6.0, n_iterations=12000, learning_rate=0.03, score_washout=200,
                    tf_end=0.05, select_every=1000,
                    extra='{"teacher_forcing": "adaptive", "sparse_forcing_interval": 50, '
                          '"teacher_noise": 0.05}')

    def log(row):
        row = {"seed": args.seed, "segment": args.segment, **row}
        print(json.dumps(row), flush=True)
        if args.log:
            with open(args.log, "a") as fh:
                fh.write(json.dumps(row) + "\n")

    t0 = time.perf_counter()
    scores, result, _, data = study.run_point(p, progress=False, free_run_time=1000.0)
    log({"it": -1, "wall": time.perf_counter() - t0, **{k: scores[k] for k in MEASURES}})
    net = jax.tree_util.tree_map(_f64, result.network)
    ctrl = jax.tree_util.tree_map(_f64, result.controller)
    residual = one_step_residuals(net, ctrl.initial_state[0], _f64(data["train"]), args.segment)
    res, jac = jax.jit(residual), jax.jit(jax.jacfwd(residual))
    bias, mu = ctrl.bias[0], 1e-3
    r = res(bias)
    loss = float(r @ r)
    log({"it": "start", "loss": loss})
    for it in range(args.steps):
        stepped = lm_step(res, jac, bias, r, loss, mu)
        if stepped is None:
            break
        bias, r, loss, mu = stepped
        fitted = dataclasses.replace(ctrl, bias=ctrl.bias.at[0].set(bias))
        sc, _ = study.score(net, fitted, data, dt=p.dt, free_run_time=1000.0,
                            washout=p.score_washout, lyapunov_steps=5000)
        log({"it": it, "loss": loss, "mu": mu, **{k: sc[k] for k in MEASURES}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
