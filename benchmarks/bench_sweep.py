"""A parameter sweep on Dask (issue 11): 16 points on a 2-worker LocalCluster vs the same 16
points one after another in one process, measured side by side in one run.

The points: a small but real fit — one closed-loop Van der Pol context, N = 100 units, bias only,
:data:`N_ITERATIONS` Adam steps (``--quick``: fewer) — over a 4 × 4 grid of connectivity gain ×
seed. Rows (``ratio`` = sequential seconds / this row's seconds; aim ≥ 1.7 for the sweep):

- ``sequential``: :func:`brainbias.run` of each point's config in this process, one after another,
  each result saved to NetCDF (XLA with its default threads; the compiled fit is reused from
  the second point on).
- ``sweep``: :func:`brainbias.experiment.sweep.sweep` with ``n_workers=2`` (embedded
  LocalCluster; the time includes starting the cluster, each worker's import of JAX and its
  one compilation, and gathering ``sweep.nc``).
- ``sweep, XLA threads not limited``: the same without the single-thread ``XLA_FLAGS`` of
  :data:`brainbias.experiment.sweep.WORKER_ENV` (two workers, each with XLA's own pool:
  oversubscription).

``CPU s`` is the CPU time the row used (this process and the worker processes): on a machine
shared with other jobs the wall-clock ratio is bounded by the share of the cores the run gets,
the CPU time is not. The last column checks that the sweep did the same work: the largest
relative difference of a point's final training loss between the sweep and the sequential run.
The load average before and after is printed: the machine may be shared.

Each worker pays once for starting, importing JAX and compiling the fit (≈ 6 CPU s here), the
sequential run once in all: the longer each point's fit, the closer the ratio gets to the number
of workers; ``--iterations N`` sets the fit's length.

Run: ``python benchmarks/bench_sweep.py [--quick] [--iterations N]`` (a LocalCluster spawns
its workers, so the calling script must be a ``__main__``-guarded one).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_ITERATIONS = 1500
GRID = {"network.connectivity.gain": [0.8, 1.0, 1.2, 1.4], "seed": [0, 1, 2, 3]}


def bench_config(quick: bool = False, iterations: int | None = None):
    """The base config of every point (``iterations`` overrides :data:`N_ITERATIONS`)."""
    from brainbias.config import ExperimentConfig, from_dict

    return from_dict(ExperimentConfig, {
        "network": {"n_units": 100, "tau": 0.1},
        "training": {"n_iterations": iterations or (100 if quick else N_ITERATIONS),
                     "chunk_size": 20,
                     "batch_size": 8, "window": 100, "washout": 20},
        "evaluation": {"washout": 20, "horizon": 100},
        "targets": [{"kind": "van_der_pol", "name": "van_der_pol", "n_steps": 2000,
                     "dt": 0.02}],
    })


def _sequential(config, out: Path) -> tuple[float, dict]:
    from brainbias import results
    from brainbias.experiment.pipeline import run
    from brainbias.experiment.sweep_grid import grid_points, point_config, point_slug

    base, losses = config.to_dict(), {}
    t0 = time.perf_counter()
    for point in grid_points(GRID):
        ds = run(point_config(base, point), progress=False, figures=False)
        results.save(ds, out / point_slug(point) / "run.nc")
        losses[point_slug(point)] = ds["loss"][-1].values
    return time.perf_counter() - t0, losses


def _swept(config, out: Path, *, limit_threads: bool = True) -> tuple[float, dict]:
    from brainbias.experiment import sweep as sweep_module
    from brainbias.experiment.sweep_grid import grid_points, point_slug

    saved = sweep_module.WORKER_ENV
    if not limit_threads:
        sweep_module.WORKER_ENV = {k: v for k, v in saved.items() if k != "XLA_FLAGS"}
    try:
        t0 = time.perf_counter()
        ds = sweep_module.sweep(config, GRID, out_dir=out, n_workers=2, progress=False)
        seconds = time.perf_counter() - t0
    finally:
        sweep_module.WORKER_ENV = saved
    if (ds["status"] != "done").any():  # a benchmark of failed fits would time nothing real
        errors = sorted(set(ds["error"].values.ravel()) - {""})
        raise RuntimeError(f"sweep points failed: {errors}")
    keys = list(GRID)
    losses = {point_slug(p): ds["final_loss"].sel({k: p[k] for k in keys}).values
              for p in grid_points(GRID)}
    return seconds, losses


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children (the LocalCluster's
    worker processes count once the cluster has closed)."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))


def run(quick: bool = False, iterations: int | None = None):
    """The table rows (see the module docstring)."""
    config = bench_config(quick, iterations)
    n = len(GRID["seed"]) * len(GRID["network.connectivity.gain"])
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        cpu = _cpu_seconds()
        seq, ref = _sequential(config, Path(tmp) / "sequential")
        rows = [{"variant": "sequential (one process)", "points": n, "seconds": seq,
                 "s / point": seq / n, "ratio": 1.0, "CPU s": _cpu_seconds() - cpu}]
        for name, limit in (("sweep, 2-worker LocalCluster", True),
                            ("sweep, XLA threads not limited", False)):
            cpu = _cpu_seconds()
            sec, losses = _swept(config, Path(tmp) / name.split(",")[-1].strip().replace(" ", "_"),
                                 limit_threads=limit)
            diff = max(float(np.max(np.abs(losses[k] - ref[k]) / np.abs(ref[k]))) for k in ref)
            rows.append({"variant": name, "points": n, "seconds": sec, "s / point": sec / n,
                         "ratio": seq / sec, "CPU s": _cpu_seconds() - cpu,
                         "max rel. loss diff": diff})
    load1 = os.getloadavg()
    print(f"load average (1 min) before / after: {load0[0]:.1f} / {load1[0]:.1f} on "
          f"{os.cpu_count()} cores")
    return [("sweep (issue 11)", rows)]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import jax

    jax.config.update("jax_enable_x64", True)  # as the CLI and `python -m benchmarks`
    from benchmarks._util import print_table

    iterations = (int(sys.argv[sys.argv.index("--iterations") + 1])
                  if "--iterations" in sys.argv else None)
    for title, table in run(quick="--quick" in sys.argv, iterations=iterations):
        print_table(title, table)
