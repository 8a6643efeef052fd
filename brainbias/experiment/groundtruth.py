"""Compare a fitted recording run with the teacher network that made the recording.

The shipped ground-truth recordings (``datasets/README.md``) come with a *teacher file*
(``.npz``): the teacher's weights, its tonic input per condition, its ``dt`` and ``tau``, and the
state its trials start from. For every condition the same measurement is made on both
networks — :func:`brainbias.analysis.census.census` of the condition's map from where the
condition's trajectory starts — and the attractor that start reaches is compared:

* the **kind** (``stable_node``, ``stable_focus``, ``limit_cycle`` or ``unresolved``);
* the **period** (s) of a limit cycle and the **frequency** (Hz) of a cycle (1 / period) or of
  a focus (``|Im log λ| / 2π dt`` of its slowest mode);
* the **decay rate** (1/s): ``−Re log λ / dt`` of a fixed point's slowest mode; for a limit
  cycle the slowest transverse Floquet exponent ``−ln |μ₂| / period`` (``μ₁ ≈ 1`` is the
  flow direction; ``μ₂`` the next largest in modulus).

Both censuses run for the same time in seconds (:data:`CENSUS_TIMES`), not the same number
of steps. Where the teacher's trajectory starts: ``baseline_fixed_point`` (the state before stimulus
onset) if the teacher file has it, else the mean of ``trial_initial_state``. Where the fitted
network's starts: its trained initial state of that condition. Both maps are Euler steps of
their own ``dt`` (1 ms for the teacher, the bin size for the fit); the census reports rates per
second from each map's own eigenvalues, so the two are compared in the same units.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from .._errors import ConfigError, DataError

__all__ = [
    "GOALS",
    "load_teacher",
    "CENSUS_TIMES",
    "census_options",
    "attractor_of",
    "teacher_attractors",
    "model_attractors",
    "compare_run_with_teacher",
    "comparison_table",
    "goals_met",
]

#: how long the census runs, in seconds of each map's own time (the same for teacher and fit):
#: a fitted cycle can attract slowly (transverse Floquet multiplier 0.8 per period: ~100 s to
#: settle), which the census's step-count defaults (1000 steps = 10 s at 10 ms) do not cover
CENSUS_TIMES = {"min_steps": 200.0, "max_steps": 400.0, "max_period_steps": 2.0}

#: the issue-8 bars: relative error of periods and frequencies, ratio of decay rates (fixed
#: points); kinds must agree
GOALS = {"period": 0.10, "frequency": 0.10, "decay_rate": 1.5}
_REQUIRED = ("recurrent_weights", "condition_bias", "conditions", "dt", "tau")
_FIELDS = ("kind", "period", "frequency", "decay_rate")


def load_teacher(path) -> dict:
    """Read a teacher file (``.npz``, no pickles) and check it has what a comparison needs.

    Returns
    -------
    dict
        Arrays by name; ``conditions`` as a tuple of str, ``dt`` and ``tau`` as floats.

    Raises
    ------
    DataError
        A missing or unreadable file, or one without ``recurrent_weights``, ``condition_bias``,
        ``conditions``, ``dt`` and ``tau``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"teacher file not found: {path}. The shipped ones are "
                        "datasets/*_teacher.npz (datasets/README.md).")
    try:
        with np.load(path, allow_pickle=False) as f:
            teacher = {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable .npz teacher file ({exc}).") from None
    missing = [k for k in _REQUIRED if k not in teacher]
    if missing:
        raise DataError(f"teacher file {path} lacks {missing}; a teacher file holds "
                        f"{list(_REQUIRED)} (see datasets/make_ground_truth_timescales.py).")
    teacher["conditions"] = tuple(str(c) for c in teacher["conditions"])
    teacher["dt"], teacher["tau"] = float(teacher["dt"]), float(teacher["tau"])
    teacher["source"] = str(path)
    return teacher


def census_options(dt: float) -> dict:
    """:data:`CENSUS_TIMES` in steps of a map with time step ``dt``."""
    return {name: int(np.ceil(seconds / dt)) for name, seconds in CENSUS_TIMES.items()}


def attractor_of(step_fn, start, *, dt, key, **census_options) -> dict:
    """Kind, period, frequency and decay rate of the attractor a free run from ``start`` reaches.

    Parameters
    ----------
    step_fn : callable, (unit,) → (unit,)
        The map (one Euler step).
    start : array, shape (unit,)
    dt : float
        Seconds per step.
    key : jax.random key
    **census_options
        Passed to :func:`~brainbias.analysis.census.census`.

    Returns
    -------
    dict
        ``kind`` (str), ``period`` (s), ``frequency`` (Hz), ``decay_rate`` (1/s; for a cycle
        the slowest transverse Floquet exponent), ``state`` (unit,) and ``outcome`` (the
        census's word for the start).
    """
    import jax.numpy as jnp

    from ..analysis.census import census

    c = census(step_fn, jnp.asarray(start)[None], dt=dt, key=key, **census_options)
    a = int(c["start_attractor"][0])
    out = {"outcome": str(c["start_outcome"][0].values)}
    if a < 0:
        return {**out, "kind": "unresolved", "period": np.nan, "frequency": np.nan,
                "decay_rate": np.nan, "state": np.asarray(c["start_end_state"][0])}
    d = c.isel(attractor=a)
    kind = str(d["attractor_kind"].values)
    decay = float(d["attractor_decay_rate"])
    if kind == "limit_cycle":
        mu = d["floquet_multipliers"].values
        mu = mu[np.isfinite(mu)]
        decay = (float(-np.log(np.abs(mu[1])) / float(d["attractor_period"]))
                 if len(mu) > 1 and np.abs(mu[1]) > 0 else np.nan)
    return {**out, "kind": kind, "period": float(d["attractor_period"]),
            "frequency": float(d["attractor_frequency"]), "decay_rate": decay,
            "state": np.asarray(d["attractor_state"])}


def _teacher_network(teacher):
    import jax.numpy as jnp

    from ..models.rate import Network

    w = jnp.asarray(teacher["recurrent_weights"], jnp.float64)
    n = w.shape[0]
    c = jnp.asarray(teacher.get("readout_weights", np.zeros((1, n))), jnp.float64)
    return Network(recurrent_weights=w, input_weights=jnp.zeros((n, 0)),
                   feedback_weights=jnp.zeros((n, c.shape[0])), readout_weights=c,
                   dt=teacher["dt"], tau=teacher["tau"]).validate()


def _teacher_start(teacher):
    if "baseline_fixed_point" in teacher:
        return np.asarray(teacher["baseline_fixed_point"], dtype=float)
    if "trial_initial_state" in teacher:
        return np.asarray(teacher["trial_initial_state"], dtype=float).mean(axis=0)
    raise DataError("teacher file: needs baseline_fixed_point or trial_initial_state (where "
                    "the trials start) to know which attractor a condition's trials reach.")


def teacher_attractors(teacher, conditions=None, *, key) -> dict:
    """:func:`attractor_of` for each condition of a teacher (dict from :func:`load_teacher`).

    Raises
    ------
    ConfigError
        A condition the teacher does not have.
    """
    import jax
    import jax.numpy as jnp

    from ..models.base import autonomous_map

    names = teacher["conditions"]
    conditions = names if conditions is None else tuple(conditions)
    unknown = [c for c in conditions if c not in names]
    if unknown:
        raise ConfigError(f"teacher: no conditions {unknown} in {teacher.get('source', '')}; "
                          f"it has {list(names)}.")
    network, start = _teacher_network(teacher), _teacher_start(teacher)
    out = {}
    for name, k in zip(conditions, jax.random.split(key, len(conditions)), strict=True):
        bias = jnp.asarray(teacher["condition_bias"][names.index(name)], jnp.float64)
        out[name] = attractor_of(autonomous_map(network, bias), start, dt=teacher["dt"], key=k,
                                 **census_options(teacher["dt"]))
    return out


def model_attractors(ds, *, key) -> dict:
    """:func:`attractor_of` for each context of a results Dataset, from its trained initial
    state, with the fitted network (and trained τ or readout, if any) rebuilt from ``ds``."""
    import jax
    import jax.numpy as jnp

    from .. import results
    from ..models.base import autonomous_map
    from ..training.control import effective_leak, effective_readout

    network = results.network_from_dataset(ds)
    controller = results.controller_from_dataset(ds)
    closed = ds.attrs["run_mode"] == "closed_loop"
    mask = ds["output_mask"].values
    out = {}
    names = list(controller.contexts)
    for c, (name, k) in enumerate(zip(names, jax.random.split(key, len(names)), strict=True)):
        f = autonomous_map(network, controller.bias[c], closed_loop=closed,
                           readout=effective_readout(network, controller),
                           output_mask=jnp.asarray(mask[c]) if closed else None,
                           leak=effective_leak(network, controller))
        out[name] = attractor_of(f, controller.initial_state[c], dt=network.dt, key=k,
                                 **census_options(network.dt))
    return out


def compare_run_with_teacher(ds, teacher, *, key):
    """Per-condition attractor of a fitted run next to the teacher's.

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset (its contexts must be conditions of the teacher).
    teacher : dict or path
        From :func:`load_teacher`, or the path of a teacher file.
    key : jax.random key

    Returns
    -------
    xarray.Dataset
        Dims (context,): ``teacher_attractor_<x>`` and ``model_attractor_<x>`` for x in kind,
        period (s), frequency (Hz), decay_rate (1/s)
        (:data:`brainbias.results.TEACHER_COMPARISON_VARIABLES`); attributes ``source``,
        ``tau`` and ``dt`` of the teacher and the rules. Attach it to the run with
        :func:`brainbias.results.with_teacher_comparison`.

    Raises
    ------
    ConfigError, DataError
        Contexts the teacher does not have; an unreadable teacher file.
    """
    import jax
    import xarray as xr

    if not isinstance(teacher, dict):
        teacher = load_teacher(teacher)
    contexts = [str(c) for c in ds["context"].values]
    k_teacher, k_model = jax.random.split(key)
    truth = teacher_attractors(teacher, contexts, key=k_teacher)
    model = model_attractors(ds, key=k_model)
    data = {}
    for who, found in (("teacher", truth), ("model", model)):
        for what in _FIELDS:
            values = [found[c][what] for c in contexts]
            data[f"{who}_attractor_{what}"] = (("context",), np.array(
                values, dtype=object if what == "kind" else float))
    cmp = xr.Dataset(data, coords={"context": contexts})
    for what, unit in zip(_FIELDS, ("", "s", "Hz", "1/s"), strict=True):
        for who in ("teacher", "model"):
            cmp[f"{who}_attractor_{what}"].attrs["units"] = unit
    cmp.attrs.update(source=teacher.get("source", ""), tau=teacher["tau"], dt=teacher["dt"],
                     comparison_rule=(
                         "census of each condition's map from where its trajectory starts (teacher"
                         ": baseline state; model: trained initial state); decay rate of a cycle"
                         " = -ln|mu_2|/period (slowest transverse Floquet multiplier)"))
    return cmp


def goals_met(ds) -> dict:
    """Per context, which issue-8 bars a comparison meets (:data:`GOALS`).

    Returns
    -------
    dict
        context → {"kind": bool, "period": bool or None, "frequency": bool or None,
        "decay_rate": bool or None}; None where the bar does not apply (no period for a fixed
        point, no frequency for a node, the decay-rate bar for fixed points only).
    """
    out = {}
    for c in ds["context"].values:
        d = ds.sel(context=c)
        t = {w: d[f"teacher_attractor_{w}"].values.item() for w in _FIELDS}
        m = {w: d[f"model_attractor_{w}"].values.item() for w in _FIELDS}
        row = {"kind": t["kind"] == m["kind"]}
        for w in ("period", "frequency"):
            row[w] = None if not np.isfinite(t[w]) else bool(
                np.isfinite(m[w]) and abs(m[w] / t[w] - 1) <= GOALS[w])
        fixed_point = t["kind"] in ("stable_node", "stable_focus")
        ratio = m["decay_rate"] / t["decay_rate"] if fixed_point else np.nan
        row["decay_rate"] = None if not fixed_point else bool(
            np.isfinite(ratio) and 1 / GOALS["decay_rate"] <= ratio <= GOALS["decay_rate"])
        out[str(c)] = row
    return out


def comparison_table(ds) -> str:
    """The comparison stored in a run (or returned by :func:`compare_run_with_teacher`) as text:
    per condition, teacher and model values, their ratio and whether the bar is met."""
    def f(v, spec):
        return "—" if not np.isfinite(v) else format(v, spec)

    goals = goals_met(ds)
    rows = [("condition", "kind (teacher / model)", "period s (t / m)", "freq Hz (t / m)",
             "decay 1/s (t / m)", "model/teacher: period, freq, decay")]
    for c in ds["context"].values:
        d = ds.sel(context=c)
        t = {w: d[f"teacher_attractor_{w}"].values.item() for w in _FIELDS}
        m = {w: d[f"model_attractor_{w}"].values.item() for w in _FIELDS}
        g = goals[str(c)]
        mark = lambda ok: "" if ok is None else (" ✓" if ok else " ✗")  # noqa: E731
        ratios = ", ".join(f(m[w] / t[w], ".2f") + mark(g[w])
                           for w in ("period", "frequency", "decay_rate"))
        rows.append((str(c), f"{t['kind']} / {m['kind']}" + mark(g["kind"]),
                     f"{f(t['period'], '.3f')} / {f(m['period'], '.3f')}",
                     f"{f(t['frequency'], '.2f')} / {f(m['frequency'], '.2f')}",
                     f"{f(t['decay_rate'], '.2f')} / {f(m['decay_rate'], '.2f')}", ratios))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    tau = ds.attrs.get("teacher_tau", ds.attrs.get("tau"))
    note = ("" if tau is None else f"teacher τ = {float(tau):g} s; ") + (
            "bars: kind equal, period and frequency within "
            f"{GOALS['period']:.0%}, decay rate of fixed points within a factor "
            f"{GOALS['decay_rate']:g} (a cycle's decay rate is its slowest transverse Floquet "
            "exponent, shown for information).")
    return "\n".join(lines) + "\n" + textwrap.fill(note, width=100)
