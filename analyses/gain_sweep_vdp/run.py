"""Gain sweep on Van der Pol (Williams et al. 2024): bias-only fails for g < 1, full training not.

``python analyses/gain_sweep_vdp/run.py CONFIG --out OUT`` fits, for every gain g, training
mode (``bias``: biases + initial state; ``all``: also every weight) and seed of CONFIG, one
autonomous ReLU network ``r ← (1 − a) r + a relu(W r + b)``, ``W_ij ~ N(0, g²/N)``, to the Van
der Pol limit cycle. A fit *succeeds* when its free run, after the training window, still
oscillates with the target's period and amplitude (tolerances in CONFIG).

The mechanism (REFERENCES §1.1): for ReLU the Jacobian of the map is ``(1 − a) I + a D W``
with ``D = diag(active)`` the 0/1 mask of units with positive preactivation
(:func:`brainbias.analysis.linearisation.active_units`), whose eigenvalues are ``1 − a`` and
``(1 − a) + a λ`` for λ in the spectrum of the *principal sub-matrix* ``W_AA`` over the active
units. Biases only choose the set A; the fit records ``ρ(W_AA)`` along the free run
(maximum over the sampled states). Writes ``OUT/results.jsonl`` (one line per fit),
``OUT/fits.nc`` (each fit's recurrent and readout weights, bias and initial state, to
recompute every number),
``OUT/table.md`` and ``OUT/gain_sweep.png``. Only the public API is used.
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
import xarray as xr

import brainbias as bb
from brainbias.analysis.linearisation import active_units
from brainbias.config import TrainingConfig
from brainbias.data import targets

# Williams et al. (2024), REFERENCES §1.1: bias-only fails below this gain, full training does not.
PAPER_THRESHOLD = 1.0


def make_target(s):
    return targets.van_der_pol(mu=s["mu"], n_steps=s["n_steps"], dt=s["dt"])


def make_net(study, gain, seed):
    n = study["network"]
    return bb.make_network(n["n_units"], n_outputs=2, dt=study["study"]["dt"], tau=n["tau"],
                           nonlinearity="relu", form="discrete",
                           connectivity=bb.ConnectivityConfig(gain=gain),
                           key=jax.random.PRNGKey(seed))


def active_radius(recurrent_weights, active):
    """Spectral radius of the principal sub-matrix ``W_AA`` for each row of ``active``
    (state, unit) bool; 0 where no unit is active."""
    w = np.asarray(recurrent_weights, float)
    out = []
    for a in np.asarray(active, bool):
        out.append(float(np.abs(np.linalg.eigvals(w[np.ix_(a, a)])).max()) if a.any() else 0.0)
    return np.asarray(out)


def score(network, bias, initial_state, target, s):
    """Free-run numbers of one fitted network (everything in float64)."""
    states, y = bb.simulate(network, jnp.asarray(bias, jnp.float64),
                            jnp.asarray(initial_state, jnp.float64), n_steps=s["free_run"])
    y, states = np.asarray(y), np.asarray(states)
    tail = y[s["score_from"]:, 0]
    ok = bool(np.all(np.isfinite(y)))
    amp_t = float(np.std(target.outputs[:, 0]))
    amp = float(np.std(tail)) if ok else float("nan")
    per = targets.estimate_period(tail, s["dt"]) if ok and amp > 1e-3 * amp_t else None
    period_error = None if per is None else abs(per - target.period) / target.period
    amplitude_error = abs(amp - amp_t) / amp_t if ok else None
    sampled = states[s["score_from"]::s["sample_every"]]
    act = active_units(network, sampled, np.asarray(bias, float)).values if ok else None
    rho = active_radius(network.recurrent_weights, act) if ok else np.array([np.nan])
    success = (period_error is not None and period_error < s["period_tolerance"]
               and amplitude_error < s["amplitude_tolerance"])
    return {"period": per, "period_error": period_error, "amplitude": amp,
            "amplitude_error": amplitude_error, "success": bool(success),
            "active_radius_max": float(rho.max()), "active_radius_mean": float(rho.mean()),
            "active_fraction": float(np.mean(act)) if ok else None,
            "full_radius": float(np.abs(np.linalg.eigvals(
                np.asarray(network.recurrent_weights, float))).max())}


def fit_one(study, gain, mode, seed, target):
    s = study["study"]
    net = make_net(study, gain, seed)
    ctrl = bb.make_controller(net, [target.name], key=jax.random.PRNGKey(1000 + seed))
    cfg = TrainingConfig(**study["training"], mode=mode, run_mode="autonomous",
                         train_initial_state=True, test_fraction=0.0)
    t0 = time.perf_counter()
    r = bb.fit(net, ctrl, [target], cfg, key=jax.random.PRNGKey(2000 + seed), progress=False)
    wall = time.perf_counter() - t0
    bias, x0 = np.asarray(r.controller.bias[0], float), np.asarray(
        r.controller.initial_state[0], float)
    row = {"gain": gain, "mode": mode, "seed": seed, "n_units": net.n_units,
           "final_loss": float(r.loss[-1, 0]), "wall": wall,
           **score(r.network, bias, x0, target, s)}
    # mode="all" also trains the readout (the autonomous run uses no input or feedback weights)
    arrays = {"recurrent_weights": np.asarray(r.network.recurrent_weights, float),
              "readout_weights": np.asarray(r.network.readout_weights, float),
              "bias": bias, "initial_state": x0}
    return row, arrays


def save_fits(rows, arrays, path):
    """Every fit's arrays, dims (fit, unit, source_unit), with gain / mode / seed coordinates."""
    ds = xr.Dataset(
        {"recurrent_weights": (("fit", "unit", "source_unit"),
                               np.stack([a["recurrent_weights"] for a in arrays])),
         "readout_weights": (("fit", "output", "unit"),
                             np.stack([a["readout_weights"] for a in arrays])),
         "bias": (("fit", "unit"), np.stack([a["bias"] for a in arrays])),
         "initial_state": (("fit", "unit"), np.stack([a["initial_state"] for a in arrays]))},
        coords={"gain": ("fit", [r["gain"] for r in rows]),
                "mode": ("fit", [r["mode"] for r in rows]),
                "seed": ("fit", [r["seed"] for r in rows])})
    ds.to_netcdf(path)


def aggregate(rows):
    """Per (mode, gain): success rate and mean ± s.d. over seeds of the radius and errors."""
    out = []
    for mode in sorted({r["mode"] for r in rows}, key=lambda m: m != "bias"):
        for g in sorted({r["gain"] for r in rows}):
            rs = [r for r in rows if r["mode"] == mode and r["gain"] == g]
            rho = np.array([r["active_radius_max"] for r in rs], float)
            amp = np.array([r["amplitude_error"] if r["amplitude_error"] is not None
                            else np.nan for r in rs], float)
            sd = (lambda v: float(np.nanstd(v, ddof=1)) if len(v) > 1 else 0.0)  # noqa: E731
            out.append({"mode": mode, "gain": g, "n_seeds": len(rs),
                        "success_rate": float(np.mean([r["success"] for r in rs])),
                        "active_radius_mean": float(np.nanmean(rho)),
                        "active_radius_sd": sd(rho),
                        "amplitude_error_mean": float(np.nanmean(amp)),
                        "amplitude_error_sd": sd(amp)})
    return out


def threshold(agg, mode):
    """Smallest gain from which every larger gain of ``mode`` succeeds in all seeds (None if
    the largest gain fails)."""
    rs = sorted([a for a in agg if a["mode"] == mode], key=lambda a: a["gain"])
    g = None
    for a in reversed(rs):
        if a["success_rate"] < 1.0:
            break
        g = a["gain"]
    return g


def table(rows, agg) -> str:
    lines = ["| mode | g | success | ρ(W_AA) max along free run | amplitude error |",
             "|---|---|---|---|---|"]
    for a in agg:
        lines.append(f"| {a['mode']} | {a['gain']:g} | "
                     f"{round(a['success_rate'] * a['n_seeds'])}/{a['n_seeds']} | "
                     f"{a['active_radius_mean']:.3f} ± {a['active_radius_sd']:.3f} | "
                     f"{a['amplitude_error_mean']:.3f} ± {a['amplitude_error_sd']:.3f} |")
    tb, ta = threshold(agg, "bias"), threshold(agg, "all")
    lines += ["", f"Bias-only succeeds in every seed from g = {tb} on; full training from "
              f"g = {ta} on (paper: bias-only fails below g = {PAPER_THRESHOLD:g}, full training "
              "at every gain). Mean ± s.d. over seeds."]
    return "\n".join(lines) + "\n"


def figure(agg, path):
    """(a) success rate vs g, (b) free-run amplitude error vs g, (c) ρ(W_AA) vs g."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    labels = {"bias": "bias only", "all": "full training (mode = all)"}
    for k, mode in enumerate(["bias", "all"]):
        rs = sorted([a for a in agg if a["mode"] == mode], key=lambda a: a["gain"])
        if not rs:
            continue
        g = np.array([a["gain"] for a in rs])
        p = np.array([a["success_rate"] for a in rs])
        n = np.array([a["n_seeds"] for a in rs])
        kw = dict(marker="os"[k], capsize=3, label=labels[mode], color=f"C{k}")
        axes[0].errorbar(g, p, yerr=np.sqrt(p * (1 - p) / n), **kw)
        axes[1].errorbar(g, [a["amplitude_error_mean"] for a in rs],
                         yerr=[a["amplitude_error_sd"] for a in rs], **kw)
        axes[2].errorbar(g, [a["active_radius_mean"] for a in rs],
                         yerr=[a["active_radius_sd"] for a in rs], **kw)
    for ax in axes:
        ax.axvline(PAPER_THRESHOLD, color="grey", ls=":", lw=0.8)
        ax.set_xlabel("gain g of W (W_ij ~ N(0, g²/N))")
    axes[0].set(ylabel="fraction of seeds that reproduce the cycle", ylim=(-0.05, 1.05),
                title="success (period and amplitude within tolerance)")
    axes[1].set(ylabel="|std(free run) − std(target)| / std(target)",
                title="free-run amplitude error (1 = oscillation died)")
    axes[2].axhline(1.0, color="k", lw=0.8)
    axes[2].set(ylabel="max over the free run of ρ(W_AA)",
                title="spectral radius of the active principal sub-matrix")
    axes[0].legend(fontsize=8)
    fig.text(0.5, 0.005, "error bars: binomial s.e. (a), s.d. over seeds (b, c); dotted: "
             "paper's threshold g = 1", ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    # the free runs and the sub-matrix spectra are analysis: float64 (training runs in float32)
    jax.config.update("jax_enable_x64", True)
    study = tomllib.loads(args.config.read_text())
    s = study["study"]
    args.out.mkdir(parents=True, exist_ok=True)
    target = make_target(s)
    rows, arrays = [], []
    for gain in s["gains"]:
        for mode in s["modes"]:
            for seed in s["seeds"]:
                row, arr = fit_one(study, gain, mode, seed, target)
                rows.append(row)
                arrays.append(arr)
                print(json.dumps(row), flush=True)
    (args.out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    save_fits(rows, arrays, args.out / "fits.nc")
    agg = aggregate(rows)
    (args.out / "aggregate.jsonl").write_text("".join(json.dumps(a) + "\n" for a in agg))
    (args.out / "table.md").write_text(table(rows, agg))
    figure(agg, args.out / "gain_sweep.png")
    print(table(rows, agg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
