"""The numerical kernels of :func:`brainbias.analysis.fixed_points.find_fixed_points`.

- the speed ``q = ½ ‖F(x) − x‖²`` of one state (:func:`_speed`) and of a batch (jitted);
- :class:`_AsInputDtype`: the map with its output cast to its input's dtype;
- :func:`_adam`: Adam on q for every start at once (one jitted ``lax.scan``);
- the damped Newton polish: :func:`_newton_step` (one Levenberg–Marquardt iteration with an
  Armijo line search), :func:`_newton_round` (a compiled batch of them) and :func:`_polish`
  (the scheduling of rounds over the points still moving), with the constants that tune them.

The attractor census (:mod:`brainbias.analysis.census`) reuses the Newton polish.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

# Line search of the Newton polish: try steps 1, 1/2, …, 2^-(N−1) of the full step.
_N_BACKTRACK = 16
# Armijo sufficient-decrease constant (Nocedal & Wright 2006, §3.1: "c1 = 1e-4 is typical").
_ARMIJO = 1e-4
# Newton stops polishing a point once q is this far below q_tolerance: one more quadratic step
# past the threshold costs little and makes the "fixed" label robust to re-evaluation.
_POLISH_MARGIN = 1e-4
# Levenberg–Marquardt damping μ = θ‖r‖ of the Newton polish. Measured on a chaotic tanh network
# (N = 200, g = 1.5, dt/τ = 0.1, 256 starts after 500 Adam steps at 0.05, 40 Newton steps):
# θ = 0 (plain Newton) converged 47 starts, θ = 1e-3 converged 89, θ = 1 none (steps too short).
# (A matrix-free GMRES step was 4× cheaper per iteration at N = 200 but converged no start at
# N = 500 within 100 Jacobian-vector products: the systems there are too ill-conditioned.)
_LM_DAMPING = 1e-3
# Newton iterations per scheduling round (see _polish).
_ROUND = 2
# A point whose q has not halved in this many Newton iterations is a slow point: stop it.
_PATIENCE = 5
# Points per Newton kernel call. On CPU the batched solves run point by point anyway, so small
# batches cost nothing and waste little padding; accelerators want larger batches.
_CPU_NEWTON_BATCH = 16
_ACCELERATOR_NEWTON_BATCH = 128


@functools.partial(jax.jit, static_argnames=("step_fn",))
def _batched_speed(step_fn, states):
    # jitted: op-by-op dispatch of a vmapped network step compiles every primitive separately
    return jax.vmap(functools.partial(_speed, step_fn))(states)


def _speed(step_fn, x):
    r = step_fn(x) - x
    return 0.5 * jnp.sum(r * r)


class _AsInputDtype:
    """``step_fn`` with its output cast to its input's dtype (the optimisation carries one dtype).

    Compares equal when it wraps the same ``step_fn``, so the jitted loops (``step_fn`` is a
    static argument) are compiled once per map, not once per call.
    """

    def __init__(self, step_fn):
        self.step_fn = step_fn

    def __call__(self, x):
        return jnp.asarray(self.step_fn(x), dtype=x.dtype)

    def __eq__(self, other):
        return isinstance(other, _AsInputDtype) and other.step_fn is self.step_fn

    def __hash__(self):
        return hash(id(self.step_fn))


@functools.partial(jax.jit, static_argnames=("step_fn", "n_iterations"))
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


def _newton_step(step_fn, x, q, q_stop, q_ref, since, done):
    """One damped Newton iteration for one point (frozen when ``done``).

    The step solves ``(AᵀA + μ I) d = −Aᵀ r`` with ``r = F(x) − x``, ``A = J − I`` (J = dF/dx)
    and ``μ = θ ‖r‖``, θ = ``_LM_DAMPING``: the Levenberg–Marquardt form of the Newton system
    ``A d = −r``. As ``r → 0`` it becomes the Newton step (quadratic convergence at regular fixed
    points), and unlike a plain solve it stays well defined where ``A`` is singular — on line
    attractors and near slow points — where it still converges quadratically under a local error
    bound (Yamashita & Fukushima 2001; Fan & Yuan 2005, μ = θ‖r‖^δ with δ = 1). ``d`` is a
    descent direction for q; the step is scaled by the largest of 1, ½, …, 2^-15 meeting the
    Armijo condition, so q never increases.

    The point is done when q ≤ ``q_stop``, when no step decreases q, or when q has not halved in
    ``_PATIENCE`` iterations (a slow point: near a true fixed point Newton converges much faster).
    ``q_ref`` is q at the last halving and ``since`` the iterations since then.
    """
    eye = jnp.eye(x.shape[0], dtype=x.dtype)
    alphas = 0.5 ** jnp.arange(_N_BACKTRACK, dtype=x.dtype)
    r = step_fn(x) - x
    a = jax.jacfwd(step_fn)(x) - eye
    g = a.T @ r  # gradient of q
    h = a.T @ a + (_LM_DAMPING * jnp.sqrt(2.0 * q)) * eye
    d = -jnp.linalg.solve(h, g)
    slope = g @ d
    q_try = jax.vmap(lambda s: _speed(step_fn, x + s * d))(alphas)
    ok = jnp.isfinite(q_try) & (q_try <= q + _ARMIJO * alphas * slope) & (slope < 0)
    moved = jnp.any(ok) & ~done
    k = jnp.argmax(ok)
    x_new = jnp.where(moved, x + alphas[k] * d, x)
    q_new = jnp.where(moved, q_try[k], q)
    halved = q_new <= 0.5 * q_ref
    q_ref = jnp.where(halved, q_new, q_ref)
    since = jnp.where(halved, 0, since + 1)
    done = done | ~moved | (q_new <= q_stop) | (since >= _PATIENCE)
    return x_new, q_new, q_ref, since, done


@functools.partial(jax.jit, static_argnames=("step_fn", "n_steps"))
def _newton_round(step_fn, x, q, q_stop, q_ref, since, done, *, n_steps):
    """``n_steps`` Newton iterations for a fixed-size batch of points (vmap; done ones frozen)."""
    step = jax.vmap(functools.partial(_newton_step, step_fn), in_axes=(0, 0, None, 0, 0, 0))

    def body(_, state):
        return step(state[0], state[1], q_stop, *state[2:])

    return jax.lax.fori_loop(0, n_steps, body, (x, q, q_ref, since, done))


def _polish(step_fn, x, q_stop, *, n_iterations, batch_size):
    """Damped Newton polish of every row of ``x``; returns the polished points and their q.

    Scheduling: rounds of ``_ROUND`` iterations on fixed-size batches of the points still
    active, re-packed after every round. A vmapped loop costs as much for a finished point as for
    a running one, so without re-packing a batch runs as long as its slowest point (measured on
    the chaotic N = 200 benchmark network, 256 starts, warm: 5.3 s against 8.7 s for a vmapped
    while_loop per batch of 16). One compiled kernel serves every round (the last batch is
    padded), so nothing recompiles.
    """
    x = jnp.asarray(x)
    n = x.shape[0]
    q = _batched_speed(step_fn, x)
    q_np = np.array(q)  # writable copies, updated in place
    x_np = np.array(x)
    state = {
        "q_ref": q_np.copy(),
        "since": np.zeros(n, np.int32),
        "done": ~(q_np > float(q_stop)),  # NaN starts are done
    }
    size = min(batch_size, n)
    for _ in range(-(-n_iterations // _ROUND)):
        active = np.flatnonzero(~state["done"])
        if not len(active):
            break
        for chunk in np.array_split(active, -(-len(active) // size)):
            # pad to the kernel's batch size with frozen copies of the chunk's first point
            pad = np.concatenate([chunk, np.full(size - len(chunk), chunk[0])])
            frozen = np.arange(size) >= len(chunk)
            out = _newton_round(
                step_fn,
                jnp.asarray(x_np[pad]),
                jnp.asarray(q_np[pad]),
                q_stop,
                jnp.asarray(state["q_ref"][pad]),
                jnp.asarray(state["since"][pad]),
                jnp.asarray(state["done"][pad] | frozen),
                n_steps=_ROUND,
            )
            keep = slice(0, len(chunk))
            x_np[chunk] = np.asarray(out[0])[keep]
            q_np[chunk] = np.asarray(out[1])[keep]
            state["q_ref"][chunk] = np.asarray(out[2])[keep]
            state["since"][chunk] = np.asarray(out[3])[keep]
            state["done"][chunk] = np.asarray(out[4])[keep]
    return jnp.asarray(x_np), jnp.asarray(q_np)
