"""Fixed points of random rate networks: our finder vs BrainPy's ``SlowPointFinder``.

Problem (issue 11): ``x ← x + a(−x + W tanh x + b)``, ``W_ij ~ N(0, g²/N)``, ``a = dt/τ = 0.1``,
a random bias ``b ~ N(0, 0.1²)``, float64; 256 starts drawn from a free-running trajectory
(after a 500-step washout). N = 500 at g = 1.2 (fixed points near the trajectories) and g = 1.5
(chaotic: the fixed points lie far from the data, ≈ 7 state units from where Adam stops);
``--quick``: N = 100, 64 starts. All rows of one problem run on the same map and starts, in
this run:

- ``ours``: :func:`brainbias.analysis.fixed_points.find_fixed_points` at its defaults (500
  Adam steps, dense damped Newton polish that drops duplicates early), first call: compilation
  included;
- ``ours, other bias``: the same network with the bias scaled by 1.01 — no compilation (the
  kernels take the map as a traced pytree);
- ``ours, no early dedup``: ``unique_tolerance=0`` in the polish (every start polished to its
  end, the finder before issue 11), deduplicated afterwards with the same rule; only with
  ``--baseline`` (≈ 400 CPU-seconds at g = 1.5);
- ``brainpy defaults``: ``SlowPointFinder(F, f_type="discrete").find_fps_with_gd_method(starts)``
  with every default (Adam 0.2·0.9999^k, ``num_opt=10000``, stops when the mean loss < 1e-5,
  which happens within a few hundred steps);
- ``brainpy 10000 steps``: the same without the early stop (``tolerance=0``): all of BrainPy's
  default 10000 Adam steps — the run that gives it its best chance to converge. Capped when it
  would take longer than ``BRAINPY_BUDGET_S`` (the row says so).

And one matrix-free row: N = 3000, g = 0.5, 8 starts, ``newton="krylov"`` (GMRES on Jacobian-
vector products, no N × N matrix).

Columns: wall and CPU time (all threads) — the ratios are taken on CPU time, which a shared
machine disturbs less; ``converged`` = unique points with q = ½‖F(x) − x‖² < 1e-12 (duplicates
within 1e-3); ``max_q_fixed`` = the largest q among the points the finder reports as fixed
(ours: ``kind == "fixed"``; BrainPy: its ``filter_loss(1e-5)`` + ``keep_unique(0.025)``, on its
loss mean((F(x) − x)²) = 2q/N); ``reported`` = how many that is; ``speedup`` = BrainPy's
10000-step CPU time / this row's.

Run: ``python benchmarks/bench_fixed_points.py [--quick] [--baseline]`` or ``python -m
benchmarks --only fixed_points``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

#: BrainPy's full 10000-step run is capped so that it takes at most about this long (seconds).
BRAINPY_BUDGET_S = 300.0
BRAINPY_DEFAULT_STEPS = 10000
UNIQUE_TOLERANCE = 1e-3
Q_TOLERANCE = 1e-12


def _problem(n_units, n_starts, gain, *, seed=0):
    import jax
    import jax.numpy as jnp

    from brainbias import make_network, simulate
    from brainbias.models.connectivity import ConnectivityConfig

    k_net, k_x0, k_pick, k_bias = jax.random.split(jax.random.PRNGKey(seed), 4)
    net = make_network(n_units, dt=0.1, tau=1.0, connectivity=ConnectivityConfig(gain=gain),
                       key=k_net, dtype=jnp.float64)
    bias = 0.1 * jax.random.normal(k_bias, (n_units,), jnp.float64)
    x0 = jax.random.normal(k_x0, (n_units,), jnp.float64)
    states, _ = simulate(net, bias, x0, n_steps=1500)
    states = np.asarray(states[500:])
    pick = np.asarray(jax.random.choice(k_pick, len(states), (n_starts,),
                                        replace=n_starts > len(states)))
    return net, bias, states[pick]


def _converged(step_fn, x):
    """Unique points with q < 1e-12 (1e-3 apart) among the rows of ``x``."""
    from brainbias.analysis.fixed_points import _deduplicate, speed

    x = np.asarray(x).reshape(-1, np.shape(x)[-1])
    if not len(x):
        return 0
    q = np.asarray(speed(step_fn, x))
    ok = np.isfinite(q) & (q < Q_TOLERANCE)
    return len(_deduplicate(x[ok], q[ok], UNIQUE_TOLERANCE))


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _ours(step_fn, starts, **kwargs):
    import jax

    from brainbias.analysis.fixed_points import find_fixed_points

    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no start converged"
            return find_fixed_points(step_fn, starts, key=jax.random.PRNGKey(1), **kwargs)

    ds, wall, cpu = _timed(call)
    fixed = ds["kind"].values == "fixed"
    return dict(wall_s=wall, cpu_s=cpu, converged=_converged(step_fn, ds["state"].values),
                reported=int(fixed.sum()),
                max_q_fixed=float(ds["speed"].values[fixed].max()) if fixed.any() else np.nan,
                polished=int(ds.attrs["n_polished"]))


def _brainpy(step_fn, starts, *, tolerance, num_opt):
    from brainbias._brainpy import import_brainpy
    from brainbias.analysis.fixed_points import speed

    bp = import_brainpy()[0]

    def call():
        finder = bp.analysis.SlowPointFinder(step_fn, f_type="discrete", verbose=False)
        finder.find_fps_with_gd_method(starts, tolerance=tolerance, num_opt=num_opt)
        return finder

    finder, wall, cpu = _timed(call)
    steps = int(finder.opt_losses.shape[0])
    converged = _converged(step_fn, finder.fixed_points)
    finder.filter_loss(1e-5)
    finder.keep_unique(0.025)
    reported = np.asarray(finder.fixed_points).reshape(-1, starts.shape[1])
    q = np.asarray(speed(step_fn, reported)) if len(reported) else np.array([np.nan])
    return steps, dict(wall_s=wall, cpu_s=cpu, converged=converged, reported=len(reported),
                       max_q_fixed=float(np.max(q)))


def _problem_rows(n, n_starts, gain, baseline):
    from brainbias import autonomous_map

    net, bias, starts = _problem(n, n_starts, gain)
    step_fn = autonomous_map(net, bias)
    label = dict(N=n, gain=gain, starts=n_starts)
    rows = [dict(label, finder="ours", **_ours(step_fn, starts))]
    rows.append(dict(label, finder="ours, other bias",
                     **_ours(autonomous_map(net, 1.01 * bias), starts)))
    if baseline:
        rows.append(dict(label, finder="ours, no early dedup",
                         **_ours(step_fn, starts, unique_tolerance=0.0)))
        rows[-1]["converged_note"] = "dedup after the polish"
    steps, row = _brainpy(step_fn, starts, tolerance=1e-5, num_opt=BRAINPY_DEFAULT_STEPS)
    rows.append(dict(label, finder=f"brainpy defaults ({steps} steps)", **row))
    # Predict the full run from the defaults run (compilation included: an overestimate).
    full = BRAINPY_DEFAULT_STEPS
    if row["wall_s"] / steps * full > BRAINPY_BUDGET_S:
        full = max(100, int(BRAINPY_BUDGET_S / (row["wall_s"] / steps)) // 100 * 100)
    steps, row = _brainpy(step_fn, starts, tolerance=0.0, num_opt=full)
    rows.append(dict(label, finder=f"brainpy {steps} steps", **row))
    if full < BRAINPY_DEFAULT_STEPS:
        rows[-1]["note"] = f"capped at {full} of {BRAINPY_DEFAULT_STEPS} steps"
    reference = rows[-1]["cpu_s"] * BRAINPY_DEFAULT_STEPS / steps
    for r in rows:
        r["speedup"] = reference / r["cpu_s"]
    return rows


def _krylov_row(n, n_starts):
    import jax
    import jax.numpy as jnp

    from brainbias import autonomous_map, make_network
    from brainbias.models.connectivity import ConnectivityConfig

    k_net, k_bias, k_x = jax.random.split(jax.random.PRNGKey(0), 3)
    net = make_network(n, connectivity=ConnectivityConfig(gain=0.5), key=k_net,
                       dtype=jnp.float64)
    step_fn = autonomous_map(net, 0.5 * jax.random.normal(k_bias, (n,), jnp.float64))
    starts = np.asarray(jax.random.normal(k_x, (n_starts, n), jnp.float64))
    return dict(N=n, gain=0.5, starts=n_starts, finder="ours, newton=krylov",
                **_ours(step_fn, starts, newton="krylov"))


def run(quick: bool = False, baseline: bool = False) -> list[dict]:
    """Measure every row; returns the rows (list of dicts) for ``python -m benchmarks``."""
    import jax

    jax.config.update("jax_enable_x64", True)  # entry point: the analysis runs in float64

    n, n_starts = (100, 64) if quick else (500, 256)
    rows = []
    for gain in (1.2, 1.5):
        rows += _problem_rows(n, n_starts, gain, baseline)
    rows.append(_krylov_row(1000 if quick else 3000, 8))
    return rows


def main(argv=None) -> None:
    if not __package__:  # run as a script: make `benchmarks` importable
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._util import print_table

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="N = 100 with 64 starts")
    p.add_argument("--baseline", action="store_true",
                   help="also polish every start without early deduplication (slow)")
    args = p.parse_args(argv)
    rows = run(quick=args.quick, baseline=args.baseline)
    print_table("fixed points: ours vs BrainPy SlowPointFinder (speedup = BrainPy 10000-step "
                "CPU time / this row's; aim >= 10)", rows)
    print("converged = unique points with q = 0.5*sum((F(x)-x)**2) < 1e-12 (duplicates within "
          "1e-3); max_q_fixed / reported: over the points each finder reports as fixed "
          "(BrainPy: filter_loss(1e-5) + keep_unique(0.025) on its loss mean((F(x)-x)**2) = "
          "2q/N); polished = starts Newton-polished in their own right.")


if __name__ == "__main__":
    main()
