"""The phases of :func:`brainbias.analysis.census.census` (free runs, Newton from the ends,
limit cycles with Floquet multipliers, slow approach, Lyapunov evidence) and their compiled
kernels. The method is described in :mod:`brainbias.analysis.census`; ``o`` below is the
validated options dict of :data:`~brainbias.analysis.census.CENSUS_OPTIONS`.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import DataError
from ._fixed_points_solvers import (
    _ACCELERATOR_NEWTON_BATCH,
    _CPU_NEWTON_BATCH,
    _POLISH_MARGIN,
    _polish,
)
from .fixed_points import _deduplicate
from .lyapunov import lyapunov_exponent

# Cubic (4-point Lagrange) interpolation error bound: max|Π(t − t_i)|/4! = (9/16)/24 on [0, 1].
_CUBIC_ERROR = 9.0 / 16.0 / 24.0


# ----------------------------------------------------------------------------- compiled kernels


@functools.partial(jax.jit, static_argnames=("step_fn", "n_steps"))
def _advance(step_fn, x, ref, *, n_steps):
    """``n_steps`` of the map from every row of ``x``: the end states, and per step the step
    length ``‖x[t+1] − x[t]‖`` and the distance ``‖x[t+1] − ref‖`` (each (start, n_steps))."""

    def one(x, ref):
        def body(x, _):
            y = step_fn(x)
            return y, (jnp.linalg.norm(y - x), jnp.linalg.norm(y - ref))

        return jax.lax.scan(body, x, None, length=n_steps)

    x_end, (step, dist) = jax.vmap(one)(x, ref)
    return x_end, step, dist


@functools.partial(jax.jit, static_argnames=("step_fn", "n_steps"))
def _trajectory(step_fn, x, *, n_steps):
    """The next ``n_steps`` states (n_steps, unit) of one run."""
    def body(x, _):
        y = step_fn(x)
        return y, y

    return jax.lax.scan(body, x, None, length=n_steps)[1]


@functools.partial(jax.jit, static_argnames=("step_fn", "n_steps"))
def _monodromy(step_fn, x, q, *, n_steps):
    """``J(x[n−1]) ⋯ J(x[0]) q`` for the columns of ``q`` (unit, k), by forward-mode products."""

    def body(carry, _):
        x, q = carry
        y, push = jax.linearize(step_fn, x)
        return (y, jax.vmap(push, in_axes=1, out_axes=1)(q)), None

    return jax.lax.scan(body, (x, q), None, length=n_steps)[0][1]


def _run(f, x, ref, n_steps, chunk):
    """:func:`_advance` in chunks of ``chunk`` steps (one compilation); NumPy step and dist."""
    steps, dists, done = [], [], 0
    while done < n_steps:
        m = min(chunk, n_steps - done)
        x, step, dist = _advance(f, x, ref, n_steps=m)
        steps.append(np.asarray(step))
        dists.append(np.asarray(dist))
        done += m
    return x, np.concatenate(steps, axis=1), np.concatenate(dists, axis=1)


def _states(f, x, n_steps, chunk):
    """``n_steps + 1`` states of one run from ``x`` (in chunks: one compilation), NumPy."""
    out = [np.asarray(x)[None]]
    for _ in range(-(-n_steps // chunk)):
        out.append(np.asarray(_trajectory(f, x, n_steps=chunk)))
        x = jnp.asarray(out[-1][-1])
    return np.concatenate(out)[: n_steps + 1]


# ------------------------------------------------------------------------------- the phases


def _free_runs(f, x, n_steps, max_steps, o):
    """Phase 1: end states, settled flags, last step lengths, the steps run, and which runs
    slowed down: the last step is at most ``newton_slowdown`` × the first block's mean step
    length, or the final block's second half is slower than its first by that fraction."""
    fixed = n_steps is not None
    target, total, block, means = (n_steps if fixed else max_steps), 0, o["chunk_steps"], []
    settled = np.zeros(x.shape[0], bool)
    while total < target:
        length = min(block, target - total)
        x, step, _ = _run(f, x, x, length, o["chunk_steps"])
        total += length
        means.append(step.mean(axis=1))
        last = step[:, -1]
        halves = (step[:, : length // 2].mean(axis=1), step[:, length // 2:].mean(axis=1))
        finite = np.all(np.isfinite(np.asarray(x)), axis=1)
        stationary = np.zeros_like(settled) if len(means) < 2 else (
            np.abs(means[-1] - means[-2]) <= o["settle_tolerance"] * means[-2])
        settled = finite & ((last <= o["rest_speed"]) | (stationary & (total >= o["min_steps"])))
        if not fixed and total >= o["min_steps"] and np.all(settled | ~finite):
            break
        block *= 2
    slow = o["newton_slowdown"]
    slowed = (last <= slow * means[0]) | (halves[1] <= (1 - slow) * halves[0])
    return np.asarray(x), settled, last, total, slowed


def _newton(f, ends, slowed, o, dtype):
    """Phase 2: Newton from the ``slowed`` ends; the distinct converged points, each end's
    point (−1: none) and its distance to it.

    Ends within ``unique_tolerance`` of one already polished share its result (runs at rest at
    one fixed point are polished once): the dense Newton step costs ~N³.
    """
    n, owner, distance = len(ends), np.full(len(ends), -1), np.full(len(ends), np.inf)
    reps, rep_of = [], np.full(n, -1)
    for i in np.flatnonzero(slowed):
        near = [r for r in reps if np.linalg.norm(ends[i] - ends[r]) <= o["unique_tolerance"]]
        rep_of[i] = near[0] if near else i
        if not near:
            reps.append(i)
    if not reps:
        return np.zeros((0, ends.shape[1])), owner, distance
    batch = _CPU_NEWTON_BATCH if jax.default_backend() == "cpu" else _ACCELERATOR_NEWTON_BATCH
    xp, q = _polish(f, jnp.asarray(ends[reps], dtype), jnp.asarray(o["q_tolerance"] *
                    _POLISH_MARGIN, dtype), n_iterations=o["newton_iterations"],
                    batch_size=min(batch, len(reps)))
    xp, q = np.asarray(xp), np.asarray(q)
    conv = np.flatnonzero(q < o["q_tolerance"])
    points = xp[conv][_deduplicate(xp[conv], q[conv], o["unique_tolerance"])]
    found = dict(zip(np.asarray(reps)[conv].tolist(), xp[conv], strict=True))
    for i in np.flatnonzero(slowed):
        if int(rep_of[i]) in found:
            owner[i] = int(np.argmin(np.linalg.norm(points - found[int(rep_of[i])], axis=1)))
            distance[i] = float(np.linalg.norm(ends[i] - points[owner[i]]))
    return points, owner, distance


def _candidate_periods(d, step, o):
    """First near return of each run's tail (0: none). ``d`` (start, L + 1) from t = 0."""
    diameter = np.nanmax(d, axis=1, keepdims=True)
    t = np.arange(d.shape[1])
    local_min = np.zeros(d.shape, bool)
    local_min[:, 1:-1] = (d[:, 1:-1] < d[:, :-2]) & (d[:, 1:-1] <= d[:, 2:])
    near = d <= o["return_tolerance"] * diameter + 0.5 * np.nanmax(step, axis=1, keepdims=True)
    risen = np.fmax.accumulate(d, axis=1) >= 0.5 * diameter
    ok = local_min & near & risen & (t >= 2) & (t <= o["max_period_steps"])
    ok &= diameter > o["capture_distance"]  # smaller than that is a fixed point
    return np.where(ok.any(axis=1), ok.argmax(axis=1), 0)


def _refine_period(d, k):
    """Fractional period from the returns near k, 2k, …: vertices of parabolas through d²."""
    period, m, last = float(k), 1, len(d) - 1
    while round(m * period) + 2 <= last:
        lo = max(int(round(m * period)) - 2, 1)
        i = lo + int(np.argmin(d[lo: int(round(m * period)) + 3]))
        y0, y1, y2 = d[i - 1] ** 2, d[i] ** 2, d[i + 1] ** 2
        curvature = y0 - 2 * y1 + y2
        exact = y1 <= 1e-18 * max(y0, y2)  # an exactly periodic orbit of the map
        delta = 0.0 if exact or curvature <= 0 else float(np.clip(0.5 * (y0 - y2) / curvature,
                                                                 -0.5, 0.5))
        period, m = (i + delta) / m, m + 1
    return period


def _shifted(x, shift, count):
    """``x(j + shift)`` for ``j = 0 … count − 1``, cubic (4-point Lagrange) interpolation."""
    k, t = int(math.floor(shift)), shift - math.floor(shift)
    w = (-t * (t - 1) * (t - 2) / 6, (t + 1) * (t - 1) * (t - 2) / 2,
         -(t + 1) * t * (t - 2) / 2, (t + 1) * t * (t - 1) / 6)
    return sum(wi * x[k - 1 + i: k - 1 + i + count] for i, wi in enumerate(w))


def _check_cycle(f, x0, period, o):
    """Does the run from ``x0`` repeat with ``period`` (steps)? Returns (ok, orbit states).

    Every state must come back within tolerance one period later (over ``n_check`` periods),
    and the states of the first period ``n_check`` periods later (no slow drift or decay).
    """
    n_check = max(o["n_check_periods"], math.ceil(o["min_check_steps"] / period))
    x = _states(f, jnp.asarray(x0), int(math.ceil((n_check + 1) * period)) + 3,
                o["chunk_steps"])
    k, n_cmp = int(math.floor(period)), int(n_check * period)
    one = np.linalg.norm(_shifted(x, period, n_cmp) - x[:n_cmp], axis=1)
    far = np.linalg.norm(_shifted(x, n_check * period, k + 1) - x[: k + 1], axis=1)
    slack = _CUBIC_ERROR * float(np.max(np.linalg.norm(np.diff(x, n=4, axis=0), axis=1)))
    diameter = float(np.max(np.linalg.norm(x[: k + 1] - x[0], axis=1)))
    tol = o["return_tolerance"] * diameter + slack
    ok = (diameter > o["capture_distance"] and bool(np.all(np.isfinite(x)))
          and float(one.max()) <= tol and float(far.max()) <= tol)
    return ok, x[: k + 1]


def _floquet(f, x0, period, o, key):
    """Floquet multipliers over ``round(period)`` steps, largest modulus first."""
    n, p = x0.shape[0], int(round(period))
    x0 = jnp.asarray(x0)
    if n <= o["dense_floquet_limit"]:
        mu = np.linalg.eigvals(np.asarray(_monodromy(f, x0, jnp.eye(n, dtype=x0.dtype),
                                                     n_steps=p)))
    else:  # subspace iteration on the k leading multipliers, then Rayleigh–Ritz
        q = jnp.linalg.qr(jax.random.normal(key, (n, min(o["n_floquet"], n)), x0.dtype))[0]
        for _ in range(o["floquet_iterations"]):
            q = jnp.linalg.qr(_monodromy(f, x0, q, n_steps=p))[0]
        mu = np.linalg.eigvals(np.asarray(q.T @ _monodromy(f, x0, q, n_steps=p)))
    return mu[np.lexsort((-mu.imag, -np.abs(mu)))]


def _matching_cycle(cycles, x, period, o):
    """Index of a known cycle that ``x`` lies on with about the same period, else None."""
    for j, c in enumerate(cycles):
        orbit = c["orbit"]
        diameter = float(np.max(np.linalg.norm(orbit - orbit[0], axis=1)))
        half_step = 0.5 * float(np.max(np.linalg.norm(np.diff(orbit, axis=0), axis=1)))
        near = float(np.min(np.linalg.norm(orbit - x, axis=1)))
        if abs(period - c["period"]) <= 1 and near <= o["return_tolerance"] * diameter + half_step:
            return j
    return None


def _cycle_phase(f, ends, todo, o, key):
    """Phase 3: the limit cycles the ``todo`` ends lie on; (cycles, cycle index per start)."""
    cycles, member = [], np.full(len(ends), -1)
    if not todo.any():
        return cycles, member
    length = (o["n_check_periods"] + 1) * o["max_period_steps"]
    x = jnp.asarray(ends)
    _, step, dist = _run(f, x, x, length, o["chunk_steps"])
    d = np.concatenate([np.zeros((len(ends), 1)), dist], axis=1)
    k = _candidate_periods(d, step, o)
    for i in np.flatnonzero(todo & (k > 0)):
        period = _refine_period(d[i], int(k[i]))
        j = _matching_cycle(cycles, ends[i], period, o)
        if j is None:
            ok, orbit = _check_cycle(f, ends[i], period, o)
            if not ok:
                continue
            key, sub = jax.random.split(key)
            cycles.append({"orbit": orbit, "period": period,
                           "floquet": _floquet(f, ends[i], period, o, sub)})
            j = len(cycles) - 1
        member[i] = j
    return cycles, member


def _approach_phase(f, ends, todo, points, owner, rho, o, max_steps):
    """Phase 4: which ``todo`` ends are still converging to their (stable) Newton point."""
    if not todo.any():
        return todo.copy()
    rates = -np.log(np.clip(rho[owner[todo]], 1e-300, 1.0))  # per step, of the slowest mode
    scale = o["verify_time_scales"] / np.maximum(rates, 1.0 / max_steps)
    n_verify = int(min(max(math.ceil(scale.max()), o["chunk_steps"]), max_steps))
    n_verify = -(-n_verify // o["chunk_steps"]) * o["chunk_steps"]  # whole chunks: no recompile
    ref = ends.copy()
    ref[todo] = points[owner[todo]]
    _, _, d = _run(f, jnp.asarray(ends), jnp.asarray(ref), n_verify, o["chunk_steps"])
    quarter = max(n_verify // 4, 1)
    first, final = d[:, :quarter].max(axis=1), d[:, -quarter:].max(axis=1)
    return todo & ((final <= 0.5 * first) | (d.max(axis=1) <= o["capture_distance"]))


def _unresolved_phase(f, ends, todo, o, dt, key):
    """Phase 5: outcome labels and Lyapunov exponents (1/time) of the unresolved ends."""
    outcome = np.full(len(ends), "unresolved", dtype=object)
    lyap = np.full(len(ends), np.nan)
    for i, sub in zip(np.flatnonzero(todo)[: o["n_lyapunov"]],
                      jax.random.split(key, max(o["n_lyapunov"], 1)), strict=False):
        try:
            lyap[i] = float(lyapunov_exponent(f, jnp.asarray(ends[i]), n_steps=o["lyapunov_steps"],
                                              dt=dt, transient=0, key=sub)[0])
        except DataError:  # the tangent or the orbit overflowed: no evidence
            continue
        per_step = lyap[i] * dt
        outcome[i] = ("chaotic" if per_step > o["lyapunov_tolerance"] else "quasi_periodic"
                      if abs(per_step) <= o["lyapunov_tolerance"] else "unresolved")
    return outcome, lyap
