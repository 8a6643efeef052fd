"""Gathering a sweep: the summary numbers of every finished point in one xarray Dataset.

The Dataset has one dimension per grid key (named by the dotted key, coordinates = the grid's
values) and, for per-context numbers, the dimension ``context`` (the union of the points'
contexts). Its variables:

* the numeric per-context and scalar variables of each run (``nrmse``,
  ``valid_prediction_steps``, ``period_error``, …, ``lyapunov_exponent``; for recordings
  ``psth_r2``, ``co_bps``, ``psth_r2_overall``, …; ``trained_leak_logit``),
* ``final_loss`` (context): the training loss of the last iteration,
* :data:`SUMMARY_ATTRS` of each run (``tau``: the fitted time constant; ``training_wall_time``,
  ``selected_iteration``) as variables,
* ``status`` (``"done"``, ``"failed"``), ``error`` (the message of a failed point, else ``""``)
  and ``run_path`` (the point's ``run.nc``, relative to the sweep folder).

Failed points are NaN. Attributes: ``sweep_grid`` and ``sweep_config`` (the base config), JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from .._version import __version__

__all__ = ["run_summary", "gather_points", "sweep_table", "SUMMARY_ATTRS"]

#: numeric attributes of a results file that become variables of the gathered Dataset
SUMMARY_ATTRS = ("tau", "training_wall_time", "selected_iteration")


def run_summary(run_file) -> dict[str, xr.DataArray]:
    """The summary numbers of one results file (read lazily): name → DataArray with dims ``()``
    or ``("context",)``."""
    with xr.open_dataset(run_file, engine="h5netcdf") as ds:
        out = {}
        for name, var in ds.data_vars.items():
            if set(var.dims) <= {"context"} and var.dtype.kind in "fiub":
                out[name] = var.astype(float).load()
        if "loss" in ds and ds.sizes.get("iteration", 0):
            out["final_loss"] = ds["loss"].isel(iteration=-1, drop=True).astype(float).load()
        for name in SUMMARY_ATTRS:
            value = ds.attrs.get(name)
            if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                out[name] = xr.DataArray(float(value))
    return {k: v.drop_vars([c for c in v.coords if c != "context"]) for k, v in out.items()}


def gather_points(records: list[dict], grid: dict, *, out_dir, config: dict) -> xr.Dataset:
    """One Dataset over the grid from the point ``records`` (``point``, ``status``, ``slug``,
    ``error``; finished points have ``run.nc`` under ``out_dir/points/<slug>/``)."""
    out_dir = Path(out_dir)
    keys = list(grid)
    shape = tuple(len(grid[k]) for k in keys)
    index = {k: {json.dumps(v, sort_keys=True): i for i, v in enumerate(grid[k])} for k in keys}
    summaries, contexts = {}, []
    for rec in records:
        if rec["status"] == "done":
            s = run_summary(out_dir / rec["run_path"])
            summaries[rec["slug"]] = s
            for v in s.values():
                if "context" in v.dims:
                    contexts += [str(c) for c in v["context"].values if str(c) not in contexts]
    names = list(dict.fromkeys(n for s in summaries.values() for n in s))
    data = {}
    for name in names:
        per_context = any("context" in s[name].dims for s in summaries.values() if name in s)
        data[name] = np.full(shape + ((len(contexts),) if per_context else ()), np.nan)
    status = np.full(shape, "", dtype=object)
    error, run_path = status.copy(), status.copy()
    for rec in records:
        at = tuple(index[k][json.dumps(rec["point"][k], sort_keys=True)] for k in keys)
        status[at], error[at] = rec["status"], rec.get("error") or ""
        run_path[at] = rec["run_path"] if rec["status"] == "done" else ""
        for name, v in summaries.get(rec["slug"], {}).items():
            if "context" in v.dims:
                where = [contexts.index(str(c)) for c in v["context"].values]
                data[name][at + (where,)] = v.values
            elif data[name].ndim == len(keys):
                data[name][at] = float(v)
    dims = {name: keys + (["context"] if arr.ndim > len(keys) else [])
            for name, arr in data.items()}
    ds = xr.Dataset({name: (dims[name], arr) for name, arr in data.items()},
                    coords={k: list(grid[k]) for k in keys})
    if contexts:
        ds = ds.assign_coords(context=contexts)
    for name, arr in (("status", status), ("error", error), ("run_path", run_path)):
        ds[name] = (keys, arr.astype(str))
    ds.attrs.update(sweep_grid=json.dumps({k: list(v) for k, v in grid.items()}),
                    sweep_config=json.dumps(config, sort_keys=True), brainbias_version=__version__,
                    description="one brainbias sweep: the summary numbers of each point's run.nc "
                    "over the grid (NaN where a point failed)")
    return ds


def sweep_table(ds: xr.Dataset) -> str:
    """Plain-text table of a gathered sweep: one row per point (grid values, status, mean final
    loss and mean NRMSE over contexts, or the error)."""
    keys = [d for d in ds["status"].dims]
    cols = [n for n in ("final_loss", "nrmse") if n in ds]
    header = keys + ["status"] + [f"{c} (mean)" for c in cols]
    rows = []
    flat = ds.stack(point=keys) if keys else ds.expand_dims("point")
    for i in range(flat.sizes["point"]):
        p = flat.isel(point=i)
        cells = [_cell(p[k].item()) for k in keys] + [str(p["status"].values)]
        for c in cols:
            v = p[c].mean().item() if p[c].size else float("nan")
            cells.append("—" if not np.isfinite(v) else f"{v:.4g}")
        if str(p["status"].values) == "failed":
            cells.append(str(p["error"].values).splitlines()[0][:100] if p["error"].size else "")
        rows.append(cells)
    widths = [max(len(r[j]) for r in [header] + rows if j < len(r)) for j in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths + [0], strict=False)).rstrip())
    return "\n".join(lines)


def _cell(v) -> str:
    return str(v)  # the grid's own spelling of a value: 1.0, 0.8, 1e-05, tanh
