"""Fixed points of a chaotic random network: our finder vs BrainPy's ``SlowPointFinder``.

Problem (issue 3): rate network ``x ← x + a(−x + W tanh x + b)``, ``W_ij ~ N(0, g²/N)`` with
g = 1.5 (chaotic), ``a = dt/τ = 0.1``, ``b = 0``, float64; 256 starts drawn from a free-running
trajectory (after a 500-step washout). N = 200 and N = 500 (``--quick``: N = 50 and 100, 64
starts).

Rows per N, all on the same map and the same starts, measured in this run:

- ``adam+newton``: :func:`brainbias.analysis.fixed_points.find_fixed_points` at its defaults
  (500 Adam steps, damped Newton polish);
- ``adam only``: the same without the Newton polish (``newton_iterations=0``);
- ``brainpy defaults``: ``SlowPointFinder(F, f_type="discrete").find_fps_with_gd_method(starts)``
  with every default (Adam 0.2·0.9999^k, ``num_opt=10000``, ``num_batch=100``, stop when the
  mean loss < 1e-5, which happens early);
- ``brainpy 10000 steps``: the same without the early stop (``tolerance=0``): all 10000 Adam
  steps. Capped when it would take longer than ``BRAINPY_BUDGET_S`` (the row says so).

Columns: wall time including compilation (one call each, as a user runs it), ``converged`` =
unique points with q < 1e-12 (q = ½‖F(x) − x‖², duplicates within 1e-3), ``best_q``, BrainPy's
own count (its ``filter_loss(1e-5)`` on its mean-squared loss + ``keep_unique(0.025)``), and the
time ratio to ``adam+newton``.

Run: ``python benchmarks/bench_fixed_points.py [--quick]`` or ``python -m benchmarks --only
fixed_points``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

#: BrainPy's full 10000-step run is capped so that it takes at most about this long (seconds).
BRAINPY_BUDGET_S = 150.0
BRAINPY_DEFAULT_STEPS = 10000
UNIQUE_TOLERANCE = 1e-3
Q_TOLERANCE = 1e-12


def _problem(n_units, n_starts, *, seed=0):
    import jax
    import jax.numpy as jnp

    from brainbias import autonomous_map, make_network, simulate

    k_net, k_x0, k_pick = jax.random.split(jax.random.PRNGKey(seed), 3)
    net = make_network(n_units, dt=0.1, tau=1.0, key=k_net, dtype=jnp.float64)
    bias = jnp.zeros(n_units)
    x0 = jax.random.normal(k_x0, (n_units,), jnp.float64)
    states, _ = simulate(net, bias, x0, n_steps=1500)
    states = np.asarray(states[500:])
    pick = np.asarray(jax.random.choice(k_pick, len(states), (n_starts,), replace=False))
    return autonomous_map(net, bias), states[pick]


def _count(step_fn, x):
    """Unique converged points (q < 1e-12, 1e-3 apart) and the smallest q among ``x``."""
    from brainbias.analysis.fixed_points import _deduplicate, speed

    x = np.asarray(x)
    q = np.asarray(speed(step_fn, x))
    ok = np.isfinite(q) & (q < Q_TOLERANCE)
    n = len(_deduplicate(x[ok], q[ok], UNIQUE_TOLERANCE))
    return n, float(np.nanmin(q))


def _ours(step_fn, starts, **kwargs):
    import jax

    from brainbias.analysis.fixed_points import find_fixed_points

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no start converged" for adam only
        ds = find_fixed_points(step_fn, starts, key=jax.random.PRNGKey(1), **kwargs)
    seconds = time.perf_counter() - t0
    fixed = ds["kind"].values == "fixed"
    best = float(ds["speed"].min()) if ds.sizes["fixed_point"] else np.nan
    return seconds, int(fixed.sum()), best


def _brainpy(step_fn, starts, *, tolerance, num_opt):
    from brainbias.analysis.fixed_points import _import_brainpy

    bp = _import_brainpy()
    t0 = time.perf_counter()
    finder = bp.analysis.SlowPointFinder(step_fn, f_type="discrete", verbose=False)
    finder.find_fps_with_gd_method(starts, tolerance=tolerance, num_opt=num_opt)
    seconds = time.perf_counter() - t0
    steps = int(finder.opt_losses.shape[0])
    converged, best_q = _count(step_fn, finder.fixed_points)
    finder.filter_loss(1e-5)
    finder.keep_unique(0.025)
    return seconds, steps, converged, best_q, int(finder.num_fps)


def run(quick: bool = False) -> list[dict]:
    """Measure every row; returns the rows (list of dicts) for ``python -m benchmarks``."""
    import jax

    jax.config.update("jax_enable_x64", True)  # entry point: the analysis runs in float64

    sizes, n_starts = ((50, 100), 64) if quick else ((200, 500), 256)
    rows = []
    for n in sizes:
        step_fn, starts = _problem(n, n_starts)
        t_ours, conv, best = _ours(step_fn, starts)
        rows.append(dict(N=n, finder="adam+newton", adam_steps=500, time_s=t_ours,
                         converged=conv, best_q=best, brainpy_count="", time_ratio=1.0, note=""))
        t, conv, best = _ours(step_fn, starts, newton_iterations=0)
        rows.append(dict(N=n, finder="adam only", adam_steps=500, time_s=t, converged=conv,
                         best_q=best, brainpy_count="", time_ratio=t / t_ours, note=""))

        t_def, steps, conv, best, own = _brainpy(step_fn, starts, tolerance=1e-5,
                                                 num_opt=BRAINPY_DEFAULT_STEPS)
        rows.append(dict(N=n, finder="brainpy defaults", adam_steps=steps, time_s=t_def,
                         converged=conv, best_q=best, brainpy_count=own,
                         time_ratio=t_def / t_ours,
                         note="stopped: mean loss < 1e-5" if steps < BRAINPY_DEFAULT_STEPS
                         else ""))

        # Predict the full run from the defaults run (compilation included: an overestimate).
        per_step = t_def / steps
        full = BRAINPY_DEFAULT_STEPS
        note = ""
        if per_step * full > BRAINPY_BUDGET_S:
            full = max(100, int(BRAINPY_BUDGET_S / per_step) // 100 * 100)
            note = f"capped at {full} of {BRAINPY_DEFAULT_STEPS} steps ({BRAINPY_BUDGET_S:.0f} s)"
        t, steps, conv, best, own = _brainpy(step_fn, starts, tolerance=0.0, num_opt=full)
        rows.append(dict(N=n, finder=f"brainpy {steps} steps", adam_steps=steps, time_s=t,
                         converged=conv, best_q=best, brainpy_count=own, time_ratio=t / t_ours,
                         note=note))
    return rows


def main(argv=None) -> None:
    if not __package__:  # run as a script: make `benchmarks` importable
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._util import print_table

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="N = 50, 100 with 64 starts")
    args = p.parse_args(argv)
    rows = run(quick=args.quick)
    print_table("fixed points: ours vs BrainPy SlowPointFinder (time_ratio = time / ours)", rows)
    print("converged = unique points with q = 0.5*sum((F(x)-x)**2) < 1e-12 (duplicates within "
          "1e-3); brainpy_count = BrainPy's own filter_loss(1e-5) + keep_unique(0.025), on its "
          "loss mean((F(x)-x)**2) = 2q/N.")


if __name__ == "__main__":
    main()
