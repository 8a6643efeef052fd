"""Parameter sweeps on Dask distributed: one :func:`brainbias.run` per grid point, in parallel.

::

    config + grid ─► points (Cartesian product; sweep_grid) ─► one task per unfinished point on a
    Dask cluster (embedded LocalCluster, or --scheduler ADDRESS) ─► points/<slug>/run.nc
    ─► gathered into sweep.nc (sweep_gather): the summary numbers over the grid dimensions

* **Engine.** Dask distributed, not a scheduler of our own: by default an embedded
  ``distributed.LocalCluster`` (one single-threaded worker process per core), or any running
  cluster by its scheduler address (``tcp://host:port``; dask-jobqueue, Kubernetes, ``dask
  scheduler`` / ``dask worker``). Each worker runs one point at a time.
* **Files.** ``OUT/points/<slug>/run.nc`` per finished point (written through a temporary file,
  then renamed: never half-written), ``point.json`` next to it (the point and its config),
  ``error.json`` for a failed point (its error and traceback), ``OUT/points.json`` (every point and
  its status) and ``OUT/sweep.nc`` (the gathered Dataset).
* **Resume.** A rerun skips points whose ``run.nc`` exists and retries failed ones; a folder that
  holds a point of another configuration is refused.
* **Threads.** Local workers get ``XLA_FLAGS`` that keep XLA to one thread
  (:data:`WORKER_ENV`): with one process per core, XLA's own thread pool would oversubscribe the
  cores. Start the workers of an external cluster with the same environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

from .. import results as _results
from .._errors import BrainbiasError, ConfigError
from ..config import ExperimentConfig
from .sweep_gather import gather_points, sweep_table
from .sweep_grid import check_keys, grid_points, normalise_grid, point_config, point_slug

__all__ = ["sweep", "open_sweep", "print_summary", "local_cluster", "WORKER_ENV"]

#: environment of each local worker process: XLA on one thread (one worker per core), no GPU
#: memory preallocation (several workers may share one GPU)
WORKER_ENV = {
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


def sweep(config: ExperimentConfig, grid: dict, *, out_dir, scheduler: str | None = None,
          n_workers: int | None = None, progress: bool = True):
    """Fit ``config`` at every point of ``grid`` on a Dask cluster and gather the results.

    Parameters
    ----------
    config : ExperimentConfig
        The base config; each point sets the grid's keys in it (re-validated).
    grid : dict
        Dotted config key → list of values, e.g. ``{"network.connectivity.gain": [0.8, 1.0],
        "seed": range(20)}`` (:func:`brainbias.experiment.sweep_grid.normalise_grid`); the
        points are the Cartesian product.
    out_dir : path
        The sweep folder (see the module docstring); reused by a rerun (resume).
    scheduler : str, optional
        Address of a running Dask scheduler (``"tcp://host:port"``). Default: an embedded
        ``LocalCluster`` (:func:`local_cluster`), closed at the end.
    n_workers : int, optional
        Workers of the embedded cluster (default: the cores this process may use, at most one
        per point to run). Not used with ``scheduler``.
    progress : bool
        Print the dashboard link and a progress bar over finished points.

    Returns
    -------
    xarray.Dataset
        The gathered sweep (:mod:`brainbias.experiment.sweep_gather`), also written to
        ``out_dir/sweep.nc``: dims = the grid's keys (+ ``context``), ``status`` and ``error``
        per point, NaN where a point failed.

    Raises
    ------
    ConfigError
        A bad grid (unknown key, with a suggestion; empty or repeated values), ``n_workers``
        not ≥ 1 or given with ``scheduler``, an ``out_dir`` holding another sweep's point.
        A value that the config rejects fails only its point (recorded in ``error.json``).

    Examples
    --------
    >>> from brainbias.experiment.sweep import sweep  # doctest: +SKIP
    >>> ds = sweep(config, {"network.connectivity.gain": [0.8, 1.2], "seed": range(4)},
    ...            out_dir="out/gain_sweep", n_workers=2)  # doctest: +SKIP
    >>> ds.nrmse.mean("seed")  # doctest: +SKIP
    """
    grid = normalise_grid(grid)
    check_keys(grid, config)
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int)
                                  or n_workers < 1):
        raise ConfigError(f"n_workers: expected an integer ≥ 1, got {n_workers!r}.")
    if n_workers is not None and scheduler is not None:
        raise ConfigError("n_workers: the workers of an existing cluster (scheduler="
                          f"{scheduler!r}) are the cluster's; do not pass n_workers as well.")
    out = Path(out_dir)
    base = config.to_dict()
    records = [_prepare(out, point, base) for point in grid_points(grid)]
    pending = [r for r in records if r["status"] == "pending"]
    if progress:
        done = sum(r["status"] == "done" for r in records)
        print(f"sweep: {len(records)} points, {done} already done, {len(pending)} to run")
    if pending:
        _run_pending(out, pending, scheduler=scheduler, n_workers=n_workers, progress=progress)
    _write_json(out / "points.json", [_public(r) for r in records])
    ds = gather_points(records, grid, out_dir=out, config=base)
    _results.write_netcdf(ds, out / "sweep.nc", force=True)
    return ds


def open_sweep(path):
    """Open a gathered ``sweep.nc`` (or the ``sweep.nc`` of a sweep folder) lazily."""
    import xarray as xr

    path = Path(path)
    if path.is_dir():
        path = path / "sweep.nc"
    if not path.exists():
        raise ConfigError(f"no gathered sweep at {path} (written by brainbias sweep).")
    return xr.open_dataset(path, engine="h5netcdf")


def _prepare(out: Path, point: dict, base: dict) -> dict:
    """The record of one point: ``done`` (its run.nc exists), ``failed`` (its config is
    invalid; error.json written) or ``pending`` (with its config, ready to run)."""
    slug = point_slug(point)
    folder = out / "points" / slug
    rec = {"point": point, "slug": slug, "run_path": f"points/{slug}/run.nc", "error": None}
    try:
        cfg = point_config(base, point)
    except BrainbiasError as exc:
        _results.prepare_output(folder / "error.json", force=True)
        _record_failure(folder, rec, exc, "")
        return rec
    cfg_dict = cfg.to_dict()
    meta = folder / "point.json"
    if meta.exists():
        stored = json.loads(meta.read_text())
        if stored.get("config") != json.loads(json.dumps(cfg_dict)):
            raise ConfigError(
                f"{folder} holds a run of another configuration than this sweep's point "
                f"{point}; sweep into a new folder (or delete {out}).")
    if (folder / "run.nc").exists():
        rec["status"] = "done"
        return rec
    _results.prepare_output(meta, force=True)
    _write_json(meta, {"point": point, "config": cfg_dict})
    rec.update(status="pending", config=cfg)
    return rec


def _run_pending(out: Path, pending: list[dict], *, scheduler, n_workers, progress):
    """Submit the pending points to the cluster; record each result as it arrives."""
    import jax
    from distributed import as_completed
    from tqdm.auto import tqdm

    x64 = bool(jax.config.jax_enable_x64)  # the workers compute as this process does
    with _client(scheduler, n_workers, len(pending)) as client:
        if progress:
            print(f"sweep: Dask scheduler {client.scheduler.address}; dashboard: "
                  f"{client.dashboard_link}{_dashboard_note() if scheduler is None else ''}")
        futures = {client.submit(_run_point, r["config"], str(out / r["run_path"]), x64,
                                 pure=False, key=f"brainbias-point-{r['slug']}-{time.time_ns()}"):
                   r for r in pending}
        try:
            bar = tqdm(as_completed(futures), total=len(futures), desc="sweep", unit="point",
                       disable=not progress, file=sys.stderr)
            for future in bar:
                rec = futures[future]
                folder = out / "points" / rec["slug"]
                try:
                    rec.update(status="done", seconds=future.result()["seconds"])
                    (folder / "error.json").unlink(missing_ok=True)
                except (Exception, asyncio.CancelledError) as exc:  # the point's, not ours
                    tb = future.traceback() if future.status == "error" else None
                    _record_failure(folder, rec, exc, "".join(traceback.format_tb(tb)))
                    bar.write(f"sweep: point {rec['point']} failed: {rec['error']}")
        finally:
            client.cancel(list(futures))  # Ctrl-C: leave nothing running on a shared cluster
    for rec in pending:
        rec.pop("config", None)


def _record_failure(folder: Path, rec: dict, exc: BaseException, tb: str):
    rec.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    _write_json(folder / "error.json", {"point": rec["point"], "error": rec["error"],
                                        "traceback": tb})


def _run_point(config: ExperimentConfig, run_file: str, x64: bool) -> dict:
    """One point on a worker: :func:`brainbias.run`, saved to ``run_file`` (atomically)."""
    import jax

    from .pipeline import run

    t0 = time.perf_counter()
    # a scoped setting, not a global one (jax < 0.5 has it under jax.experimental)
    enable_x64 = jax.enable_x64 if hasattr(jax, "enable_x64") else jax.experimental.enable_x64
    with enable_x64(x64):
        ds = run(config, progress=False, figures=False)
        _results.save(ds, run_file, force=True)
    return {"seconds": time.perf_counter() - t0}


def local_cluster(n_workers: int, **kwargs):
    """The embedded cluster: ``n_workers`` single-threaded worker processes, each with
    :data:`WORKER_ENV` (and the caller's ``XLA_FLAGS`` before it)."""
    from distributed import LocalCluster

    env = dict(WORKER_ENV)
    if os.environ.get("XLA_FLAGS"):
        env["XLA_FLAGS"] = f"{os.environ['XLA_FLAGS']} {env['XLA_FLAGS']}"
    kwargs.setdefault("dashboard_address", ":8787")
    kwargs.setdefault("silence_logs", 50)  # a failing point is reported (and recorded) by us
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, env=env,
                        **kwargs)


@contextlib.contextmanager
def _client(scheduler, n_workers, n_points):
    from distributed import Client

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ConfigError(f"scheduler: cannot connect to the Dask scheduler at "
                              f"{scheduler!r} ({exc}).") from None
        with client:
            yield client
        return
    n = n_workers or min(_cores(), n_points)
    with local_cluster(n) as cluster, Client(cluster) as client:
        yield client


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _dashboard_note() -> str:
    import importlib.util

    if importlib.util.find_spec("bokeh") is None:
        return " (its pages need bokeh >= 3.1: pip install bokeh)"
    return ""


def _public(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "config"}


def _write_json(path: Path, data):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)


def print_summary(ds) -> None:
    """Print :func:`sweep_table` of a gathered sweep and a count of done / failed points."""
    print(sweep_table(ds))
    status = ds["status"].values.ravel().tolist()
    print(f"sweep: {status.count('done')} done, {status.count('failed')} failed")
