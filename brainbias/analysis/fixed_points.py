"""Fixed and slow points of a discrete map ``F: state (unit,) → state (unit,)``.

A fixed point solves ``F(x) = x``; a slow point is a local minimum of the speed

    q(x) = ½ ‖F(x) − x‖²          (``speed`` here; ½·sum over units, as Golub & Sussillo 2018)

that is small but not zero. The finder (Sussillo & Barak 2013; Golub & Sussillo 2018,
"FixedPointFinder") starts from states sampled on trajectories, minimises q for all starts at
once, then

1. polishes with a damped Newton method on ``F(x) − x = 0`` (dense Levenberg–Marquardt steps,
   or matrix-free Newton–Krylov for large networks; see ``newton``), so true fixed points reach
   ``q < q_tolerance`` (1e-12 by default) in float64 — in chaotic networks Adam alone stops at
   slow points or near fixed points, at q ≈ 1e-11…1e-3. The polish runs a batch of points at a
   time, lowest q first, and stops polishing a point as soon as it is recognised as a
   duplicate of a point found already (step 4 applied early), each point as soon as it
   converges or stalls;
2. drops non-finite results and outliers far from the data cloud;
3. labels each point ``"fixed"`` (q < q_tolerance) or ``"slow"``;
4. deduplicates: points closer than ``unique_tolerance`` (Euclidean distance in state space)
   to a point with lower q are dropped.

Time convention: ``F`` is the discrete map ``x_{t+1} = F(x_t)``, e.g.
:func:`brainbias.models.base.autonomous_map`. Its continuous-time field is ``(F(x) − x) / dt``,
whose speed is ``q / dt²``; ``dt`` is stored when given.

BrainPy's ``analysis.SlowPointFinder`` is a second backend (``method="brainpy"``). Its loss is the
*mean* over units, ``q_bp = mean((F(x) − x)²) = 2 q / n_units``; we recompute q in our convention
for its results.

Where things live: this module holds the finder's steps (starts, minimisation, filtering,
deduplication, packaging); Adam and the scheduling of the polish are in
:mod:`._fixed_points_solvers`, the Newton kernels in :mod:`._fixed_points_newton`, the map
wrapper that makes them compile once per network shape in :mod:`._fixed_points_map`, the
settings and input checks in :mod:`._fixed_points_checks`, the BrainPy backend in
:mod:`._fixed_points_brainpy`.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ._fixed_points_brainpy import (
    _brainpy_minimise,
    _import_brainpy,  # noqa: F401 (benchmarks import it from here)
)
from ._fixed_points_checks import METHODS, _check_states, _check_step_fn, _settings, _working_dtype
from ._fixed_points_solvers import (
    _POLISH_MARGIN,
    NEWTON_METHODS,
    _adam,
    _AsInputDtype,
    _batched_speed,
    _default_batch,
    _krylov_round,  # noqa: F401 (tests count its compilations through this module)
    _newton_round,  # noqa: F401 (idem)
    _polish_distinct,
    _resolve_newton,
)

__all__ = ["find_fixed_points", "speed", "METHODS", "NEWTON_METHODS", "SPEED_CONVENTION"]

SPEED_CONVENTION = "0.5*sum((F(x)-x)**2)"
FIXED, SLOW = "fixed", "slow"

# Dimension and variable names (schema v1 vocabulary).
FIXED_POINT_DIM, UNIT_DIM = "fixed_point", "unit"


def speed(step_fn, states):
    """The speed ``q = ½ ‖F(x) − x‖²`` of each state.

    Parameters
    ----------
    step_fn : callable, (unit,) → (unit,)
        The discrete map ``F``.
    states : array, shape (fixed_point, unit)

    Returns
    -------
    array, shape (fixed_point,)
    """
    return _batched_speed(_AsInputDtype(step_fn, cast=False), jnp.asarray(states))


def _starts(states, n_starts, noise_scale, key):
    """Choose ``n_starts`` rows of ``states`` (all, in order, when None) and add noise."""
    n = states.shape[0]
    k_choice, k_noise = jax.random.split(key)
    if n_starts is not None and n_starts != n:
        # Without replacement when possible: repeated starts waste work unless noise separates them.
        idx = jax.random.choice(k_choice, n, (n_starts,), replace=n_starts > n)
        states = states[idx]
    if noise_scale > 0:
        states = states + noise_scale * jax.random.normal(k_noise, states.shape, states.dtype)
    return states


def find_fixed_points(
    step_fn,
    initial_states,
    *,
    key,
    n_starts=None,
    noise_scale=0.0,
    n_iterations=None,
    learning_rate=None,
    learning_rate_decay=None,
    newton_iterations=40,
    q_tolerance=1e-12,
    unique_tolerance=1e-3,
    outlier_distance=10.0,
    method="adam+newton",
    dt=None,
    newton_batch_size=None,
    newton="auto",
):
    """Fixed and slow points of the map ``step_fn``, from starts sampled on trajectories.

    Minimises the speed ``q(x) = ½ ‖F(x) − x‖²`` (Sussillo & Barak 2013) for all starts at once
    with Adam (``learning_rate · learning_rate_decay**k``), polishes with a damped Newton method,
    then filters, labels and deduplicates (see the module docstring). The kernels compile once
    per network shape: a second bias, context or network of the same shape (a map from
    :func:`brainbias.autonomous_map`) reuses them.

    Parameters
    ----------
    step_fn : callable, (unit,) → (unit,)
        The discrete map ``F`` (e.g. ``brainbias.autonomous_map(network, bias)``). It must be a
        pure JAX function; it is traced with ``jit``, ``vmap`` and ``jacfwd``.
    initial_states : array, shape (n, unit)
        States sampled from trajectories (e.g. ``simulate`` output of one context). Cast to
        float64 when JAX x64 is enabled, else float32.
    key : jax.random key
        For subsampling and noise.
    n_starts : int, optional
        Number of starts drawn from ``initial_states`` (without replacement when ``n_starts ≤
        n``). Default: every state, in order.
    noise_scale : float
        Standard deviation of Gaussian noise added to each start (state units). Default 0.
    n_iterations : int, optional
        Adam iterations (0 skips Adam). Default 500; for ``method="brainpy"`` BrainPy's
        default, 10000.
    learning_rate, learning_rate_decay : float, optional
        Adam step size at iteration k is ``learning_rate · learning_rate_decay**k``. Defaults:
        0.01 and 0.999; for ``method="brainpy"`` BrainPy's, 0.2 and 0.9999. In state
        units: Adam moves each coordinate by about this much per step, so 500 steps from 0.01
        travel at most ≈ 4. Adam only has to bring starts into the Newton polish's basin, and
        large steps carry starts away from the fixed point whose basin they were sampled in
        (towards other zeros of q, e.g. saddles); on chaotic tanh networks (N = 200) 0.01 and
        0.05 found the same fixed points.
    newton_iterations : int
        Maximum damped Newton iterations per point (0 skips the polish). Ignored for
        ``method="brainpy"`` (that backend is BrainPy's optimiser alone).
    q_tolerance : float
        A point is ``"fixed"`` when ``q < q_tolerance`` (½·sum convention), else ``"slow"``.
    unique_tolerance : float
        Two points closer than this Euclidean distance in state space are the same point; the
        one with lower q is kept. 0 keeps all.
    outlier_distance : float
        A point is an outlier, and dropped, when its distance to the centroid of
        ``initial_states`` exceeds ``outlier_distance`` × the mean distance of ``initial_states``
        to that centroid (the rule of Golub & Sussillo's FixedPointFinder). ``inf`` keeps all.
    method : {"adam+newton", "brainpy"}
        ``"brainpy"`` runs ``brainpy.analysis.SlowPointFinder``'s Adam (same learning-rate
        schedule, ``num_batch = n_iterations``) instead of ours and no Newton polish; filtering,
        labels and deduplication are ours, so the two differ only in the optimiser.
    dt : float, optional
        Time step of the map, stored so that the continuous-time speed ``q / dt²`` can be had.
    newton_batch_size : int, optional
        Points polished together by one compiled kernel (vmap), and at most this many at a
        time: the others wait, in order of increasing q, and are dropped as duplicates without
        a polish of their own when they turn out to lead to a point already found. Default: 16
        on CPU, 128 elsewhere.
    newton : {"auto", "dense", "krylov"}
        How the Newton systems ``(J − I) d = −(F(x) − x)`` are solved. ``"dense"``: Jacobians
        by ``jax.jacfwd`` and Levenberg–Marquardt steps with Cholesky solves (O(N³) per step,
        N² memory per point; robust on ill-conditioned systems). ``"krylov"``: matrix-free
        inexact Newton–Krylov — GMRES on Jacobian-vector products, O(N²) per product for a
        dense network and O(synapses) for a sparse one, no N × N matrix; it converges slowly
        where ``J − I`` is ill-conditioned (chaotic networks). ``"auto"``: dense up to 2000
        units, else krylov.

    Returns
    -------
    xarray.Dataset
        Dimensions ``(fixed_point, unit)``, points sorted by increasing q:

        - ``state`` (fixed_point, unit): the points;
        - ``speed`` (fixed_point,): q in the ½·sum convention;
        - ``kind`` (fixed_point,): ``"fixed"`` or ``"slow"``;
        - ``start_index`` (fixed_point,): which start (row of the starts used) led there.

        Attributes hold the conventions (``speed_convention``, ``time_convention``, ``dt``),
        every tolerance and rule, the method and the Newton solver used (``newton``:
        ``"dense"``, ``"krylov"`` or ``"none"``), ``n_starts``, ``n_polished`` (starts
        polished in their own right, not dropped early as duplicates) and counts of what was
        dropped (``n_nonfinite``, ``n_outliers``, ``n_duplicates``), ``n_fixed``, ``n_slow``
        and the key data.

    Raises
    ------
    DataError
        ``initial_states`` not of shape (n, unit), empty, complex or containing NaN/inf.
    ConfigError
        ``step_fn`` not callable, failing on a (unit,) state, or not returning shape (unit,);
        an unknown method; non-positive tolerances or counts; no key.

    Warns
    -----
    UserWarning
        When no start converged to ``q < q_tolerance`` (the slow points are returned); when
        ``q_tolerance < 1e-10`` without JAX x64 (float32 cannot reach it); when every point was
        dropped as an outlier or non-finite.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from brainbias import make_network, autonomous_map, simulate
    >>> from brainbias.analysis.fixed_points import find_fixed_points
    >>> net = make_network(20, key=jax.random.PRNGKey(0))
    >>> bias = jnp.zeros(20)
    >>> states, _ = simulate(net, bias, jnp.ones(20), n_steps=200)
    >>> fps = find_fixed_points(autonomous_map(net, bias), states[::10], key=jax.random.PRNGKey(1))
    >>> fps["state"].dims
    ('fixed_point', 'unit')
    """
    settings = _settings(
        method, key, n_starts=n_starts, noise_scale=noise_scale, n_iterations=n_iterations,
        learning_rate=learning_rate, learning_rate_decay=learning_rate_decay,
        newton_iterations=newton_iterations, q_tolerance=q_tolerance,
        unique_tolerance=unique_tolerance, outlier_distance=outlier_distance, dt=dt,
        newton_batch_size=newton_batch_size, newton=newton,
    )
    dtype = _working_dtype()
    if dtype != np.float64 and settings["q_tolerance"] < 1e-10:
        warnings.warn(
            f"q_tolerance={settings['q_tolerance']:g} cannot be reached in float32 (q bottoms "
            "out near 1e-10 or above); enable float64 with jax.config.update('jax_enable_x64', "
            "True) at the start of your program, or raise q_tolerance.",
            UserWarning,
            stacklevel=2,
        )
    data = _check_states(initial_states, dtype)
    n_units = data.shape[1]
    _check_step_fn(step_fn, n_units, dtype)

    f = _AsInputDtype(step_fn)
    starts = _starts(data, settings["n_starts"], settings["noise_scale"], jnp.asarray(key))
    x, duplicate_of, polish = _minimise(f, starts, settings, dtype)

    # Everything below is bookkeeping on small arrays: NumPy.
    q = np.asarray(_batched_speed(f, jnp.asarray(x)))
    x, q, index, dropped = _filter(np.asarray(x), q, np.asarray(data), settings, duplicate_of)
    kind = np.where(q < settings["q_tolerance"], FIXED, SLOW).astype(object)
    n_fixed = int(np.count_nonzero(kind == FIXED))
    _warn_if_unusable(q, n_fixed, starts.shape[0], dropped, settings)
    attrs = _attrs(settings, n_used=starts.shape[0], polish=polish, dropped=dropped,
                   n_fixed=n_fixed, n_points=len(q), dtype=dtype)
    return xr.Dataset(
        {
            "state": ((FIXED_POINT_DIM, UNIT_DIM), x.reshape(len(q), n_units)),
            "speed": ((FIXED_POINT_DIM,), q),
            "kind": ((FIXED_POINT_DIM,), kind.astype(str)),
            "start_index": ((FIXED_POINT_DIM,), index.astype(np.int64)),
        },
        coords={FIXED_POINT_DIM: np.arange(len(q))},
        attrs=attrs,
    )


# ----------------------------------------------------------------------------- the steps


def _minimise(f, starts, settings, dtype):
    """Run the chosen optimiser from every start. Returns the end points, ``duplicate_of``
    (n,) from the polish (−1: a point in its own right) and the polish used (Newton iterations
    allowed, 0 for BrainPy, which has no polish; the Newton method)."""
    no_duplicates = np.full(starts.shape[0], -1)
    if settings["method"] == "adam+newton":
        return _adam_newton(f, starts, settings, dtype)
    none = {"newton_iterations": 0, "newton": "none", "n_polished": 0}
    if settings["n_iterations"] == 0:
        return starts, no_duplicates, none
    x = _brainpy_minimise(
        f,
        starts,
        n_iterations=settings["n_iterations"],
        learning_rate=settings["learning_rate"],
        decay_rate=settings["learning_rate_decay"],
        q_tolerance=settings["q_tolerance"],
    )
    return x, no_duplicates, none


def _adam_newton(f, starts, settings, dtype):
    """Our method: Adam on q for all starts at once, then the damped Newton polish, which
    drops duplicates as soon as it recognises them."""
    x = starts
    if settings["n_iterations"] > 0:
        x, _ = _adam(f, x, settings["learning_rate"], settings["learning_rate_decay"],
                     n_iterations=settings["n_iterations"])
    newton = _resolve_newton(settings["newton"], starts.shape[1])
    polish = {"newton_iterations": settings["newton_iterations"], "newton": newton}
    if settings["newton_iterations"] == 0:
        return x, np.full(starts.shape[0], -1), {**polish, "newton": "none", "n_polished": 0}
    batch_size = settings["newton_batch_size"] or _default_batch()
    x, _, duplicate_of = _polish_distinct(
        f,
        x,
        jnp.asarray(settings["q_tolerance"] * _POLISH_MARGIN, dtype),
        n_iterations=settings["newton_iterations"],
        batch_size=min(batch_size, starts.shape[0]),
        newton=newton,
        unique_tolerance=settings["unique_tolerance"],
    )
    return x, duplicate_of, {**polish, "n_polished": int(np.count_nonzero(duplicate_of < 0))}


def _filter(x, q, data, settings, duplicate_of):
    """Drop the duplicates the polish found, non-finite points, outliers and duplicates (in
    that order).

    Returns the kept points, their q, the start each came from, and the counts dropped
    (``n_nonfinite``, ``n_outliers``, ``n_duplicates``: both kinds of duplicates).
    """
    index = np.flatnonzero(duplicate_of < 0)
    n_early = len(q) - len(index)
    x, q = x[index], q[index]
    finite = np.isfinite(q) & np.all(np.isfinite(x), axis=1)
    n_nonfinite = int(np.count_nonzero(~finite))
    x, q, index = x[finite], q[finite], index[finite]

    inside = _inside_data_cloud(x, data, settings["outlier_distance"])
    n_outliers = int(np.count_nonzero(~inside))
    x, q, index = x[inside], q[inside], index[inside]

    kept = _deduplicate(x, q, settings["unique_tolerance"])
    dropped = {"n_nonfinite": n_nonfinite, "n_outliers": n_outliers,
               "n_duplicates": n_early + len(q) - len(kept)}
    return x[kept], q[kept], index[kept], dropped


def _inside_data_cloud(x, data, outlier_distance):
    """Which points lie within ``outlier_distance`` × the data's mean radius of its centroid."""
    centroid = data.mean(axis=0)
    scale = float(np.mean(np.linalg.norm(data - centroid, axis=1)))
    if math.isfinite(outlier_distance) and scale > 0:
        return np.linalg.norm(x - centroid, axis=1) <= outlier_distance * scale
    # a single distinct start has no spread to measure distance against
    return np.ones(len(x), dtype=bool)


def _deduplicate(x, q, tolerance):
    """Indices of the points kept: greedy in order of increasing q (ties: input order)."""
    order = np.argsort(q, kind="stable")
    kept = []
    for i in order:
        if kept and tolerance > 0:
            d = np.linalg.norm(x[kept] - x[i], axis=1)
            if np.any(d <= tolerance):
                continue
        kept.append(i)
    return np.asarray(kept, dtype=int)


def _warn_if_unusable(q, n_fixed, n_used, dropped, settings):
    """Warn (at the caller of find_fixed_points) when no point, or no fixed point, is left."""
    if len(q) == 0:
        warnings.warn(
            f"find_fixed_points: none of the {n_used} starts gave a usable point "
            f"({dropped['n_nonfinite']} non-finite, {dropped['n_outliers']} outliers beyond "
            f"{settings['outlier_distance']:g} × the data cloud's mean radius). Check the map, "
            "or raise outlier_distance.",
            UserWarning,
            stacklevel=3,
        )
    elif n_fixed == 0:
        warnings.warn(
            f"find_fixed_points: no start converged to q < {settings['q_tolerance']:g}; "
            f"returning {len(q)} slow point(s) (smallest q = {q.min():.3g}). More iterations, "
            "more or other starts, or a larger q_tolerance may help.",
            UserWarning,
            stacklevel=3,
        )


def _attrs(settings, *, n_used, polish, dropped, n_fixed, n_points, dtype):
    """The result's attributes: conventions, every setting and rule, and what was dropped."""
    attrs = {
        "speed_convention": SPEED_CONVENTION,
        "time_convention": (
            "discrete map x[t+1] = F(x[t]); continuous field (F(x) - x) / dt, "
            "whose speed is q / dt**2"
        ),
        "method": settings["method"],
        "n_starts": n_used,
        "n_iterations": settings["n_iterations"],
        "learning_rate": settings["learning_rate"],
        "learning_rate_decay": settings["learning_rate_decay"],
        "newton_iterations": polish["newton_iterations"],
        "newton": polish["newton"],
        "n_polished": polish["n_polished"],
        "noise_scale": settings["noise_scale"],
        "q_tolerance": settings["q_tolerance"],
        "unique_tolerance": settings["unique_tolerance"],
        "unique_rule": (
            "greedy in order of increasing q: a point within unique_tolerance (Euclidean "
            "distance in state space) of a kept point is dropped; during the Newton polish, "
            "a point is dropped as soon as it comes within unique_tolerance of a converged "
            "point or of a point of lower q, or converges to a converged point under chord "
            "iterations with that point's Jacobian"
        ),
        "outlier_distance": settings["outlier_distance"],
        "outlier_rule": (
            "dropped when the distance to the centroid of initial_states exceeds "
            "outlier_distance times the mean distance of initial_states to that centroid"
        ),
        **dropped,
        "n_fixed": n_fixed,
        "n_slow": n_points - n_fixed,
        "dtype": str(np.dtype(dtype)),
        "key_data": settings["key_data"].astype(np.int64).ravel(),
    }
    if settings["dt"] is not None:
        attrs["dt"] = settings["dt"]
    return attrs
