"""Attractor census of a map: where long free runs from many starts end up, and what is there.

:func:`census` runs the map ``x[t+1] = F(x[t])`` from every start until the runs settle, then
accounts for every end point — it converges to a stable fixed point, lies on a limit cycle, or the
census says plainly that it found neither:

1. **Free runs** (all starts at once, one compiled kernel) in blocks of ``chunk_steps``,
   ``2·chunk_steps``, ``4·chunk_steps``, … A run has *settled* when it is at rest (step length
   ``‖F(x) − x‖ ≤ rest_speed``) or when its mean step length over the latest block differs by at
   most ``settle_tolerance`` (relative) from the block before: its statistics stopped changing.
   Blocks double, so they span ever more of the slowest oscillation and transient. Runs last at
   least ``min_steps`` and at most ``max_steps`` steps (exactly ``n_steps`` when given); one that
   did not settle is flagged (``start_settled``).
2. **Fixed points.** The damped Newton polish of
   :func:`~brainbias.analysis.fixed_points.find_fixed_points` runs from the end points of the
   runs that slowed down: last step length at most ``newton_slowdown`` × the mean of their
   first block, or the second half of their final block slower than its first half by that
   fraction (still decelerating), or at rest. Runs on a cycle or a chaotic attractor keep their
   speed and are not polished: the dense Newton step costs ~N³ (at N = 300 it took 45 of the
   58 s of a chaotic census). Ends at one fixed point are polished once. Points with
   ``q < q_tolerance`` are deduplicated (``unique_tolerance``) and linearised
   (:func:`~brainbias.analysis.linearisation.linearise`: classification and time scales). An end
   within ``capture_distance`` of a linearly stable (or marginal) one is at that fixed point.
3. **Limit cycles.** The other runs go on for a tail of ``(n_check_periods + 1) ·
   max_period_steps`` steps, recording the distance ``d(t)`` to their own end point. The first
   local minimum of ``d`` below ``return_tolerance`` × the tail's diameter (plus half its longest
   step, the most a whole-step sampling can miss a return by) after ``d`` has risen to half that
   diameter is a candidate period; the later returns refine it to a fractional period ``T``
   (vertex of a parabola through ``d²`` at each). It is accepted when the orbit repeats: over at
   least ``n_check_periods`` periods and ``min_check_steps`` steps, every state lies within
   ``return_tolerance`` × the orbit's diameter (plus the error bound of cubic interpolation
   between steps, 0.0234·max‖Δ⁴x‖) of the state ``T`` later, and the diameter of the last
   period is within the same tolerance of the first (a decaying focus shrinks; a cycle does
   not). Later ends on an accepted cycle (within the same tolerance of one of its points, and
   a return after the same period ± 1 step) join it. **Floquet multipliers** are the
   eigenvalues of the monodromy matrix ``M = J(x[p−1]) ⋯ J(x[0])`` over ``p = round(T)`` steps
   (Jacobian-vector products along the orbit): all of them for up to ``dense_floquet_limit``
   units, else the ``n_floquet`` largest by subspace iteration with a Rayleigh–Ritz step. One is
   ≈ 1 (along the cycle); the others are the contraction per period of perturbations across
   it. They are exact when ``T`` is a whole number of steps; otherwise ``p`` misses a period by
   ``|p − T|`` steps and the multipliers are off by about ``|p − T| / T``.
4. **Slow approach.** Runs whose Newton point is stable but still farther than
   ``capture_distance`` from it continue for ``verify_time_scales`` slowest time constants of
   that point (``1 / (−log ρ)`` steps, ``ρ`` its largest ``|λ|``; at least ``chunk_steps``, at
   most ``max_steps``). They converge to it when the largest distance over the last quarter of
   that run is at most half the largest over the first quarter.
5. What is left is **unresolved**. The largest Lyapunov exponent (QR method, ``lyapunov_steps``)
   of up to ``n_lyapunov`` such ends is the evidence: ``"chaotic"`` when ``λ·dt >
   lyapunov_tolerance``, ``"quasi_periodic"`` when ``|λ·dt| ≤ lyapunov_tolerance`` (an invariant
   torus, or a cycle longer than ``max_period_steps``), else ``"unresolved"``. Runs that became
   non-finite are ``"diverged"``; a run at rest on an unstable fixed point (a start on its stable
   manifold, e.g. exactly at a symmetric saddle) is ``"unstable_fixed_point"``.

Time conventions: ``dt`` is the time per step of the map. Fixed-point rates use the exact
continuous-time eigenvalue ``log(λ) / dt`` of the slowest (largest ``|λ|``) mode.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .._errors import ConfigError, did_you_mean
from ._census_phases import (
    _approach_phase,
    _cycle_phase,
    _free_runs,
    _newton,
    _unresolved_phase,
)
from ._fixed_points_checks import (
    _check_count,
    _check_key,
    _check_positive,
    _check_states,
    _check_step_fn,
    _working_dtype,
)
from ._fixed_points_solvers import _AsInputDtype
from .linearisation import linearise

__all__ = ["census", "census_summary", "ATTRACTOR_KINDS", "START_OUTCOMES", "CENSUS_OPTIONS"]

ATTRACTOR_KINDS = ("stable_node", "stable_focus", "marginal_fixed_point", "limit_cycle",
                   "unresolved")
START_OUTCOMES = ("fixed_point", "limit_cycle", "chaotic", "quasi_periodic", "unresolved",
                  "diverged", "unstable_fixed_point")
_UNRESOLVED = ("chaotic", "quasi_periodic", "unresolved")

#: option → (default, minimum for integers / None for positive floats / "bool")
CENSUS_OPTIONS = {
    "min_steps": (1000, 1),
    "chunk_steps": (500, 1),
    "settle_tolerance": (0.02, None),
    "rest_speed": (1e-8, None),
    "newton_iterations": (40, 0),
    "newton_slowdown": (0.1, None),
    "q_tolerance": (1e-12, None),
    "unique_tolerance": (1e-3, None),
    "capture_distance": (1e-4, None),
    "verify_time_scales": (5.0, None),
    "max_period_steps": (1000, 2),
    "return_tolerance": (0.01, None),
    "n_check_periods": (3, 1),
    "min_check_steps": (100, 1),
    "lyapunov_steps": (2000, 1),
    "n_lyapunov": (4, 0),
    "lyapunov_tolerance": (1e-3, None),
    "dense_floquet_limit": (512, 1),
    "n_floquet": (6, 1),
    "floquet_iterations": (10, 1),
    "store_orbits": (True, "bool"),
}


def _options(options):
    unknown = sorted(set(options) - set(CENSUS_OPTIONS))
    if unknown:
        raise ConfigError(f"census: unknown option {unknown[0]!r}; the options are "
                          f"{sorted(CENSUS_OPTIONS)}." + did_you_mean(unknown[0], CENSUS_OPTIONS))
    out = {}
    for name, (default, minimum) in CENSUS_OPTIONS.items():
        value = options.get(name, default)
        if minimum == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigError(f"census: {name}: expected True or False, got {value!r}.")
            out[name] = bool(value)
        elif minimum is None:
            out[name] = _check_positive(f"census: {name}", value)
            if name == "newton_slowdown" and out[name] >= 1:
                raise ConfigError(f"census: newton_slowdown: expected a fraction in (0, 1), "
                                  f"got {value!r}.")
        else:
            out[name] = _check_count(f"census: {name}", value, minimum=minimum)
    return out


def _fixed_point_records(lin, points, members, dt):
    """One attractor record per stable (or marginal) fixed point that some end converged to."""
    records = []
    for j, starts in members.items():
        d = lin.isel(fixed_point=j)
        mode = int(d["dominant_mode"])
        kind = {"stable_node": "stable_node", "stable_focus": "stable_focus"}.get(
            str(d["classification"].values), "marginal_fixed_point")
        records.append({
            "kind": kind, "state": points[j], "period_steps": np.nan,
            "frequency": float(d["oscillation_frequency"]),
            "decay_rate": float(d["decay_rate"]),
            "slowest": complex(float(d["eigenvalue_real"][mode]),
                               float(d["eigenvalue_imag"][mode])),
            "starts": starts})
    return records


def _records(lin, points, fp_of, cycles, cycle_of, outcome, lyap, ends, dt):
    """Attractor records, resolved ones by decreasing number of starts, unresolved last."""
    members = {}
    for i, j in enumerate(fp_of):
        if j >= 0:
            members.setdefault(int(j), []).append(i)
    records = _fixed_point_records(lin, points, members, dt) if members else []
    for j, c in enumerate(cycles):
        period = c["period"]
        records.append({"kind": "limit_cycle", "state": c["orbit"][0], "period_steps": period,
                        "frequency": 1.0 / (period * dt), "decay_rate": np.nan,
                        "floquet": c["floquet"], "orbit": c["orbit"],
                        "starts": list(np.flatnonzero(cycle_of == j))})
    records.sort(key=lambda r: -len(r["starts"]))
    loose = [i for i, out in enumerate(outcome) if out in _UNRESOLVED]
    if loose:
        records.append({"kind": "unresolved", "state": ends[loose[0]], "period_steps": np.nan,
                        "frequency": np.nan, "decay_rate": np.nan,
                        "lyapunov": float(np.nanmax(lyap[loose])) if np.isfinite(
                            lyap[loose]).any() else np.nan, "starts": loose})
    return records


def _dataset(records, starts, unit_count, dt):
    """The census Dataset from attractor records and per-start arrays."""
    n_attr = len(records)
    index = np.full(len(starts["outcome"]), -1)
    for a, r in enumerate(records):
        if r["kind"] != "unresolved":
            index[r["starts"]] = a
    n_mult = max([len(r.get("floquet", ())) for r in records] + [0])
    n_orbit = max([len(r.get("orbit", ())) for r in records] + [0])
    floquet = np.full((n_attr, n_mult), np.nan + 0j)
    orbit = np.full((n_attr, n_orbit, unit_count), np.nan)
    for a, r in enumerate(records):
        if "floquet" in r:
            floquet[a, : len(r["floquet"])] = r["floquet"]
        if "orbit" in r:
            orbit[a, : len(r["orbit"])] = r["orbit"]
    column = lambda name, fill=np.nan: np.array([r.get(name, fill) for r in records])  # noqa: E731
    period_steps = column("period_steps").astype(float).reshape(n_attr)
    data = {
        "attractor_kind": (("attractor",), np.array([r["kind"] for r in records], dtype=str)
                           .reshape(n_attr)),
        "attractor_state": (("attractor", "unit"),
                            np.array([r["state"] for r in records]).reshape(n_attr, unit_count)),
        "attractor_period": (("attractor",), period_steps * dt),
        "attractor_period_steps": (("attractor",), period_steps),
        "attractor_frequency": (("attractor",), column("frequency").astype(float).reshape(n_attr)),
        "attractor_decay_rate": (("attractor",),
                                 column("decay_rate").astype(float).reshape(n_attr)),
        "attractor_slowest_eigenvalue": (("attractor",), column("slowest", np.nan + 0j)
                                         .astype(complex).reshape(n_attr)),
        "attractor_n_starts": (("attractor",),
                               np.array([len(r["starts"]) for r in records], dtype=np.int64)),
        "attractor_lyapunov_exponent": (("attractor",),
                                        column("lyapunov").astype(float).reshape(n_attr)),
        "floquet_multipliers": (("attractor", "floquet_mode"), floquet),
        "attractor_orbit": (("attractor", "orbit_step", "unit"), orbit),
        "start_attractor": (("start",), index.astype(np.int64)),
        "start_outcome": (("start",), np.asarray(starts["outcome"], dtype=str)),
        "start_settled": (("start",), starts["settled"]),
        "start_end_state": (("start", "unit"), starts["ends"]),
        "start_end_speed": (("start",), starts["speed"] / dt),
        "start_lyapunov_exponent": (("start",), starts["lyapunov"]),
    }
    return xr.Dataset(data, coords={"attractor": np.arange(n_attr),
                                    "start": np.arange(len(index))})


def census(step_fn, initial_states, *, dt, key, n_steps=None, max_steps=20_000, **options):
    """Attractor census: long free runs from every start, and what each one ends on.

    The method (free runs until settled, Newton from the end points, limit-cycle detection with
    Floquet multipliers, slow approach, Lyapunov evidence for the rest) is described in the
    module docstring; every end point is accounted for in ``start_attractor`` and
    ``start_outcome``.

    Parameters
    ----------
    step_fn : callable, (unit,) → (unit,)
        The map ``F`` (e.g. :func:`brainbias.models.base.autonomous_map` or
        :func:`brainbias.analysis.report.context_step_function`); a pure, hashable JAX function
        (it is a static argument of the compiled runs: pass the same object to reuse them).
    initial_states : array (start, unit)
        Where the free runs start (e.g. samples of stored trajectories and random states).
    dt : float
        Time per step of the map (for periods, frequencies and rates per unit time).
    key : jax.random key
        For the Lyapunov tangent bases and the Floquet subspace iteration.
    n_steps : int, optional
        Run exactly this many steps (no settling test decides the length; ``start_settled`` is
        still reported). Default: adaptive, ``min_steps`` … ``max_steps``.
    max_steps : int
        Longest adaptive free run, and longest slow-approach check, in steps.
    **options
        ``CENSUS_OPTIONS`` (name: default): ``min_steps`` 1000, ``chunk_steps`` 500 (steps per
        compiled call; the first block), ``settle_tolerance`` 0.02, ``rest_speed`` 1e-8 (state
        units per step), ``newton_iterations`` 40, ``newton_slowdown`` 0.1,
        ``q_tolerance`` 1e-12 (½·sum convention),
        ``unique_tolerance`` 1e-3, ``capture_distance`` 1e-4 (state units),
        ``verify_time_scales`` 5, ``max_period_steps`` 1000, ``return_tolerance`` 0.01,
        ``n_check_periods`` 3, ``min_check_steps`` 100, ``lyapunov_steps`` 2000,
        ``n_lyapunov`` 4, ``lyapunov_tolerance`` 1e-3 (per step), ``dense_floquet_limit`` 512,
        ``n_floquet`` 6, ``floquet_iterations`` 10, ``store_orbits`` True. Their roles: module
        docstring.

    Returns
    -------
    xarray.Dataset
        Dimensions ``attractor``, ``start``, ``unit``, ``floquet_mode``, ``orbit_step``.
        Resolved attractors come first, by decreasing number of starts; when some starts are
        unresolved a last row of kind ``"unresolved"`` summarises them.

        - ``attractor_kind`` (attractor): one of ``ATTRACTOR_KINDS`` — ``"stable_node"``,
          ``"stable_focus"`` (the slowest mode is real / complex), ``"marginal_fixed_point"``
          (no mode unstable, one with ``|λ| = 1``, e.g. on a line attractor),
          ``"limit_cycle"``, ``"unresolved"``;
        - ``attractor_state`` (attractor, unit): the fixed point; for a cycle a point on it
          (the end of the run that detected it); for ``"unresolved"`` one such end;
        - ``attractor_period`` (attractor): the cycle's period in units of ``dt``'s time, NaN
          otherwise; ``attractor_period_steps``: the same in steps of the map (fractional);
        - ``attractor_frequency`` (attractor): cycles per unit time — ``1 / period`` for a
          cycle, ``|Im log λ| / (2π dt)`` of the slowest mode for a focus, NaN for a node;
        - ``attractor_decay_rate`` (attractor): ``−Re log(λ) / dt`` of the slowest mode of a
          fixed point (its approach rate, 1/time), NaN otherwise;
        - ``attractor_slowest_eigenvalue`` (attractor): that mode's map eigenvalue λ
          (complex, per step), NaN otherwise;
        - ``floquet_multipliers`` (attractor, floquet_mode): complex, largest modulus first,
          NaN for fixed points and unresolved rows (and padding);
        - ``attractor_orbit`` (attractor, orbit_step, unit): one period of a cycle (whole steps
          from ``attractor_state``), NaN otherwise (empty when ``store_orbits=False``);
        - ``attractor_n_starts`` (attractor): how many ends it accounts for;
        - ``attractor_lyapunov_exponent`` (attractor): for the unresolved row the largest of
          the exponents computed (1/time), NaN otherwise;
        - ``start_attractor`` (start): index into ``attractor``, or −1 when the end reached no
          resolved attractor (``start_outcome`` says what it found instead);
        - ``start_outcome`` (start): one of ``START_OUTCOMES``;
        - ``start_settled`` (start): the free run settled before it ended;
        - ``start_end_state`` (start, unit), ``start_end_speed`` (start): the free run's end
          and its speed there, ``‖F(x) − x‖ / dt``;
        - ``start_lyapunov_exponent`` (start): 1/time, for up to ``n_lyapunov`` unresolved
          starts, NaN elsewhere.

        Attributes: ``dt``, ``n_steps_run`` (free-run length), ``n_unsettled``,
        ``n_unresolved``, ``n_diverged``, the options (JSON), the rules, the key data.

    Raises
    ------
    DataError
        ``initial_states`` not (start, unit), empty, complex or non-finite.
    ConfigError
        ``step_fn`` not a (unit,) → (unit,) callable; non-positive ``dt``, ``n_steps`` or
        ``max_steps``; no key; an unknown or invalid option (with a suggestion).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from brainbias.analysis.census import census
    >>> c = census(lambda x: 0.9 * x + 0.1, jnp.ones((4, 2)) * 5, dt=0.1,
    ...            key=jax.random.PRNGKey(0))
    >>> c["attractor_kind"].values.tolist(), c["attractor_n_starts"].values.tolist()
    (['stable_node'], [4])
    >>> round(float(c["attractor_decay_rate"][0]), 4)  # −log(0.9) / dt
    1.0536
    """
    o = _options(options)
    dt = _check_positive("census: dt", dt)
    key_data = _check_key(key)
    max_steps = _check_count("census: max_steps", max_steps, minimum=1)
    if n_steps is not None:
        n_steps = _check_count("census: n_steps", n_steps, minimum=1)
    dtype = _working_dtype()
    x0 = _check_states(initial_states, dtype)
    _check_step_fn(step_fn, x0.shape[1], dtype)
    f = _AsInputDtype(step_fn)
    k_cycle, k_lyap = jax.random.split(jnp.asarray(key))

    ends, settled, speed, n_run, slowed = _free_runs(f, x0, n_steps, max_steps, o)
    finite = np.all(np.isfinite(ends), axis=1)
    safe = np.where(finite[:, None], ends, 0.0)
    slowed &= finite
    slowed |= finite & (speed <= o["rest_speed"])
    points, owner, distance = _newton(f, safe, slowed, o, dtype)
    lin = linearise(step_fn, points, dt=dt, eigenvectors=False) if len(points) else None
    stable = np.zeros(len(points), bool) if lin is None else np.isin(
        lin["classification"].values, ("stable_node", "stable_focus", "marginal"))
    owned_stable = (owner >= 0) & stable[np.maximum(owner, 0)] if len(points) else owner >= 0

    outcome = np.where(finite, "", "diverged").astype(object)
    fp_of = np.where(owned_stable & (distance <= o["capture_distance"]), owner, -1)
    outcome[fp_of >= 0] = "fixed_point"
    at_rest_unstable = finite & (owner >= 0) & ~owned_stable & (speed <= o["rest_speed"])
    outcome[at_rest_unstable] = "unstable_fixed_point"

    cycles, cycle_of = _cycle_phase(f, safe, outcome == "", o, k_cycle)
    outcome[cycle_of >= 0] = "limit_cycle"
    if not o["store_orbits"]:
        for c in cycles:
            c["orbit"] = c["orbit"][:0]
    rho = np.zeros(0) if lin is None else np.hypot(lin["eigenvalue_real"].values,
                                                   lin["eigenvalue_imag"].values).max(axis=1)
    approach = _approach_phase(f, safe, (outcome == "") & owned_stable, points, owner, rho, o,
                               max_steps)
    fp_of[approach] = owner[approach]
    outcome[approach] = "fixed_point"
    labels, lyap = _unresolved_phase(f, safe, outcome == "", o, dt, k_lyap)
    outcome[outcome == ""] = labels[outcome == ""]

    records = _records(lin, points, fp_of, cycles, cycle_of, outcome, lyap, safe, dt)
    out = _dataset(records, {"outcome": outcome, "settled": settled, "ends": ends,
                             "speed": speed, "lyapunov": lyap}, x0.shape[1], dt)
    out.attrs.update(
        dt=dt, n_steps_run=int(n_run), max_steps=int(max_steps),
        adaptive=int(n_steps is None),
        n_unsettled=int(np.count_nonzero(finite & ~settled)),
        n_unresolved=int(np.count_nonzero(np.isin(outcome, _UNRESOLVED))),
        n_diverged=int(np.count_nonzero(~finite)),
        n_unstable_fixed_point=int(np.count_nonzero(outcome == "unstable_fixed_point")),
        options=json.dumps(o, sort_keys=True),
        settle_rule=("at rest (step length <= rest_speed) or block-mean step length changed by "
                     "<= settle_tolerance (relative) between doubling blocks, after min_steps"),
        time_convention="map x[t+1] = F(x[t]); rates and frequencies per unit time of dt; "
                        "fixed points: continuous-time eigenvalue log(lambda)/dt",
        start_attractor_rule="index into attractor; -1: no resolved attractor (see "
                             "start_outcome), summarised by the 'unresolved' row",
        key_data=key_data.astype(np.int64).ravel(),
    )
    return out


_KIND_WORDS = {"stable_node": "stable node", "stable_focus": "stable focus",
               "marginal_fixed_point": "marginal fixed point", "limit_cycle": "limit cycle"}


def _describe(row, moduli):
    """One attractor row in words: kind and time scales (units of dt's time, written s)."""
    kind = str(row["attractor_kind"].values)
    words = _KIND_WORDS.get(kind, kind)
    freq, decay = float(row["attractor_frequency"]), float(row["attractor_decay_rate"])
    if kind == "limit_cycle":
        transverse = [m for m in moduli if np.isfinite(m)][1:2]
        extra = f"; next Floquet |μ| {transverse[0]:.3g}" if transverse else ""
        return (f"{words} period {float(row['attractor_period']):.4g} s "
                f"({float(row['attractor_period_steps']):.1f} steps{extra})")
    if kind == "stable_focus":
        return f"{words} ({freq:.4g} Hz, decay {decay:.4g} /s)"
    return f"{words} (decay {decay:.4g} /s)"


def census_summary(cen: xr.Dataset, *, label: str = "census", n_steps=None) -> str:
    """The census in words, e.g. ``"context a: 2 attractors: stable node (decay 12.3 /s)
    reached by 60/64 runs, limit cycle period 0.32 s (…) reached by 4/64"``.

    Accepts a :func:`census` Dataset or one context's slice of an analysis Dataset (complex
    values split into ``_real``/``_imag``). Times are in the units of ``dt`` (written "s").
    Unresolved and diverged runs and runs that did not settle (within ``n_steps``, default the
    census's ``n_steps_run``) are said plainly.
    """
    n = cen.sizes["start"]
    if "floquet_multipliers" in cen:
        moduli = np.abs(cen["floquet_multipliers"].values)
    else:
        moduli = np.hypot(cen["floquet_multiplier_real"].values,
                          cen["floquet_multiplier_imag"].values)
    kinds = cen["attractor_kind"].values
    resolved = [a for a in range(len(kinds)) if kinds[a] != "unresolved"]
    parts = [f"{_describe(cen.isel(attractor=a), moduli[a])} reached by "
             f"{int(cen['attractor_n_starts'][a])}/{n}" + (" runs" if i == 0 else "")
             for i, a in enumerate(resolved)]
    if resolved:
        text = (f"{label}: {len(resolved)} attractor{'s' if len(resolved) > 1 else ''}: "
                + ", ".join(parts))
    else:
        # chaotic or quasi-periodic runs are attractors too, just not ones the census resolves
        text = f"{label}: NO fixed point or cycle found"
    outcome = cen["start_outcome"].values
    loose = np.isin(outcome, _UNRESOLVED)
    if loose.any():
        labels, counts = np.unique(outcome[loose], return_counts=True)
        lyap = cen["start_lyapunov_exponent"].values[loose]
        evidence = (f"; largest Lyapunov exponent {np.nanmax(lyap):.3g} /s over "
                    f"{int(np.isfinite(lyap).sum())} of them" if np.isfinite(lyap).any()
                    else "; no Lyapunov exponent computed")
        text += (f"; {int(loose.sum())}/{n} runs reached neither a fixed point nor a cycle ("
                 + ", ".join(f"{lab.replace('_', '-')} {k}" for lab, k in
                             zip(labels, counts, strict=True)) + evidence + ")")
    for what, name in (("diverged", "diverged"),
                       ("unstable_fixed_point", "stopped on an unstable fixed point")):
        k = int(np.count_nonzero(outcome == what))
        if k:
            text += f"; {k}/{n} runs {name}"
    unsettled = int(np.count_nonzero(~cen["start_settled"].values.astype(bool)
                                     & (outcome != "diverged")))
    if unsettled:
        n_steps = cen.attrs.get("n_steps_run") if n_steps is None else n_steps
        text += f"; {unsettled}/{n} runs did not settle within {n_steps} steps"
    return text
