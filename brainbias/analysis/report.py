"""Analyse a fitted run: an attractor census and fixed points per context, one shared PCA
picture, context comparison, attractor metrics. This is what ``brainbias analyze RUN.nc`` (and the
end of the demo) calls.

Everything is computed from the results file alone: the network and controller are rebuilt from
it (:func:`brainbias.results.network_from_dataset`) and the step function of each context is
:func:`brainbias.models.base.autonomous_map` with that context's bias (closed loop when the run was
closed loop). The stored free run is short (the evaluation window), and a network may reach its
attractor only later, so each context first gets an attractor census
(:func:`~brainbias.analysis.census.census`): long free runs from samples of the stored states
and from random states, every end accounted for. The fixed-point search then starts from samples
of the stored states *and* from the census's end points.
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
from ..models.base import autonomous_map, rates
from ..training.control import effective_readout
from ._report_census import (
    _census_lines,
    _census_starts,
    _distinct_ends,
    _fixed_point_lines,
    _generator,
    _stack_censuses,
)
from .attractor_metrics import attractor_report
from .census import census
from .compare import compare_dynamics
from .conductance import coefficient_lines, run_coefficients
from .fixed_points import find_fixed_points
from .linearisation import linearise
from .long_run import long_run_lines, long_run_variables
from .lyapunov import lyapunov_exponent
from .pca import fit_pca, project

__all__ = ["analyze_run", "context_step_function", "analysis_summary", "save_analysis",
           "load_analysis", "ANALYSIS_SCHEMA_VERSION", "SUPPORTED_ANALYSIS_SCHEMA_VERSIONS"]

ANALYSIS_SCHEMA_VERSION = 2
#: versions :func:`load_analysis` reads (1: before the attractor census; its files lack the
#: ``attractor_*`` / ``start_*`` variables and fixed-point classifications)
SUPPORTED_ANALYSIS_SCHEMA_VERSIONS = (1, 2)
#: per-context free runs of the census last at least this many time constants τ
_CENSUS_MIN_TAUS = 50


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
    from ..data.targets import make_target

    specs = json.loads(ds.attrs["config"]).get("targets", [])
    for spec in specs:
        if spec.get("name", spec.get("kind")) == context:
            target = make_target(dict(spec))
            test_fraction = float(ds.attrs["test_fraction"])
            n_train = int(np.floor(target.n_steps * (1 - test_fraction)))
            if n_train >= length:
                return target.outputs[:length]
    return None


def _analyse_context(ds, c, key, *, n_starts, census_starts, census_options, fp_options,
                     lyapunov_steps, eigenvectors):
    """Census, fixed points (with linearisation) and Lyapunov exponent of one context."""
    dt = float(ds.attrs["dt"])
    k_starts, k_census, k_pick, k_fp, k_lyap = jax.random.split(key, 5)
    network, step_fn = context_step_function(ds, c)
    states = _valid(ds["states"].sel(context=c).values)
    options = {"min_steps": max(1000, int(np.ceil(_CENSUS_MIN_TAUS * network.tau / dt))),
               **(census_options or {})}
    cen = census(step_fn, _census_starts(states, census_starts, k_starts), dt=dt, key=k_census,
                 **options)
    pick = _generator(k_pick).choice(len(states), min(n_starts, len(states)), replace=False)
    starts = np.concatenate([states[pick], _distinct_ends(cen)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fps = find_fixed_points(step_fn, starts, key=k_fp, dt=dt, **fp_options)
    notes = [str(w.message) for w in caught]
    if fps.sizes["fixed_point"]:
        fps = linearise(step_fn, fps, dt=dt, eigenvectors=eigenvectors)
        if not eigenvectors:
            fps = fps.drop_vars("jacobian")  # N² per point: kept only with eigenvectors
        fps["rate"] = (("fixed_point", "unit"),
                       np.asarray(rates(network, jnp.asarray(fps["state"].values))))
    fps = fps.assign_coords(fixed_point_context=("fixed_point", [c] * fps.sizes["fixed_point"]))
    # the network's largest Lyapunov exponent along its own free-running attractor
    lyap = lyapunov_exponent(step_fn, jnp.asarray(states[-1]), n_steps=lyapunov_steps,
                             dt=dt, transient=min(1000, lyapunov_steps), key=k_lyap)
    resolved = cen["attractor_kind"].values != "unresolved"
    if not resolved.any():
        notes.append(f"the census found NO fixed point or cycle: all {cen.sizes['start']} free "
                     "runs ended unresolved (e.g. chaotic) or diverged (see start_outcome)")
    info = dict(n_fixed=int(fps.attrs.get("n_fixed", 0)), n_slow=int(fps.attrs.get("n_slow", 0)),
                lyapunov_exponent_network=float(np.asarray(lyap)[0]),
                n_attractors=int(resolved.sum()),
                n_unresolved_runs=int(cen.attrs["n_unresolved"] + cen.attrs["n_diverged"]),
                n_unsettled_runs=int(cen.attrs["n_unsettled"]),
                census_steps=int(cen.attrs["n_steps_run"]), notes=notes)
    return network, fps, cen, info


def analyze_run(ds: xr.Dataset, *, contexts=None, key, n_starts: int = 128,
                n_components: int = 3, lyapunov_steps: int = 5000,
                fixed_point_options: dict | None = None, eigenvectors: bool = False,
                census_starts: int = 64, census_options: dict | None = None,
                long_run_time: float = 1000.0, progress: bool = True) -> xr.Dataset:
    """Attractor census, fixed points, PCA, context comparison and attractor metrics of a run.

    Per context, an attractor census (:func:`~brainbias.analysis.census.census`) runs the
    context's map from ``census_starts`` states — half sampled from the stored free run, half
    Gaussian around its centroid with twice its RMS spread per unit (at least 0.5) — for at
    least ``max(1000 steps, 50 τ)`` and until the runs settle (options in ``census_options``),
    and accounts for every end. The fixed-point search starts from ``n_starts`` stored states
    plus up to 8 census ends per attractor and every unresolved end.

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset (:func:`brainbias.results.load`).
    contexts : list of str, optional
        Contexts to analyse (default all).
    key : jax.random.PRNGKey
        For the census and fixed-point starts and the Lyapunov tangent bases.
    n_starts : int
        Fixed-point starts per context drawn from the stored free-running states (the census
        ends come on top).
    n_components : int
        PCA components kept (shared basis fitted on the pooled rates of the chosen contexts).
    lyapunov_steps : int
        Steps of the QR method for the network's largest Lyapunov exponent.
    fixed_point_options : dict, optional
        Passed on to :func:`~brainbias.analysis.fixed_points.find_fixed_points`.
    eigenvectors : bool
        Also keep Jacobians and right/left eigenvectors (N² numbers per fixed point).
    census_starts : int
        Free runs of the census per context.
    census_options : dict, optional
        Passed on to :func:`~brainbias.analysis.census.census` (``n_steps``,
        ``max_steps`` and its ``CENSUS_OPTIONS``; ``min_steps`` overrides the 50 τ default).
    long_run_time : float
        Chaotic contexts: the standard attractor measures of a free run this long (time units)
        against independent trajectories of the true system
        (:mod:`~brainbias.analysis.long_run`); 0 skips them.

    Returns
    -------
    xarray.Dataset
        Fixed points with dims (fixed_point, unit) and coordinate ``fixed_point_context``;
        their linearisation; ``components`` (component, unit) and projections
        ``trajectory_pcs`` (context, time, component), ``fixed_point_pcs``
        (fixed_point, component); pairwise ``procrustes_distance``, ``cca_similarity``,
        ``dsa_distance`` (context, other_context); per-context attractor metrics with their
        noise floors and Lyapunov exponents. Fixed points carry their ``classification``
        (stable node/focus, saddle with ``fixed_point_unstable_dimension_map``, unstable
        node/focus, marginal) and rates in both conventions (``fixed_point_decay_rate`` per unit
        time, ``…_per_step``; ``fixed_point_oscillation_frequency``).

        The census of every context (schema version 2): dims ``attractor`` (coordinate
        ``attractor_context``) and ``start`` (``start_context``) with the census variables —
        ``attractor_kind``, ``attractor_state``, ``attractor_period`` (+ ``_steps``),
        ``attractor_frequency``, ``attractor_decay_rate``, ``attractor_n_starts``,
        ``attractor_lyapunov_exponent``, ``attractor_slowest_eigenvalue_real/_imag``,
        ``floquet_multiplier_real/_imag`` (attractor, floquet_mode), ``start_attractor``
        (indexing this ``attractor`` dim, −1 unresolved), ``start_outcome``,
        ``start_settled``, ``start_end_state``, ``start_end_speed``,
        ``start_lyapunov_exponent`` — plus ``attractor_pcs`` (attractor, component) and
        ``attractor_orbit_pcs`` (attractor, orbit_step, component), the attractors' rates in the
        shared PCA basis (orbit states themselves are not stored); per context
        ``n_attractors``, ``n_unresolved_runs``, ``n_unsettled_runs``, ``census_steps``.

    Raises
    ------
    SchemaError
        Not a valid results Dataset.
    ConfigError
        Unknown context names, ``n_components`` larger than the units, ``census_starts`` < 1
        or an unknown census option.
    """
    contexts = _check_request(ds, contexts, n_components, census_starts)
    dt = float(ds.attrs["dt"])
    keys = jax.random.split(key, len(contexts))
    fp_options = dict(fixed_point_options or {})

    from tqdm.auto import tqdm

    fixed_sets, censuses, per_context = [], [], {}
    bar = tqdm(contexts, desc="analyse", unit="context", disable=not progress, leave=False)
    for i, c in enumerate(bar):
        network, fps, cen, per_context[c] = _analyse_context(
            ds, c, keys[i], n_starts=n_starts, census_starts=census_starts,
            census_options=census_options, fp_options=fp_options, lyapunov_steps=lyapunov_steps,
            eigenvectors=eigenvectors)
        fixed_sets.append(fps)
        censuses.append(cen)

    fixed = xr.concat(fixed_sets, dim="fixed_point", combine_attrs="drop_conflicts",
                      data_vars="all", coords="minimal", compat="override", join="outer") \
        if any(f.sizes["fixed_point"] for f in fixed_sets) else fixed_sets[0]
    pca, out = _shared_pca(ds, contexts, n_components)
    out = _with_fixed_points(out, fixed, pca)
    out = out.merge(_stack_censuses(censuses, contexts, network, pca))
    if network.family == "ltc":  # the A(v, u) v + c(v, u) view (Lemmel & Grosu 2023)
        out = out.merge(run_coefficients(ds, contexts, fixed))
    variables = {
        **_context_comparisons(ds, contexts, n_components, per_context),
        **_attractor_metrics(ds, contexts, dt, per_context),
        **long_run_variables(ds, contexts, per_context, long_run_time=long_run_time),
        **_per_context_numbers(ds, contexts, per_context),
    }
    for name, value in variables.items():
        out[name] = value
    out = out.assign_coords(context=contexts, other_context=contexts)
    out.attrs["long_run_time"] = float(long_run_time)
    out.attrs.update(_analysis_attrs(ds, fixed, censuses, contexts, per_context, n_starts=n_starts,
                                     census_starts=census_starts))
    return out


def _check_request(ds, contexts, n_components, census_starts):
    """Validate the run and the arguments of :func:`analyze_run`; return the contexts' names."""
    _results.validate(ds)
    names = [str(c) for c in ds["context"].values]
    contexts = names if contexts is None else list(contexts)
    for c in contexts:
        _results.select_context(ds, c)
    n_units = ds.sizes["unit"]
    if not 1 <= n_components <= n_units:
        raise ConfigError(f"n_components: expected 1 … {n_units} (the number of units), "
                          f"got {n_components}.")
    if isinstance(census_starts, bool) or not isinstance(census_starts, (int, np.integer)) \
            or census_starts < 1:
        raise ConfigError(f"census_starts: expected an integer ≥ 1, got {census_starts!r}.")
    return contexts


def _shared_pca(ds, contexts, n_components):
    """One PCA basis for all chosen contexts, fitted on their pooled free-running rates; and a
    Dataset with its components and every context's trajectory in it."""
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
    return pca, xr.Dataset(
        {
            "components": pca["components"],
            "explained_variance_ratio": pca["explained_variance_ratio"],
            "trajectory_pcs": trajectory_pcs,
        })


def _with_fixed_points(out, fixed, pca):
    """``out`` with the fixed points' variables (prefixed ``fixed_point_``) and projections."""
    if "rate" in fixed:
        out["fixed_point_pcs"] = project(pca, fixed["rate"])
    for name in fixed.data_vars:
        out[f"fixed_point_{name}" if not name.startswith("fixed_point") else name] = fixed[name]
    return out.assign_coords(fixed_point_context=fixed["fixed_point_context"]) \
        if "fixed_point_context" in fixed.coords else out


def _context_comparisons(ds, contexts, n_components, per_context):
    """How different the contexts' dynamics are: pairwise Procrustes, CCA and DSA on the
    free-running rates, (context, other_context); a skipped pair is noted in ``per_context``."""
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
    return {m: (("context", "other_context"), v) for m, v in metrics.items()}


def _attractor_metrics(ds, contexts, dt, per_context):
    """Attractor metrics of each context's prediction against its target, with the noise floor
    of an independent segment, and the bins used; a skipped context is noted in
    ``per_context``."""
    n_ctx = len(contexts)
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
    out = {m: (("context",), v) for m, v in attractor.items()}
    out["state_space_bins"] = (("context",), bins)
    return out


def _per_context_numbers(ds, contexts, per_context):
    """Counts and exponents from the per-context analysis, and the run's own forecast scores."""
    out = {}
    for m in ("n_fixed", "n_slow", "lyapunov_exponent_network", "n_attractors",
              "n_unresolved_runs", "n_unsettled_runs", "census_steps"):
        out[m] = (("context",), np.array([per_context[c][m] for c in contexts]))
    out["lyapunov_exponent_target"] = (("context",), ds["lyapunov_exponent"].sel(
        context=contexts).values.astype(float))
    for m in ("valid_prediction_lyapunov_times", "valid_prediction_steps", "nrmse",
              "period_error"):
        out[m] = ds[m].sel(context=contexts).drop_vars("context")
    return out


def _analysis_attrs(ds, fixed, censuses, contexts, per_context, *, n_starts, census_starts):
    """The analysis Dataset's attributes: schema versions, conventions, settings, notes."""
    return dict(
        analysis_schema_version=ANALYSIS_SCHEMA_VERSION,
        run_schema_version=int(ds.attrs["schema_version"]),
        run_mode=ds.attrs["run_mode"],
        dt=float(ds.attrs["dt"]),
        speed_convention=str(fixed.attrs.get("speed_convention", "0.5*sum((F(x)-x)**2)")),
        time_convention=str(fixed.attrs.get("time_convention", "discrete map F, dt stored")),
        fixed_point_settings=json.dumps({k: _plain(v) for k, v in fixed.attrs.items()},
                                        sort_keys=True),
        notes=json.dumps({c: per_context[c]["notes"] for c in contexts}),
        state_space_divergence_method="bins, n_bins per context in state_space_bins",
        power_spectrum_smoothing=20.0,
        noise_floor="independent segment of the same target (its training part), equal length",
        n_starts=n_starts,
        census_starts=census_starts,
        census_settings=json.dumps({c: json.loads(cen.attrs["options"])
                                    for c, cen in zip(contexts, censuses, strict=True)},
                                   sort_keys=True),
        census_rule=str(censuses[0].attrs["start_attractor_rule"]),
    )


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
    lines += long_run_lines(an)
    ctx = [str(c) for c in an["context"].values]
    if len(ctx) > 1:
        lines.append("")
        lines.append("context vs context (free-running rates): Procrustes / CCA / DSA")
        for a, b in itertools.combinations(ctx, 2):
            p = an.sel(context=a, other_context=b)
            lines.append(f"  {a} vs {b}: {f(p['procrustes_distance'])} / "
                         f"{f(p['cca_similarity'])} / {f(p['dsa_distance'])}")
    lines += _census_lines(an) + _fixed_point_lines(an) + coefficient_lines(an)
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
    """Read an ``analysis.nc``; refuses files of an analysis schema version not in
    ``SUPPORTED_ANALYSIS_SCHEMA_VERSIONS`` (version 1 files load without the census)."""
    from pathlib import Path

    from .._errors import DataError, SchemaError

    path = Path(path)
    if not path.exists():
        raise DataError(f"analysis file not found: {path}")
    with xr.open_dataset(path, engine="h5netcdf") as f:
        an = f.load()
    version = an.attrs.get("analysis_schema_version")
    if version is None or int(version) not in SUPPORTED_ANALYSIS_SCHEMA_VERSIONS:
        raise SchemaError(f"{path}: analysis schema version {version!r} is not supported "
                          f"(this brainbias reads {SUPPORTED_ANALYSIS_SCHEMA_VERSIONS}).")
    return an
