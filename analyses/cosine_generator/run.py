"""Cosine generator (Williams et al. 2024): a bias-only autonomous network learns a cosine.

``python analyses/cosine_generator/run.py CONFIG --out OUT`` trains, for every seed of CONFIG,
the biases and the initial state of one fixed random network (autonomous: no input, no
feedback, as in the paper) on ``y_k = cos(2π k / 25)``. Every ``record_every`` iterations a
``fit`` callback finds the fixed point nearest the mean of the current free run (damped
Newton on ``F(x) = x``, ``F = brainbias.autonomous_map``) and records the eigenvalues of the
Jacobian ``jax.jacfwd(F)`` there, the free-run period and the period of the leading complex
eigenvalue pair (``2π / arg λ`` steps). Writes ``OUT/results.jsonl`` (one line per seed: the
final numbers), ``OUT/records.jsonl`` (one line per callback), ``OUT/eigenvalues.npz`` (the
recorded spectra), ``OUT/table.md`` and ``OUT/eigenvalues_over_training.png``. Only the
public API is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import brainbias as bb
from brainbias.config import TrainingConfig
from brainbias.data import targets

# Williams et al. (2024), REFERENCES §1.1: target period, and the decaying oscillation the
# network produced mid-training (period 23.75 steps, i.e. a 5 % period error).
PAPER_PERIOD = 25.0
PAPER_MID_TRAINING_PERIOD = 23.75
NEWTON_STEPS = 60
DAMPING = jnp.asarray([1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125])


def _newton(network, bias, x):
    """Damped Newton on ``F(x) − x = 0`` from ``x``: each step tries the Newton step scaled by
    every factor in ``DAMPING`` and keeps the one with the smallest residual (never worse than
    staying). Returns the point and its residual ‖F(x) − x‖."""
    f = bb.autonomous_map(network, bias)
    eye = jnp.eye(x.size, dtype=x.dtype)

    def res(z):
        return jnp.linalg.norm(f(z) - z)

    def body(z, _):
        d = jnp.linalg.solve(jax.jacfwd(f)(z) - eye, f(z) - z)
        cands = jnp.concatenate([z[None] - DAMPING[:, None] * d[None], z[None]])
        r = jax.vmap(res)(cands)
        return cands[jnp.argmin(jnp.where(jnp.isfinite(r), r, jnp.inf))], None

    z, _ = jax.lax.scan(body, x, None, length=NEWTON_STEPS)
    return z, res(z), jax.jacfwd(f)(z)


_newton_jit = jax.jit(_newton)


def _as64(a):
    return jnp.asarray(a, jnp.float64)


def free_run(network, controller, n_steps):
    """Output (time,) of the fitted network run from its trained initial state."""
    _, y = bb.simulate(network, _as64(controller.bias[0]), _as64(controller.initial_state[0]),
                       n_steps=n_steps)
    return np.asarray(y[:, 0])


def period_of(y, *, start, min_std):
    """Free-run period (steps) over ``y[start:]``, None when the oscillation has died out."""
    tail = np.asarray(y[start:])
    if not np.all(np.isfinite(tail)) or tail.std() < min_std:
        return None
    return targets.estimate_period(tail, 1.0)


def leading_pair(lam):
    """The complex eigenvalue (Im > 0) of largest modulus, or None."""
    c = lam[lam.imag > 1e-9]
    return None if c.size == 0 else c[np.argmax(np.abs(c))]


def linearisation(network, controller, y_states):
    """Fixed point nearest the free run's mean: (residual, eigenvalues of the Jacobian)."""
    x, r, jac = _newton_jit(network, _as64(controller.bias[0]), _as64(y_states.mean(0)))
    return float(r), np.linalg.eigvals(np.asarray(jac))


def _record(it, network, controller, s, window):
    states, y = bb.simulate(network, _as64(controller.bias[0]),
                            _as64(controller.initial_state[0]), n_steps=s["record_free_run"])
    y = np.asarray(y[:, 0])
    res, lam = linearisation(network, controller, np.asarray(states[window:]))
    pair = leading_pair(lam)
    eig_period = None if pair is None else float(2 * np.pi / np.angle(pair))
    per = period_of(y, start=window, min_std=0.01)
    return {"iteration": int(it), "fixed_point_residual": res,
            "leading_modulus": float(np.abs(lam).max()),
            "pair_modulus": None if pair is None else float(abs(pair)),
            "eigen_period": eig_period, "free_run_period": per,
            "free_run_amplitude": float(np.std(y[window:])),
            "period_error": None if per is None else abs(per - PAPER_PERIOD) / PAPER_PERIOD,
            "eigen_period_error": None if eig_period is None else
            abs(eig_period - PAPER_PERIOD) / PAPER_PERIOD}, lam


def fit_seed(study, seed, out: Path):
    """One bias-only fit with the spectra recorded along training; returns the final row."""
    s, n = study["study"], study["network"]
    target = targets.cosine(period_steps=s["period_steps"], n_steps=s["n_steps"])
    net = bb.make_network(n["n_units"], n_outputs=1, dt=1.0, tau=n["tau"],
                          nonlinearity=n["nonlinearity"], form=n["form"],
                          connectivity=bb.ConnectivityConfig(gain=n["gain"]),
                          key=jax.random.PRNGKey(seed))
    ctrl = bb.make_controller(net, [target.name], key=jax.random.PRNGKey(1000 + seed))
    cfg = TrainingConfig(**study["training"], mode="bias", run_mode="autonomous",
                         train_initial_state=True, test_fraction=0.0,
                         chunk_size=s["record_every"])
    records, spectra = [], []

    def callback(it, network, controller):
        row, lam = _record(it, network, controller, s, cfg.window)
        records.append({"seed": seed, **row})
        spectra.append(lam)

    callback(0, net, ctrl)       # the untrained network: where the spectrum starts
    t0 = time.perf_counter()
    result = bb.fit(net, ctrl, [target], cfg, key=jax.random.PRNGKey(2000 + seed),
                    progress=False, callback=callback)
    wall = time.perf_counter() - t0
    y = free_run(result.network, result.controller, s["final_free_run"])
    per = period_of(y, start=s["final_from"], min_std=0.01)
    last = records[-1]
    final = {"seed": seed, "n_units": n["n_units"], "gain": n["gain"], "tau": n["tau"],
             "n_iterations": cfg.n_iterations, "final_loss": float(result.loss[-1, 0]),
             "free_run_period": per,
             "period_error": None if per is None else abs(per - PAPER_PERIOD) / PAPER_PERIOD,
             "free_run_amplitude": float(np.std(y[s["final_from"]:])),
             "eigen_period": last["eigen_period"], "pair_modulus": last["pair_modulus"],
             "fixed_point_residual": last["fixed_point_residual"],
             "crossing_iteration": crossing(records), "wall": wall}
    return final, records, np.asarray(spectra)


def crossing(records):
    """First recorded iteration at which the leading complex pair is outside the unit circle
    and stays outside for every later record (None if never)."""
    out = [r["pair_modulus"] is not None and r["pair_modulus"] > 1.0 for r in records]
    for i in range(len(out)):
        if all(out[i:]):
            return records[i]["iteration"]
    return None


def _fmt(v):
    if v is None:
        return "—"
    return str(v) if isinstance(v, (int, str)) else f"{v:.4g}"


def summary(rows):
    """Mean and standard deviation over seeds of the final numbers (None-free values only)."""
    out = {"n_seeds": len(rows)}
    for key in ("free_run_period", "period_error", "eigen_period", "pair_modulus",
                "crossing_iteration", "final_loss"):
        v = np.array([r[key] for r in rows if r[key] is not None], float)
        out[key] = (float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size))
    return out


def table(rows) -> str:
    cols = ["seed", "free_run_period", "period_error", "eigen_period", "pair_modulus",
            "crossing_iteration", "final_loss", "wall"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in cols) + " |" for r in rows]
    s = summary(rows)
    pe, fp = s["period_error"], s["free_run_period"]
    lines += ["", f"Free-run period {fp[0]:.3f} ± {fp[1]:.3f} steps (target {PAPER_PERIOD:g}), "
              f"period error {100 * pe[0]:.2f} ± {100 * pe[1]:.2f} % over {pe[2]} of "
              f"{s['n_seeds']} seeds (mean ± s.d.); paper: mid-training decaying oscillation "
              f"of period {PAPER_MID_TRAINING_PERIOD} steps "
              f"({100 * abs(PAPER_MID_TRAINING_PERIOD - PAPER_PERIOD) / PAPER_PERIOD:.0f} %)."]
    return "\n".join(lines) + "\n"


def figure(records, spectra, path):
    """(a) the recorded spectra of seed 0 in the complex plane, colour = iteration; (b) the
    leading complex pair's modulus and (c) the period errors over training, every seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    seeds = sorted({r["seed"] for r in records})
    its = np.array([r["iteration"] for r in records if r["seed"] == seeds[0]])
    ax = axes[0]
    th = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(th), np.sin(th), "k", lw=0.8, label="unit circle")
    lam = spectra[seeds[0]]
    sc = ax.scatter(lam.real.ravel(), lam.imag.ravel(), c=np.repeat(its, lam.shape[1]),
                    s=4, cmap="viridis")
    ang = 2 * np.pi / PAPER_PERIOD
    ax.plot([0, 1.3 * np.cos(ang)], [0, 1.3 * np.sin(ang)], "r--", lw=0.8,
            label="arg λ = 2π/25")
    fig.colorbar(sc, ax=ax, label="training iteration")
    ax.set(xlabel="Re λ", ylabel="Im λ", aspect="equal")
    ax.set_title(
           f"Jacobian eigenvalues at the fixed point, seed {seeds[0]}", fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    for s in seeds:
        rs = [r for r in records if r["seed"] == s]
        it = [r["iteration"] for r in rs]
        axes[1].plot(it, [np.nan if r["pair_modulus"] is None else r["pair_modulus"]
                          for r in rs], label=f"seed {s}")
        axes[2].semilogy(it, [np.nan if r["period_error"] is None else r["period_error"]
                              for r in rs], f"C{s % 10}-", label=f"seed {s}: free run")
        axes[2].semilogy(it, [np.nan if r["eigen_period_error"] is None else
                              r["eigen_period_error"] for r in rs], f"C{s % 10}:",
                         label=f"seed {s}: 2π/arg λ")
    axes[1].axhline(1.0, color="k", lw=0.8)
    axes[1].set(xlabel="training iteration", ylabel="|λ| of the leading complex pair",
                title="the pair crosses the unit circle")
    axes[1].legend(fontsize=8)
    axes[2].axhline(abs(PAPER_MID_TRAINING_PERIOD - PAPER_PERIOD) / PAPER_PERIOD, color="r",
                    lw=0.8, ls="--", label="paper, mid-training (23.75 steps)")
    axes[2].set(xlabel="training iteration", ylabel="|period − 25| / 25",
                title="period error (no point: no sustained oscillation)")
    axes[2].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    # the fixed point and its spectrum are analysis: float64 (training runs in float32)
    jax.config.update("jax_enable_x64", True)
    study = tomllib.loads(args.config.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    rows, records, spectra = [], [], {}
    for seed in study["study"]["seeds"]:
        final, recs, lam = fit_seed(study, seed, args.out)
        rows.append(final)
        records += recs
        spectra[seed] = lam
        print(json.dumps(final), flush=True)
    (args.out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (args.out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    np.savez(args.out / "eigenvalues.npz", **{f"seed_{s}": v for s, v in spectra.items()},
             **{f"iterations_{s}": np.array([r["iteration"] for r in records
                                             if r["seed"] == s]) for s in spectra})
    (args.out / "table.md").write_text(table(rows))
    figure(records, spectra, args.out / "eigenvalues_over_training.png")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
