"""Analyse a fitted run: fixed points per context, one shared PCA picture, context comparison,
attractor metrics. This is what ``brainbias analyze RUN.nc`` (and the end of the demo) calls.

Everything is computed from the results file alone: the network and controller are rebuilt from
it (:func:`brainbias.results.network_from_dataset`), the step function of each context is
:func:`brainbias.network.autonomous_map` with that context's bias (closed loop when the run was
closed loop), and the fixed-point search starts from the stored free-running states.
"""

from __future__ import annotations

import itertools
import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .. import results as _results
from .._errors import BrainbiasError, ConfigError
from ..control import effective_readout
from ..network import autonomous_map, rates
from .attractor import attractor_report, lyapunov_exponent
from .compare import compare_dynamics
from .fixed_points import find_fixed_points
from .linearisation import linearise
from .pca import fit_pca, project

__all__ = ["analyze_run", "context_step_function", "analysis_summary", "save_analysis",
           "load_analysis", "ANALYSIS_SCHEMA_VERSION"]

ANALYSIS_SCHEMA_VERSION = 1


def context_step_function(ds: xr.Dataset, context: str):
    """The map ``F`` (unit,) → (unit,) of one context of a run (float64 when x64 is on)."""
    _results.select_context(ds, context)
    network = _results.network_from_dataset(ds)
    controller = _results.controller_from_dataset(ds)
    c = controller.context_index(context)
    closed = ds.attrs["run_mode"] == "closed_loop"
    mask = jnp.asarray(ds["output_mask"].values[c])
    # driven runs: the autonomous map with the input held at zero (tonic input only)
    return network, autonomous_map(network, controller.bias[c], closed_loop=closed,
                                   readout=effective_readout(network, controller),
                                   output_mask=mask)


def _valid(a):
    """Rows of a (time, …) array before the NaN padding."""
    a = np.asarray(a)
    finite = np.all(np.isfinite(a.reshape(len(a), -1)), axis=1)
    return a[: int(np.argmin(finite)) if not finite.all() else len(a)]


def _dstsp_bins(n_samples: int, dim: int, preferred: int = 30) -> int:
    """Bins per dimension so that each bin could hold one sample (at most the standard 30)."""
    return int(min(preferred, np.floor(n_samples ** (1.0 / dim))))


def _noise_floor_segment(ds, context, length):
    """An independent stretch of the same target: from the training part, which the evaluation
    never saw, rebuilt from the stored config. None when the config cannot rebuild it."""
    from ..targets import make_target

    specs = json.loads(ds.attrs["config"]).get("targets", [])
    for spec in specs:
        if spec.get("name", spec.get("kind")) == context:
            target = make_target(dict(spec))
            test_fraction = float(ds.attrs["test_fraction"])
            n_train = int(np.floor(target.n_steps * (1 - test_fraction)))
            if n_train >= length:
                return target.outputs[:length]
    return None


def analyze_run(ds: xr.Dataset, *, contexts=None, key, n_starts: int = 128,
                n_components: int = 3, lyapunov_steps: int = 5000,
                fixed_point_options: dict | None = None, eigenvectors: bool = False,
                progress: bool = True) -> xr.Dataset:
    """Fixed points, PCA, context comparison and attractor metrics of a fitted run.

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset (:func:`brainbias.results.load`).
    contexts : list of str, optional
        Contexts to analyse (default all).
    key : jax.random.PRNGKey
        For the fixed-point starts and the Lyapunov tangent basis.
    n_starts : int
        Fixed-point starts per context, drawn from the stored free-running states.
    n_components : int
        PCA components kept (shared basis fitted on the pooled rates of the chosen contexts).
    lyapunov_steps : int
        Steps of the QR method for the network's largest Lyapunov exponent.
    fixed_point_options : dict, optional
        Passed on to :func:`~brainbias.analysis.fixed_points.find_fixed_points`.
    eigenvectors : bool
        Also keep Jacobians and right/left eigenvectors (N² numbers per fixed point).

    Returns
    -------
    xarray.Dataset
        Fixed points with dims (fixed_point, unit) and coordinate ``fixed_point_context``;
        their linearisation; ``components`` (component, unit) and projections
        ``trajectory_pcs`` (context, time, component), ``fixed_point_pcs``
        (fixed_point, component); pairwise ``procrustes_distance``, ``cca_similarity``,
        ``dsa_distance`` (context, other_context); per-context attractor metrics with their
        noise floors and Lyapunov exponents.

    Raises
    ------
    SchemaError
        Not a valid results Dataset.
    ConfigError
        Unknown context names, ``n_components`` larger than the units.
    """
    _results.validate(ds)
    names = [str(c) for c in ds["context"].values]
    contexts = names if contexts is None else list(contexts)
    for c in contexts:
        _results.select_context(ds, c)
    n_units = ds.sizes["unit"]
    if not 1 <= n_components <= n_units:
        raise ConfigError(f"n_components: expected 1 … {n_units} (the number of units), "
                          f"got {n_components}.")
    dt = float(ds.attrs["dt"])
    keys = jax.random.split(key, 2 * len(contexts))
    fp_options = dict(fixed_point_options or {})

    from tqdm.auto import tqdm

    fixed_sets, per_context = [], {}
    bar = tqdm(contexts, desc="analyse", unit="context", disable=not progress, leave=False)
    for i, c in enumerate(bar):
        network, step_fn = context_step_function(ds, c)
        states = _valid(ds["states"].sel(context=c).values)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fps = find_fixed_points(step_fn, states, key=keys[2 * i],
                                    n_starts=min(n_starts, len(states)), dt=dt, **fp_options)
        notes = [str(w.message) for w in caught]
        if fps.sizes["fixed_point"]:
            fps = linearise(step_fn, fps, dt=dt, eigenvectors=eigenvectors)
            if not eigenvectors:
                fps = fps.drop_vars("jacobian")  # N² per point: kept only with eigenvectors
            fps["rate"] = (("fixed_point", "unit"),
                           np.asarray(rates(network, jnp.asarray(fps["state"].values))))
        fps = fps.assign_coords(fixed_point_context=("fixed_point", [c] * fps.sizes["fixed_point"]))
        fixed_sets.append(fps)
        # the network's largest Lyapunov exponent along its own free-running attractor
        lyap = lyapunov_exponent(step_fn, jnp.asarray(states[-1]), n_steps=lyapunov_steps,
                                 dt=dt, transient=min(1000, lyapunov_steps), key=keys[2 * i + 1])
        per_context[c] = dict(n_fixed=int(fps.attrs.get("n_fixed", 0)),
                              n_slow=int(fps.attrs.get("n_slow", 0)),
                              lyapunov_exponent_network=float(np.asarray(lyap)[0]),
                              notes=notes)

    fixed = xr.concat(fixed_sets, dim="fixed_point", combine_attrs="drop_conflicts",
                      data_vars="all", coords="minimal", compat="override", join="outer") \
        if any(f.sizes["fixed_point"] for f in fixed_sets) else fixed_sets[0]

    # one PCA basis for all chosen contexts: fitted on their pooled free-running rates
    pooled = ds["rates"].sel(context=contexts).astype(float)
    samples = np.concatenate([_valid(pooled.sel(context=c).values) for c in contexts])
    pca = fit_pca(samples, n_components=n_components)
    k = pca.sizes["component"]
    trajectory_pcs = np.full((len(contexts), pooled.sizes["time"], k), np.nan)
    for i, c in enumerate(contexts):
        valid = _valid(pooled.sel(context=c).values)
        trajectory_pcs[i, : len(valid)] = np.asarray(project(pca, valid))
    trajectory_pcs = xr.DataArray(trajectory_pcs, dims=("context", "time", "component"),
                                  coords={"time": pooled["time"].values})
    out = xr.Dataset(
        {
            "components": pca["components"],
            "explained_variance_ratio": pca["explained_variance_ratio"],
            "trajectory_pcs": trajectory_pcs,
        })
    if "rate" in fixed:
        out["fixed_point_pcs"] = project(pca, fixed["rate"])
    for name in fixed.data_vars:
        out[f"fixed_point_{name}" if not name.startswith("fixed_point") else name] = fixed[name]
    out = out.assign_coords(fixed_point_context=fixed["fixed_point_context"]) \
        if "fixed_point_context" in fixed.coords else out

    # how different the contexts' dynamics are (pairwise, on the free-running rates)
    n_ctx = len(contexts)
    metrics = {m: np.full((n_ctx, n_ctx), np.nan) for m in
               ("procrustes_distance", "cca_similarity", "dsa_distance")}
    for (ia, a), (ib, b) in itertools.combinations(enumerate(contexts), 2):
        ra = _valid(ds["rates"].sel(context=a).values)
        rb = _valid(ds["rates"].sel(context=b).values)
        n = min(len(ra), len(rb))
        try:
            cmp = compare_dynamics(ra[:n], rb[:n], n_components=min(n_components, 3), n_delays=5,
                                   rank=min(10, n_components * 5))
        except BrainbiasError as exc:
            per_context[a]["notes"].append(f"comparison with {b} skipped: {exc}")
            continue
        for m in metrics:
            metrics[m][ia, ib] = metrics[m][ib, ia] = float(cmp[m])
    for m, v in metrics.items():
        np.fill_diagonal(v, 0.0 if m != "cca_similarity" else 1.0)
        out[m] = (("context", "other_context"), v)

    # attractor metrics against the target, with the noise floor of an independent segment
    attractor = {m: np.full(n_ctx, np.nan) for m in (
        "state_space_divergence", "state_space_divergence_noise_floor",
        "power_spectrum_distance", "power_spectrum_distance_noise_floor")}
    bins = np.zeros(n_ctx, dtype=int)
    for i, c in enumerate(contexts):
        used = ds["output_mask"].sel(context=c).values.astype(bool)
        y_true = _valid(ds["target"].sel(context=c).values)[:, used]
        y_gen = _valid(ds["prediction"].sel(context=c).values)[: len(y_true), used]
        y_true = y_true[: len(y_gen)]
        bins[i] = _dstsp_bins(len(y_true), y_true.shape[1])
        if bins[i] < 4 or not np.all(np.isfinite(y_gen)):
            per_context[c]["notes"].append(
                f"attractor metrics skipped: {len(y_true)} samples (need ≥ 4 bins per dimension) "
                "or a non-finite prediction")
            continue
        floor = _noise_floor_segment(ds, c, len(y_true))
        # the rebuilt target has only this context's outputs (no padding): no mask needed
        try:
            rep = attractor_report(y_true, y_gen, dt=dt, noise_floor_trajectory=floor,
                                   n_bins=int(bins[i]))
        except BrainbiasError as exc:
            per_context[c]["notes"].append(f"attractor metrics skipped: {exc}")
            continue
        for m in attractor:
            attractor[m][i] = float(rep[m])
    for m, v in attractor.items():
        out[m] = (("context",), v)
    out["state_space_bins"] = (("context",), bins)
    for m in ("n_fixed", "n_slow", "lyapunov_exponent_network"):
        out[m] = (("context",), np.array([per_context[c][m] for c in contexts]))
    out["lyapunov_exponent_target"] = (("context",), ds["lyapunov_exponent"].sel(
        context=contexts).values.astype(float))
    for m in ("valid_prediction_lyapunov_times", "valid_prediction_steps", "nrmse",
              "period_error"):
        out[m] = ds[m].sel(context=contexts).drop_vars("context")
    out = out.assign_coords(context=contexts, other_context=contexts)
    out.attrs.update(
        analysis_schema_version=ANALYSIS_SCHEMA_VERSION,
        run_schema_version=int(ds.attrs["schema_version"]),
        run_mode=ds.attrs["run_mode"],
        dt=dt,
        speed_convention=str(fixed.attrs.get("speed_convention", "0.5*sum((F(x)-x)**2)")),
        time_convention=str(fixed.attrs.get("time_convention", "discrete map F, dt stored")),
        fixed_point_settings=json.dumps({k: _plain(v) for k, v in fixed.attrs.items()},
                                        sort_keys=True),
        notes=json.dumps({c: per_context[c]["notes"] for c in contexts}),
        state_space_divergence_method="bins, n_bins per context in state_space_bins",
        power_spectrum_smoothing=20.0,
        noise_floor="independent segment of the same target (its training part), equal length",
        n_starts=n_starts,
    )
    return out


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (np.ndarray, list, tuple)):
        return np.asarray(v).tolist()
    return v


def analysis_summary(an: xr.Dataset) -> str:
    """Short printed report of :func:`analyze_run`'s output."""
    lines = []
    header = ("context", "fixed", "slow", "stable", "leading |λ|", "λ_max net", "λ_max target",
              "D_stsp (floor)", "D_H (floor)")
    rows = [header]

    def f(v, spec=".3f"):
        v = float(v)
        return "—" if not np.isfinite(v) else format(v, spec)

    def with_floor(d, name):
        return f"{f(d[name])} ({f(d[name + '_noise_floor'])})"

    for c in an["context"].values:
        sel = an["fixed_point_context"] == c if "fixed_point_context" in an.coords else None
        n_stable, lead = "—", "—"
        if sel is not None and int(sel.sum()) and "fixed_point_stable_map" in an:
            st = an["fixed_point_stable_map"].where(sel, drop=True)
            kinds = an["fixed_point_kind"].where(sel, drop=True)
            n_stable = str(int(((st == 1) & (kinds == "fixed")).sum()))
            mag = np.hypot(an["fixed_point_eigenvalue_real"].where(sel, drop=True).values[:, 0],
                           an["fixed_point_eigenvalue_imag"].where(sel, drop=True).values[:, 0])
            lead = f"{mag.min():.3f}–{mag.max():.3f}" if len(mag) > 1 else f"{mag[0]:.3f}"
        d = an.sel(context=c)
        rows.append((str(c), str(int(d["n_fixed"])), str(int(d["n_slow"])), n_stable, lead,
                     f(d["lyapunov_exponent_network"]), f(d["lyapunov_exponent_target"]),
                     with_floor(d, "state_space_divergence"),
                     with_floor(d, "power_spectrum_distance")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines += ["  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    ctx = [str(c) for c in an["context"].values]
    if len(ctx) > 1:
        lines.append("")
        lines.append("context vs context (free-running rates): Procrustes / CCA / DSA")
        for a, b in itertools.combinations(ctx, 2):
            p = an.sel(context=a, other_context=b)
            lines.append(f"  {a} vs {b}: {f(p['procrustes_distance'])} / "
                         f"{f(p['cca_similarity'])} / {f(p['dsa_distance'])}")
    ev = an["explained_variance_ratio"].values
    lines.append(f"shared PCA: {len(ev)} components explain {ev.sum():.1%} of the pooled rate "
                 "variance")
    lines.append(f"λ in 1/time units; fixed = q < tolerance ({an.attrs['speed_convention']}); "
                 "stable = |λ| < 1 for the map; D_stsp/D_H noise floor = an independent segment "
                 "of the same target")
    notes = json.loads(an.attrs.get("notes", "{}"))
    for c, ns in notes.items():
        for n in ns:
            lines.append(f"note [{c}]: {n}")
    return "\n".join(lines)


def save_analysis(an: xr.Dataset, path, *, force: bool = False):
    """Write an analysis Dataset to NetCDF (refuses to overwrite unless ``force``)."""
    return _results.write_netcdf(an, path, force=force)


def load_analysis(path) -> xr.Dataset:
    """Read an ``analysis.nc``; refuses files of another analysis schema version."""
    from pathlib import Path

    from .._errors import DataError, SchemaError

    path = Path(path)
    if not path.exists():
        raise DataError(f"analysis file not found: {path}")
    with xr.open_dataset(path, engine="h5netcdf") as f:
        an = f.load()
    version = an.attrs.get("analysis_schema_version")
    if version is None or int(version) != ANALYSIS_SCHEMA_VERSION:
        raise SchemaError(f"{path}: analysis schema version {version!r} is not supported "
                          f"(expected {ANALYSIS_SCHEMA_VERSION}).")
    return an
