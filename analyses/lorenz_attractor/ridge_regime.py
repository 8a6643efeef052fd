"""Where the information is: a ridge readout (reservoir computing) on the study's fixed
networks over gain × leak × feedback × ridge penalty, scored like the study's fits.

    python analyses/lorenz_attractor/ridge_regime.py --out ridge_regime.jsonl [--quick]

Each line of the output: the network settings, the median valid prediction time over 24
held-out starts (Lyapunov times, 200 warm-up steps) and D_stsp (30 bins) of a 600-time-unit
free run against an independent reference. A ridge readout fits in seconds, so this maps the
regime in which the fixed random network carries the attractor before the (slower) bias-only
fits are run there (docs/lorenz.md, "The regime").
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study  # noqa: E402  (the study module beside this script)

import brainbias as bb  # noqa: E402
from brainbias.analysis.attractor_metrics import state_space_divergence  # noqa: E402
from brainbias.analysis.forecast import free_run  # noqa: E402

GRID = {"gain": [0.6, 0.9, 1.2], "tau": [0.02, 0.05, 0.1], "feedback_scale": [0.3, 1.0],
        "ridge": [1e-8, 1e-6]}
QUICK = {"gain": [0.9], "tau": [0.05], "feedback_scale": [0.3], "ridge": [1e-6]}


def score_ridge(data, *, n_units, gain, tau, feedback_scale, ridge, seed=0, dt=0.02,
                washout=200, n_free=30000):
    """Fit a ridge readout on one fixed network and score it (a dict of floats)."""
    target = bb.Trajectory(outputs=data["train"], dt=dt, name="lorenz", kind="chaotic")
    k_net, k_ctrl, k_fit = jax.random.split(jax.random.PRNGKey(seed), 3)
    net = bb.make_network(n_units, n_outputs=3, dt=dt, tau=tau,
                          connectivity=bb.ConnectivityConfig(gain=gain),
                          feedback_scale=feedback_scale, key=k_net, dtype=jnp.float64)
    ctrl = bb.make_controller(net, ["lorenz"], mode="readout", bias_scale=0.5, key=k_ctrl)
    cfg = bb.TrainingConfig(mode="readout", run_mode="closed_loop", washout=washout,
                            ridge=ridge, test_fraction=0.0)
    t0 = time.perf_counter()
    res = bb.fit(net, ctrl, [target], cfg, key=k_fit, progress=False)
    horizon = int(round(10 / study.LORENZ_LYAPUNOV / dt))
    vpt, _ = study.vpt_scores(res.network, res.controller, data["test"], dt=dt,
                              washout=washout, n_starts=24, horizon=horizon)
    gen = free_run(res.network, res.controller, 0, data["test"][:washout], n_free)
    finite = bool(np.all(np.isfinite(gen)))
    d = state_space_divergence(data["reference"][:n_free], gen, n_bins=30, margin=0.0) \
        if finite else float("nan")
    return {"vpt_median": float(np.median(vpt)), "d_stsp": float(d),
            "time": time.perf_counter() - t0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="JSON-lines file to append to")
    ap.add_argument("--n-units", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="one grid point (CI smoke run)")
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    data = study.lorenz_data(0.02, 20000, 30000)
    grid = QUICK if args.quick else GRID
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        row = {**point, "n_units": args.n_units,
               **score_ridge(data, n_units=args.n_units, **point)}
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as fh:
            fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
