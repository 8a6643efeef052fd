"""The numerical steps of :func:`brainbias.analysis.fixed_points.find_fixed_points`:

- :func:`_adam`: Adam on q for every start at once (one jitted ``lax.scan``);
- :func:`_polish_distinct`: the Newton polish of many points — which points run when, early
  stops, and duplicates recognised as early as possible — over the kernels of
  :mod:`._fixed_points_newton` (dense or matrix-free);
- :func:`_polish`: the same without duplicate handling (every row polished; the census uses it).

The map wrapper :class:`_AsInputDtype` and the speed live in :mod:`._fixed_points_map` and are
re-exported here, as are the batch sizes (the census imports them from this module).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._fixed_points_checks import NEWTON_METHODS  # noqa: F401 (re-exported)
from ._fixed_points_map import _AsInputDtype, _batched_speed, _speed
from ._fixed_points_newton import _capture, _factor, _krylov_round, _newton_round

__all__ = ["_AsInputDtype", "_adam", "_batched_speed", "_newton_round", "_polish",
           "_polish_distinct", "_speed"]

# Newton stops polishing a point once q is this far below q_tolerance: one more quadratic step
# past the threshold costs little and makes the "fixed" label robust to re-evaluation.
_POLISH_MARGIN = 1e-4
# Points per Newton kernel call, and at most this many polished at a time. On CPU the batched
# solves run point by point anyway, so small batches cost nothing and waste little padding;
# accelerators want larger batches.
_CPU_NEWTON_BATCH = 16
_ACCELERATOR_NEWTON_BATCH = 128
# LU factors of known fixed points kept for capture tests: at most this many bytes in all.
_CAPTURE_BYTES = 2**28
# newton="auto": matrix-free above this many units (a batch of dense Jacobians, their normal
# matrices and factors at N = 2000 and 16 points is 1.5 GiB, and each costs ~4 N³ flops).
_KRYLOV_ABOVE = 2000


def _default_batch():
    return _CPU_NEWTON_BATCH if jax.default_backend() == "cpu" else _ACCELERATOR_NEWTON_BATCH


@functools.partial(jax.jit, static_argnames=("n_iterations",))
def _adam(step_fn, starts, learning_rate, decay_rate, *, n_iterations):
    """Minimise q for every start at once: one jit region, ``lax.scan`` over iterations.

    The summed loss decouples across starts (each q depends on its own x only) and Adam's
    moments are per coordinate, so this is ``n`` independent Adam runs in one batched program.
    The learning rate is ``learning_rate · decay_rate**k`` at iteration k. Returns the state with
    the lowest q seen for each start (Adam may oscillate around a minimum) and that q.
    """
    import optax

    opt = optax.chain(
        optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
        optax.scale_by_schedule(lambda k: -learning_rate * decay_rate**k),
    )
    batched_speed = jax.vmap(functools.partial(_speed, step_fn))

    def total(x):
        q = batched_speed(x)
        return jnp.sum(q), q

    value_and_grad = jax.value_and_grad(total, has_aux=True)

    def body(carry, _):
        x, opt_state, best_x, best_q = carry
        (_, q), g = value_and_grad(x)
        better = q < best_q  # q belongs to x before this update
        best_x = jnp.where(better[:, None], x, best_x)
        best_q = jnp.where(better, q, best_q)
        updates, opt_state = opt.update(g, opt_state, x)
        return (x + updates, opt_state, best_x, best_q), None

    inf = jnp.full(starts.shape[:1], jnp.inf, starts.dtype)
    carry = (starts, opt.init(starts), starts, inf)
    (x, _, best_x, best_q), _ = jax.lax.scan(body, carry, None, length=n_iterations)
    q = batched_speed(x)
    better = q < best_q
    return jnp.where(better[:, None], x, best_x), jnp.where(better, q, best_q)


def _resolve_newton(newton, n_units):
    """``"auto"`` → ``"dense"`` up to ``_KRYLOV_ABOVE`` units, else ``"krylov"``."""
    if newton == "auto":
        return "dense" if n_units <= _KRYLOV_ABOVE else "krylov"
    return newton


def _polish(step_fn, x, q_stop, *, n_iterations, batch_size, newton="dense"):
    """Polish every row of ``x`` (no duplicate handling); the polished points and their q."""
    x, q, _ = _polish_distinct(step_fn, x, q_stop, n_iterations=n_iterations,
                               batch_size=batch_size, newton=newton, unique_tolerance=0.0)
    return jnp.asarray(x), jnp.asarray(q)


class _State:
    """Host-side bookkeeping of :func:`_polish_distinct` (NumPy arrays, updated in place)."""

    def __init__(self, x, q, q_stop):
        n = len(q)
        self.x, self.q = x, q
        self.q_ref = q.copy()
        self.since = np.zeros(n, np.int32)
        self.done = ~(q > q_stop)  # converged and NaN starts are done
        self.started = self.done.copy()
        self.rounds = np.zeros(n, np.int64)
        self.duplicate_of = np.full(n, -1)
        self.found = []  # indices of the distinct converged points, in order found
        self.factors = []  # LU factors of the first found points (dense capture)
        self.registered = np.zeros(n, bool)

    def unresolved(self):
        return self.duplicate_of < 0


def _polish_distinct(step_fn, x, q_stop, *, n_iterations, batch_size, newton="dense",
                     unique_tolerance=0.0):
    """Newton polish of the rows of ``x``, recognising duplicates as early as possible.

    Returns the points, their q and ``duplicate_of`` (n,): −1 for a point polished in its own
    right, else the row whose fixed point it shares. With ``unique_tolerance = 0`` every row is
    polished. Otherwise, in order of increasing q, at most ``batch_size`` points are polished at
    a time (one compiled kernel call per round; a vmapped loop costs as much for a finished
    point as for a running one, so the batch is re-packed every round), and a point is a
    duplicate — no longer polished — when it comes within ``unique_tolerance`` (Euclidean) of a
    converged point or of a point of lower q (the rule of the final deduplication), or, with
    dense Newton, when chord iterations with the factors of a converged point's Jacobian take it
    there (:func:`~._fixed_points_newton._capture`; tested for every waiting start when a new
    fixed point is found and for the running points every round). At most ``n_iterations``
    Jacobians (dense) or Newton–Krylov steps per point.
    """
    s = _State(np.array(x), np.array(_batched_speed(step_fn, jnp.asarray(x))), float(q_stop))
    n, n_units = s.x.shape
    size = max(1, min(batch_size, n))
    dtype = s.x.dtype
    capture = newton == "dense" and unique_tolerance > 0
    max_factors = max(1, _CAPTURE_BYTES // (n_units * n_units * dtype.itemsize))
    if unique_tolerance > 0:
        _merge_start(s, unique_tolerance)
    while True:
        new = _register(s, step_fn, float(q_stop), unique_tolerance, capture, max_factors)
        if capture and new:
            _capture_near(s, step_fn, np.flatnonzero(~s.started & s.unresolved()), q_stop,
                          unique_tolerance, size)
        _start(s, size if unique_tolerance > 0 else n)
        active = np.flatnonzero(s.started & ~s.done & s.unresolved())
        if not len(active):
            break
        for chunk in np.array_split(active, -(-len(active) // size)):
            _run_round(s, step_fn, chunk, size, q_stop, newton)
        s.rounds[active] += 1
        s.done[active] |= s.rounds[active] >= n_iterations
        if unique_tolerance > 0:
            running = active[~s.done[active] & s.unresolved()[active]]
            _merge_near(s, running, unique_tolerance)
            if capture:
                _capture_near(s, step_fn, running, q_stop, unique_tolerance, size)
    return s.x, s.q, s.duplicate_of


def _start(s, max_active):
    """Start waiting points (lowest q first) until ``max_active`` are running."""
    running = np.count_nonzero(s.started & ~s.done & s.unresolved())
    waiting = np.flatnonzero(~s.started & s.unresolved())
    take = waiting[np.argsort(s.q[waiting], kind="stable")][: max(0, max_active - running)]
    s.started[take] = True


def _run_round(s, step_fn, chunk, size, q_stop, newton):
    """One kernel call on the points ``chunk`` (padded to ``size`` with frozen copies)."""
    pad = np.concatenate([chunk, np.full(size - len(chunk), chunk[0])])
    frozen = np.arange(size) >= len(chunk)
    args = (step_fn, jnp.asarray(s.x[pad]), jnp.asarray(s.q[pad]), q_stop,
            jnp.asarray(s.q_ref[pad]), jnp.asarray(s.since[pad]),
            jnp.asarray(s.done[pad] | frozen))
    out = _newton_round(*args) if newton == "dense" else _krylov_round(*args)
    keep = slice(0, len(chunk))
    s.x[chunk], s.q[chunk], s.q_ref[chunk], s.since[chunk], s.done[chunk] = (
        np.asarray(o)[keep] for o in out)


def _register(s, step_fn, q_stop, tolerance, capture, max_factors):
    """Record newly converged points: each is a new fixed point, or (within ``tolerance`` of a
    known one) a duplicate of it. Returns how many new fixed points there are."""
    fresh = np.flatnonzero(s.done & ~s.registered & s.unresolved() & (s.q <= q_stop))
    s.registered[s.done] = True
    n_new = 0
    for i in fresh[np.argsort(s.q[fresh], kind="stable")]:
        if tolerance > 0 and s.found:
            d = np.linalg.norm(s.x[s.found] - s.x[i], axis=1)
            if d.min() <= tolerance:
                s.duplicate_of[i] = s.found[int(np.argmin(d))]
                continue
        s.found.append(int(i))
        n_new += 1
        if capture and len(s.factors) < max_factors:
            s.factors.append(_factor(step_fn, jnp.asarray(s.x[i])))
    return n_new


def _merge_near(s, idx, tolerance):
    """Points of ``idx`` within ``tolerance`` of a known fixed point, or of an unresolved point
    of lower q (running, waiting or stopped), become its duplicates (and stop)."""
    if not len(idx):
        return
    reps = np.asarray(s.found, dtype=int)
    for i in idx[np.argsort(s.q[idx], kind="stable")]:
        others = np.flatnonzero(s.unresolved() & (s.q <= s.q[i]))
        others = np.concatenate([reps, others[others != i]])
        if not len(others):
            continue
        d = np.linalg.norm(s.x[others] - s.x[i], axis=1)
        if d.min() <= tolerance:
            s.duplicate_of[i] = int(others[np.argmin(d)])
            s.done[i] = s.started[i] = True


def _merge_start(s, tolerance):
    """Duplicates among the starts, before any polish: greedy in order of increasing q, a start
    within ``tolerance`` of a kept one is its duplicate (the rule of the final deduplication)."""
    idx = np.flatnonzero(~s.done)
    kept = []
    for i in idx[np.argsort(s.q[idx], kind="stable")]:
        if kept:
            d = np.linalg.norm(s.x[kept] - s.x[i], axis=1)
            if d.min() <= tolerance:
                s.duplicate_of[i] = kept[int(np.argmin(d))]
                s.done[i] = s.started[i] = True
                continue
        kept.append(int(i))


def _capture_near(s, step_fn, idx, q_stop, tolerance, size):
    """Chord-test each point of ``idx`` against the nearest known fixed point that has stored
    factors; those that converge to it become its duplicates."""
    k_max = len(s.factors)
    if not (k_max and len(idx)):
        return
    points = s.x[s.found[:k_max]]
    nearest = np.argmin(np.linalg.norm(s.x[idx, None, :] - points[None], axis=2), axis=1)
    for k in np.unique(nearest):
        members = idx[nearest == k]
        lu, pivots = s.factors[k]
        for chunk in np.array_split(members, -(-len(members) // size)):
            pad = np.concatenate([chunk, np.full(size - len(chunk), chunk[0])])
            hit = np.asarray(_capture(step_fn, jnp.asarray(s.x[pad]), lu, pivots,
                                      jnp.asarray(points[k]), q_stop, tolerance))[: len(chunk)]
            s.duplicate_of[chunk[hit]] = s.found[k]
            s.done[chunk[hit]] = s.started[chunk[hit]] = True
