"""Top Lyapunov exponents of a map or an ODE by the QR (Benettin) method.

- :func:`lyapunov_exponent`: the largest exponents of a discrete map ``x_{t+1} = F(x_t)``, the
  tangent basis pushed forward by forward-mode products and re-orthonormalised by QR every
  step, in one jitted ``lax.scan``;
- :func:`lyapunov_exponent_ode`: the same for ``dx/dt = f(x)``, through one classical RK4 step.

Both are re-exported by :mod:`brainbias.analysis.attractor_metrics`, next to the other
attractor-level measures.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, DataError
from ._validate import count, positive

__all__ = ["lyapunov_exponent", "lyapunov_exponent_ode"]


def _initial_tangents(n: int, k: int, key, dtype):
    if key is not None:
        m = jax.random.normal(key, (n, k), dtype=dtype)
    else:
        # Deterministic and generic: identity columns plus a dense all-ones part, so no
        # tangent is orthogonal to a coordinate-aligned (symmetric) direction.
        m = jnp.eye(n, k, dtype=dtype) + 1.0
    q, _ = jnp.linalg.qr(m)
    return q


@functools.partial(jax.jit, static_argnames=("step_fn", "n_steps", "transient", "jacobian"))
def _benettin(step_fn, x0, q0, *, n_steps: int, transient: int, jacobian: str):
    """Sum over ``n_steps`` of log|diag R| of the QR-reorthonormalised tangent basis.

    ``step_fn`` is a static argument: calling again with the same function object (and
    shapes) reuses the compiled scan.
    """

    def push(x, q):
        if jacobian == "jacfwd":
            return step_fn(x), jax.jacfwd(step_fn)(x) @ q
        # J @ q column by column with forward-mode products, without forming J (cost k/N of
        # jacfwd for k tangents).
        fx, lin = jax.linearize(step_fn, x)
        return fx, jax.vmap(lin, in_axes=1, out_axes=1)(q)

    def body(carry, _):
        x, q, acc = carry
        fx, jq = push(x, q)
        q_new, r = jnp.linalg.qr(jq)
        return (fx, q_new, acc + jnp.log(jnp.abs(jnp.diagonal(r)))), None

    zero = jnp.zeros(q0.shape[1], dtype=q0.dtype)
    # Transient: tangents align with the Lyapunov vectors; their growth is discarded.
    (x, q, _), _ = jax.lax.scan(body, (x0, q0, zero), None, length=transient)
    (x, q, acc), _ = jax.lax.scan(body, (x, q, zero), None, length=n_steps)
    return acc, x


def lyapunov_exponent(step_fn, x0, *, n_steps: int, dt: float, n_exponents: int = 1,
                      transient: int = 1000, key=None, jacobian: str = "jvp") -> np.ndarray:
    """Top Lyapunov exponents of a discrete map by the QR (Benettin) method.

    Along the orbit ``x_{t+1} = F(x_t)`` an orthonormal tangent basis ``Q`` (unit,
    n_exponents) is pushed forward, ``J(x_t) Q = Q' R`` (QR decomposition every step), and
    ``λ_i = Σ_t log|R_ii| / (n_steps · dt)``. The products ``J Q`` are formed by forward-mode
    differentiation of ``F`` (``jax.linearize`` + ``vmap``: the same numbers as
    ``jax.jacfwd(F)(x) @ Q`` at ``n_exponents/unit`` of its cost; ``jacobian="jacfwd"`` forms
    the Jacobian instead). Both phases run in one jitted ``lax.scan`` each.

    Parameters
    ----------
    step_fn : callable (unit,) → (unit,)
        A JAX-traceable, hashable map, e.g. ``brainbias.models.base.autonomous_map(network,
        bias)``. It is a static argument of the jitted scan: pass the same object again to
        reuse the compilation.
    x0 : array, shape (unit,)
        Initial state (on or near the attractor; the transient takes care of the rest).
    n_steps : int
        Steps averaged over (after the transient).
    dt : float
        Time per step of the map: exponents are returned per unit time.
    n_exponents : int
        How many of the largest exponents (≤ unit).
    transient : int
        Steps run first (state and tangents evolved, growth discarded).
    key : jax.random.PRNGKey, optional
        Random initial tangent basis; default a fixed dense basis (deterministic).
    jacobian : {"jvp", "jacfwd"}

    Returns
    -------
    ndarray, shape (n_exponents,)
        Exponents in descending order (per unit time; multiply by ``dt`` for per step).

    Raises
    ------
    DataError
        ``x0`` not a finite 1-D array, or the orbit diverged (non-finite exponents).
    ConfigError
        Bad ``n_steps``/``transient``/``n_exponents``/``dt``/``jacobian``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> lam = lyapunov_exponent(lambda x: 0.5 * x, jnp.ones(2), n_steps=10, dt=1.0,
    ...                         n_exponents=2, transient=0)
    >>> np.round(lam, 6).tolist()  # log 0.5 twice
    [-0.693147, -0.693147]
    """
    fn = "lyapunov_exponent"
    n_steps = count(fn, "n_steps", n_steps, 1)
    transient = count(fn, "transient", transient, 0)
    dt = positive(fn, "dt", dt)
    if jacobian not in ("jvp", "jacfwd"):
        raise ConfigError(f"{fn}: jacobian must be 'jvp' or 'jacfwd', got {jacobian!r}.")
    x0 = jnp.asarray(x0)
    if x0.ndim != 1 or not jnp.issubdtype(x0.dtype, jnp.floating):
        raise DataError(f"{fn}: x0 must be a 1-D float array (unit,), got shape {x0.shape} "
                        f"and dtype {x0.dtype}.")
    if not bool(jnp.all(jnp.isfinite(x0))):
        raise DataError(f"{fn}: x0 contains NaN or infinite values.")
    n = x0.shape[0]
    if isinstance(n_exponents, bool) or not isinstance(n_exponents, (int, np.integer)) or not (
        1 <= n_exponents <= n
    ):
        raise ConfigError(f"{fn}: n_exponents must be an int in [1, {n}], got {n_exponents!r}.")
    q0 = _initial_tangents(n, int(n_exponents), key, x0.dtype)
    try:
        hash(step_fn)
    except TypeError:
        raise ConfigError(f"{fn}: step_fn must be a hashable callable (a function or "
                          "functools.partial), got an unhashable {type(step_fn).__name__}."
                          ) from None
    acc, x_end = _benettin(step_fn, x0, q0, n_steps=n_steps, transient=transient,
                           jacobian=jacobian)
    lam = np.asarray(acc, dtype=float) / (n_steps * dt)
    if not (np.all(np.isfinite(lam)) and bool(jnp.all(jnp.isfinite(x_end)))):
        raise DataError(
            f"{fn}: the orbit or its tangents became non-finite (diverging map, or a tangent "
            "collapsed to 0 in a contracting direction); check step_fn, x0 and dt."
        )
    # QR of the evolved basis keeps the R diagonal ordered by growth only on average.
    return np.sort(lam)[::-1]


def lyapunov_exponent_ode(rhs, x0, *, dt: float, n_steps: int, n_exponents: int = 1,
                          transient: int = 1000, key=None) -> np.ndarray:
    """Top Lyapunov exponents of ``dx/dt = f(x)`` (classical RK4 with step ``dt``).

    The map is one RK4 step of ``f``; differentiating that step is exactly RK4 applied to the
    joint system of state and variational equation ``dQ/dt = J_f(x) Q``, so the tangent basis
    is integrated with the same scheme and re-orthonormalised by QR after every step
    (:func:`lyapunov_exponent`).

    Parameters
    ----------
    rhs : callable (dim,) → (dim,)
        JAX-traceable, hashable right-hand side ``f(x)``; the same object with the same
        ``dt`` reuses the compiled scan.
    x0 : array, shape (dim,)
    dt : float
        RK4 step (e.g. 0.01 for Lorenz-63).
    n_steps, n_exponents, transient, key
        As in :func:`lyapunov_exponent` (``transient`` in steps).

    Returns
    -------
    ndarray, shape (n_exponents,)
        Exponents per unit time, descending.

    Raises
    ------
    DataError, ConfigError
        As :func:`lyapunov_exponent`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> lam = lyapunov_exponent_ode(lambda x: -x, jnp.ones(1), dt=0.01, n_steps=100,
    ...                             transient=0)
    >>> round(float(lam[0]), 3)  # RK4 is exact to O(dt^4) for dx/dt = -x
    -1.0
    """
    dt = positive("lyapunov_exponent_ode", "dt", dt)
    try:
        hash(rhs)
    except TypeError:
        raise ConfigError("lyapunov_exponent_ode: rhs must be a hashable callable (a function "
                          f"or functools.partial), got an unhashable {type(rhs).__name__}."
                          ) from None
    return lyapunov_exponent(_rk4_map(rhs, dt), x0, n_steps=n_steps, dt=dt,
                             n_exponents=n_exponents, transient=transient, key=key)


@functools.lru_cache(maxsize=32)
def _rk4_map(rhs, dt: float):
    """One classical RK4 step of ``rhs``; cached so a repeated call reuses the compiled scan."""

    def rk4(x):
        k1 = rhs(x)
        k2 = rhs(x + 0.5 * dt * k1)
        k3 = rhs(x + 0.5 * dt * k2)
        k4 = rhs(x + dt * k3)
        return x + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    return rk4
