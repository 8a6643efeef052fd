"""Newton kernels of the fixed-point polish, each for a fixed-size batch of points (vmap):

- :func:`_newton_round` (dense): damped (Levenberg–Marquardt) Newton steps, one Jacobian each;
- :func:`_krylov_round` (matrix-free): inexact Newton–Krylov steps, GMRES on Jacobian-vector
  products; the Jacobian is never formed;
- :func:`_capture`: chord iterations from candidate points with the LU factors of a known fixed
  point — does the point converge to it? (:func:`_factor` makes the factors.)

The scheduling over many points (batches, early stops, duplicates) is
:func:`brainbias.analysis._fixed_points_solvers._polish_distinct`. Every kernel takes the map as
a traced pytree (:class:`._fixed_points_map._AsInputDtype`), so it compiles once per network
shape.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

from ._fixed_points_map import _speed

# Line search: try steps 1, 1/2, …, 2^-(N−1) of the full step.
_N_BACKTRACK = 16
# Armijo sufficient-decrease constant (Nocedal & Wright 2006, §3.1: "c1 = 1e-4 is typical").
_ARMIJO = 1e-4
# Levenberg–Marquardt damping μ = θ‖r‖ of the dense step. Measured on a chaotic tanh network
# (N = 200, g = 1.5, dt/τ = 0.1, 256 starts after 500 Adam steps at 0.05, 40 Newton steps):
# θ = 0 (plain Newton) converged 47 starts, θ = 1e-3 converged 89, θ = 1 none (steps too short).
_LM_DAMPING = 1e-3
# A point whose q has not halved in this many steps is a slow point: stop it.
_PATIENCE = 5
# Capture: chord iterations tried from a candidate, stopped once one cuts q by less than this.
_CAPTURE_STEPS = 12
_CAPTURE_PROGRESS = 0.5
_CAPTURE_BACKTRACK = 4
# Newton–Krylov: GMRES restart length and restarts per Newton step (at most 300 Jacobian-vector
# products), forcing term η = min(0.1, max(‖r‖, 1e-6)) relative to ‖r‖ (Eisenstat & Walker
# 1996: η ~ ‖r‖ gives quadratic convergence; the floor avoids solving past rounding).
_KRYLOV_RESTART = 30
_KRYLOV_RESTARTS = 10
_KRYLOV_FORCING = (1e-6, 0.1)


def _line_search(step_fn, x, d, q, slope, n_backtrack=_N_BACKTRACK):
    """Largest of 1, ½, … meeting the Armijo condition on ``q`` along ``d``: (found, x, q)."""
    alphas = 0.5 ** jnp.arange(n_backtrack, dtype=x.dtype)
    q_try = jax.vmap(lambda s: _speed(step_fn, x + s * d))(alphas)
    ok = jnp.isfinite(q_try) & (q_try <= q + _ARMIJO * alphas * slope) & (slope < 0)
    k = jnp.argmax(ok)
    return jnp.any(ok), x + alphas[k] * d, q_try[k]


def _bookkeep(moved, x, q, x_try, q_try, q_ref, since):
    """Accept the step where ``moved``; track the last halving of q (``q_ref``, ``since``)."""
    x = jnp.where(moved, x_try, x)
    q = jnp.where(moved, q_try, q)
    halved = q <= 0.5 * q_ref
    q_ref = jnp.where(moved & halved, q, q_ref)
    since = jnp.where(moved, jnp.where(halved, 0, since + 1), since)
    return x, q, q_ref, since


def _newton_step(step_fn, x, q, q_stop, q_ref, since, done):
    """One damped Newton iteration for one point (frozen when ``done``).

    The step solves ``(AᵀA + μ I) d = −Aᵀ r`` with ``r = F(x) − x``, ``A = J − I`` (J = dF/dx)
    and ``μ = θ ‖r‖``, θ = ``_LM_DAMPING``, computed as ``d = −Aᵀ (AAᵀ + μ I)⁻¹ r`` (the same
    vector; XLA on CPU forms ``AAᵀ`` twice as fast as ``AᵀA``, measured at N = 500): the
    Levenberg–Marquardt form of the Newton system ``A d = −r``. As ``r → 0`` it becomes the
    Newton step (quadratic convergence at regular fixed points), and unlike a plain solve it
    stays well defined where ``A`` is singular — on line attractors and near slow points —
    where it still converges quadratically under a local error bound (Yamashita & Fukushima
    2001; Fan & Yuan 2005, μ = θ‖r‖^δ with δ = 1). ``d`` is a descent direction for q; the step
    is scaled by the largest of 1, ½, …, 2^-15 meeting the Armijo condition, so q never
    increases. (Reusing the factorisation for further chord steps, Shamanskii's method, saved
    2 % of the Jacobians on the chaotic N = 500 benchmark and cost 15 % per iteration.)

    The point is done when q ≤ ``q_stop``, when no step decreases q, or when q has not halved in
    ``_PATIENCE`` iterations (a slow point: near a true fixed point Newton converges much
    faster). ``q_ref`` is q at the last halving and ``since`` the iterations since then.
    """
    eye = jnp.eye(x.shape[0], dtype=x.dtype)
    r = step_fn(x) - x
    a = jax.jacfwd(step_fn)(x) - eye
    factor = jsl.cho_factor(a @ a.T + (_LM_DAMPING * jnp.sqrt(2.0 * q)) * eye, lower=True)
    d = -(jsl.cho_solve(factor, r) @ a)  # = −Aᵀ (AAᵀ + μI)⁻¹ r
    ok, x_try, q_try = _line_search(step_fn, x, d, q, r @ (a @ d))  # slope = (Aᵀr)·d
    moved = ok & ~done
    x, q, q_ref, since = _bookkeep(moved, x, q, x_try, q_try, q_ref, since)
    done = done | ~ok | (q <= q_stop) | (since >= _PATIENCE)
    return x, q, q_ref, since, done


@functools.partial(jax.jit, static_argnames=("n_steps",))
def _newton_round(step_fn, x, q, q_stop, q_ref, since, done, *, n_steps=1):
    """``n_steps`` of :func:`_newton_step` for a fixed-size batch of points (vmap; done ones
    frozen)."""
    step = jax.vmap(functools.partial(_newton_step, step_fn), in_axes=(0, 0, None, 0, 0, 0))

    def body(_, state):
        return step(state[0], state[1], q_stop, *state[2:])

    return jax.lax.fori_loop(0, n_steps, body, (x, q, q_ref, since, done))


def _krylov_step(step_fn, x, q, q_stop, q_ref, since, done):
    """One inexact Newton–Krylov iteration for one point (frozen when ``done``).

    GMRES (``jax.scipy.sparse.linalg.gmres``, restarted) solves ``A d = −r`` to the relative
    tolerance η (``_KRYLOV_FORCING``) using only products ``A v`` (``jax.linearize``: one
    forward pass each, O(N²) for a dense network, O(synapses) for a sparse one). Whatever
    GMRES returns from ``d₀ = 0`` satisfies ``‖r + A d‖ ≤ ‖r‖``, so ``rᵀA d < 0``: a descent
    direction for q, used with the same Armijo line search as the dense step. No damping: a
    truncated Krylov solve is itself a regularised step. Done rules as in :func:`_newton_step`.
    """
    r, jvp = jax.linearize(lambda y: step_fn(y) - y, x)
    lo, hi = _KRYLOV_FORCING
    eta = jnp.clip(jnp.sqrt(2.0 * q), lo, hi)
    d, _ = jax.scipy.sparse.linalg.gmres(jvp, -r, tol=eta, restart=_KRYLOV_RESTART,
                                         maxiter=_KRYLOV_RESTARTS, solve_method="incremental")
    ok, x_try, q_try = _line_search(step_fn, x, d, q, r @ jvp(d))
    moved = ok & ~done
    x, q, q_ref, since = _bookkeep(moved, x, q, x_try, q_try, q_ref, since)
    done = done | ~ok | (q <= q_stop) | (since >= _PATIENCE)
    return x, q, q_ref, since, done


@jax.jit
def _krylov_round(step_fn, x, q, q_stop, q_ref, since, done):
    """:func:`_krylov_step` for a fixed-size batch of points (vmap; done ones frozen)."""
    step = functools.partial(_krylov_step, step_fn)
    return jax.vmap(step, in_axes=(0, 0, None, 0, 0, 0))(x, q, q_stop, q_ref, since, done)


@jax.jit
def _factor(step_fn, x):
    """LU factors of ``J(x) − I`` at one (fixed) point."""
    a = jax.jacfwd(step_fn)(x) - jnp.eye(x.shape[0], dtype=x.dtype)
    return jsl.lu_factor(a)


@jax.jit
def _capture(step_fn, y, lu, pivots, point, q_stop, tolerance):
    """Which rows of ``y`` converge to the fixed point ``point`` under chord iterations
    ``y ← y − α (J(point) − I)⁻¹ r(y)`` (``lu``, ``pivots``: :func:`_factor` at ``point``).

    Near a regular fixed point the chord iteration converges (linearly, fast), so a start that
    reaches q ≤ ``q_stop`` within ``tolerance`` of ``point`` is a duplicate of it, found at
    O(N²) per step instead of its own dense polish. Each step takes the largest of 1, ½, ¼, ⅛
    that decreases q; the iteration stops at the first step that does not halve q.
    """

    def one(y):
        def body(_, state):
            y, q, going = state
            d = -jsl.lu_solve((lu, pivots), step_fn(y) - y)
            alphas = 0.5 ** jnp.arange(_CAPTURE_BACKTRACK, dtype=y.dtype)
            q_try = jax.vmap(lambda s: _speed(step_fn, y + s * d))(alphas)
            ok = jnp.isfinite(q_try) & (q_try < q)
            k = jnp.argmax(ok)
            going = going & (q > q_stop) & jnp.any(ok) & (q_try[k] <= _CAPTURE_PROGRESS * q)
            return jnp.where(going, y + alphas[k] * d, y), jnp.where(going, q_try[k], q), going

        y, q, _ = jax.lax.fori_loop(0, _CAPTURE_STEPS, body, (y, _speed(step_fn, y), True))
        return (q <= q_stop) & (jnp.linalg.norm(y - point) <= tolerance)

    return jax.vmap(one)(y)
