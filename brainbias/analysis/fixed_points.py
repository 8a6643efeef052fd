"""Fixed and slow points of a discrete map ``F: state (unit,) → state (unit,)``.

A fixed point solves ``F(x) = x``; a slow point is a local minimum of the speed

    q(x) = ½ ‖F(x) − x‖²          (``speed`` here; ½·sum over units, as Golub & Sussillo 2018)

that is small but not zero. The finder (Sussillo & Barak 2013; Golub & Sussillo 2018,
"FixedPointFinder") starts from states sampled on trajectories, minimises q for all starts at
once, then

1. polishes with a damped Newton method on ``F(x) − x = 0`` (see :func:`_newton_step`), so
   true fixed points reach ``q < q_tolerance`` (1e-12 by default) in float64 — in chaotic
   networks Adam alone stops at slow points or near fixed points, at q ≈ 1e-11…1e-3;
2. drops non-finite results and outliers far from the data cloud;
3. labels each point ``"fixed"`` (q < q_tolerance) or ``"slow"``;
4. deduplicates: points closer than ``unique_tolerance`` (Euclidean distance in state space)
   to a point with lower q are dropped.

Time convention: ``F`` is the discrete map ``x_{t+1} = F(x_t)``, e.g.
:func:`brainbias.models.rate.autonomous_map`. Its continuous-time field is ``(F(x) − x) / dt``,
whose
speed is ``q / dt²``; ``dt`` is stored when given.

BrainPy's ``analysis.SlowPointFinder`` is a second backend (``method="brainpy"``). Its loss is the
*mean* over units, ``q_bp = mean((F(x) − x)²) = 2 q / n_units``; we recompute q in our convention
for its results.
"""

from __future__ import annotations

import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .._errors import ConfigError, DataError, did_you_mean

__all__ = ["find_fixed_points", "speed", "METHODS", "SPEED_CONVENTION"]

METHODS = ("adam+newton", "brainpy")
SPEED_CONVENTION = "0.5*sum((F(x)-x)**2)"
FIXED, SLOW = "fixed", "slow"

# Dimension and variable names (schema v1 vocabulary).
FIXED_POINT_DIM, UNIT_DIM = "fixed_point", "unit"

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
# Optimiser defaults per method: ours (see find_fixed_points), and BrainPy's own
# (SlowPointFinder.find_fps_with_gd_method: Adam, lr 0.2 · 0.9999^k, num_opt 10000).
_DEFAULTS = {
    "adam+newton": {"n_iterations": 500, "learning_rate": 0.01, "learning_rate_decay": 0.999},
    "brainpy": {"n_iterations": 10000, "learning_rate": 0.2, "learning_rate_decay": 0.9999},
}


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
    try:
        hash(step_fn)
    except TypeError:  # not a static argument: trace it eagerly
        return jax.vmap(functools.partial(_speed, step_fn))(jnp.asarray(states))
    return _batched_speed(step_fn, jnp.asarray(states))


@functools.partial(jax.jit, static_argnames=("step_fn",))
def _batched_speed(step_fn, states):
    # jitted: op-by-op dispatch of a vmapped network step compiles every primitive separately
    return jax.vmap(functools.partial(_speed, step_fn))(states)


def _speed(step_fn, x):
    r = step_fn(x) - x
    return 0.5 * jnp.sum(r * r)


def _working_dtype():
    # float64 only where the user enabled x64 (never switched on here: that is global state).
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def _check_positive(name, value, *, allow_zero=False, allow_inf=False):
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = (not math.isnan(v)) and (allow_inf or math.isfinite(v))
        ok = ok and (v >= 0 if allow_zero else v > 0)
    if not ok:
        what = "a non-negative" if allow_zero else "a positive"
        what += " number" if allow_inf else " finite number"
        raise ConfigError(f"{name}: expected {what}, got {value!r}.")
    return float(value)


def _check_count(name, value, *, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name}: expected an integer ≥ {minimum}, got {value!r}.")
    return int(value)


def _check_key(key):
    if key is None:
        raise ConfigError(
            "key: expected a jax.random key (e.g. jax.random.PRNGKey(0)); got None. "
            "Randomness is always explicit in brainbias."
        )
    try:
        data = np.asarray(jax.random.key_data(key))
    except (TypeError, ValueError):
        data = np.asarray(key)
        if data.dtype != np.uint32 or data.shape != (2,):
            raise ConfigError(
                f"key: expected a jax.random key (e.g. jax.random.PRNGKey(0)); got {key!r}."
            ) from None
    return data


def _check_states(initial_states, dtype):
    """Validate (n, unit) starting states; return them as an array of ``dtype``."""
    try:
        arr = np.asarray(initial_states)
    except Exception as exc:  # noqa: BLE001 — anything that is not array-like
        raise DataError(
            f"initial_states: expected an array of shape (n, unit), got {type(initial_states)}."
        ) from exc
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"initial_states: expected a real numeric array, got dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise DataError("initial_states: expected real states, got a complex array.")
    if arr.ndim != 2:
        hint = " For a single state use states[None, :]." if arr.ndim == 1 else ""
        raise DataError(
            f"initial_states: expected shape (n, unit) (states sampled from trajectories), "
            f"got shape {arr.shape}.{hint} For (context, time, unit) data select one context "
            "and reshape time into n."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(
            f"initial_states: expected at least one state and one unit, got shape {arr.shape}."
        )
    bad = arr.size - int(np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise DataError(
            f"initial_states: contains {bad} NaN or infinite value(s); drop those states first "
            "(e.g. states[np.isfinite(states).all(axis=1)])."
        )
    return jnp.asarray(arr, dtype=dtype)


def _check_step_fn(step_fn, n_units, dtype):
    """Check that ``step_fn`` maps (unit,) to (unit,); warn if it lowers the precision."""
    if not callable(step_fn):
        raise ConfigError(
            f"step_fn: expected a callable state (unit,) → state (unit,), got {type(step_fn)}. "
            "Use brainbias.autonomous_map(network, bias)."
        )
    probe = jax.ShapeDtypeStruct((n_units,), dtype)
    try:
        out = jax.eval_shape(step_fn, probe)
    except (TypeError, ValueError, IndexError) as exc:
        raise ConfigError(
            f"step_fn: failed on a state of shape ({n_units},) (the unit axis of initial_states): "
            f"{exc}. Do the states and the network have the same number of units?"
        ) from exc
    shape = getattr(out, "shape", None)
    if shape != (n_units,):
        raise ConfigError(
            f"step_fn: expected it to return a state of shape ({n_units},) like its input, "
            f"got {out if shape is None else shape}. The map F must send (unit,) to (unit,)."
        )
    out_dtype = np.dtype(out.dtype)
    if not np.issubdtype(out_dtype, np.floating):
        raise ConfigError(f"step_fn: expected a floating-point output, got dtype {out_dtype}.")
    if out_dtype.itemsize < np.dtype(dtype).itemsize:
        warnings.warn(
            f"step_fn returns {out_dtype} for {np.dtype(dtype)} states, so q cannot go below "
            f"≈{float(np.finfo(out_dtype).eps) ** 2:.0e}; build the network in float64 "
            "(make_network(..., dtype=jnp.float64)) to reach q < 1e-12.",
            UserWarning,
            stacklevel=3,
        )


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


def _import_brainpy():
    """brainpy, imported without losing the caller's float64 setting (see
    :func:`brainbias.interop.brainpy.import_brainpy`)."""
    from ..interop.brainpy import import_brainpy

    return import_brainpy()[0]


def _brainpy_minimise(step_fn, starts, *, n_iterations, learning_rate, decay_rate, q_tolerance):
    """Run BrainPy's ``SlowPointFinder`` gradient descent; return its final states."""
    bp = _import_brainpy()
    n_units = starts.shape[1]
    # A pure function closing over arrays: BrainPy's finder fails with UnexpectedTracerError on
    # functions that read model state. f_type="discrete": its loss is then
    # mean((F(x) − x)²) over units = 2 q / n_units (q in our ½·sum convention).
    finder = bp.analysis.SlowPointFinder(step_fn, f_type="discrete", verbose=False)
    optimizer = bp.optim.Adam(
        lr=bp.optim.ExponentialDecayLR(learning_rate, 1, decay_rate),
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
    )
    # num_batch = num_opt: one compiled loop; BrainPy's default (100) re-enters Python every
    # 100 iterations, which dominates its run time.
    finder.find_fps_with_gd_method(
        starts,
        tolerance=2.0 * q_tolerance / n_units,
        num_batch=max(n_iterations, 1),
        num_opt=max(n_iterations, 1),
        optimizer=optimizer,
    )
    return jnp.asarray(np.asarray(finder.fixed_points), dtype=starts.dtype)


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
):
    """Fixed and slow points of the map ``step_fn``, from starts sampled on trajectories.

    Minimises the speed ``q(x) = ½ ‖F(x) − x‖²`` (Sussillo & Barak 2013) for all starts at once
    with Adam (``learning_rate · learning_rate_decay**k``), polishes with a damped Newton method,
    then filters, labels and deduplicates (see the module docstring).

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
        Points polished together by one compiled kernel (vmap; batches run one after another).
        Default: 16 on CPU, 128 elsewhere.

    Returns
    -------
    xarray.Dataset
        Dimensions ``(fixed_point, unit)``, points sorted by increasing q:

        - ``state`` (fixed_point, unit): the points;
        - ``speed`` (fixed_point,): q in the ½·sum convention;
        - ``kind`` (fixed_point,): ``"fixed"`` or ``"slow"``;
        - ``start_index`` (fixed_point,): which start (row of the starts used) led there.

        Attributes hold the conventions (``speed_convention``, ``time_convention``, ``dt``),
        every tolerance and rule, the method, ``n_starts`` and counts of what was dropped
        (``n_nonfinite``, ``n_outliers``, ``n_duplicates``), ``n_fixed``, ``n_slow`` and the
        key data.

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
    if method not in METHODS:
        raise ConfigError(
            f"method: expected one of {METHODS}, got {method!r}." + did_you_mean(method, METHODS)
        )
    key_data = _check_key(key)
    defaults = _DEFAULTS[method]
    n_iterations = defaults["n_iterations"] if n_iterations is None else n_iterations
    learning_rate = defaults["learning_rate"] if learning_rate is None else learning_rate
    if learning_rate_decay is None:
        learning_rate_decay = defaults["learning_rate_decay"]
    n_iterations = _check_count("n_iterations", n_iterations)
    newton_iterations = _check_count("newton_iterations", newton_iterations)
    if n_starts is not None:
        n_starts = _check_count("n_starts", n_starts, minimum=1)
    if newton_batch_size is not None:
        newton_batch_size = _check_count("newton_batch_size", newton_batch_size, minimum=1)
    noise_scale = _check_positive("noise_scale", noise_scale, allow_zero=True)
    learning_rate = _check_positive("learning_rate", learning_rate)
    decay = _check_positive("learning_rate_decay", learning_rate_decay)
    if decay > 1:
        raise ConfigError(f"learning_rate_decay: expected a number in (0, 1], got {decay!r}.")
    q_tolerance = _check_positive("q_tolerance", q_tolerance)
    unique_tolerance = _check_positive("unique_tolerance", unique_tolerance, allow_zero=True)
    outlier_distance = _check_positive("outlier_distance", outlier_distance, allow_inf=True)
    if dt is not None:
        dt = _check_positive("dt", dt)

    dtype = _working_dtype()
    if dtype != np.float64 and q_tolerance < 1e-10:
        warnings.warn(
            f"q_tolerance={q_tolerance:g} cannot be reached in float32 (q bottoms out near "
            "1e-10 or above); enable float64 with jax.config.update('jax_enable_x64', True) "
            "at the start of your program, or raise q_tolerance.",
            UserWarning,
            stacklevel=2,
        )
    data = _check_states(initial_states, dtype)
    n_units = data.shape[1]
    _check_step_fn(step_fn, n_units, dtype)

    f = _AsInputDtype(step_fn)
    starts = _starts(data, n_starts, noise_scale, jnp.asarray(key))
    n_used = starts.shape[0]

    if method == "adam+newton":
        x = starts
        if n_iterations > 0:
            x, _ = _adam(f, x, learning_rate, decay, n_iterations=n_iterations)
        if newton_iterations > 0:
            if newton_batch_size is None:
                newton_batch_size = (_CPU_NEWTON_BATCH if jax.default_backend() == "cpu"
                                     else _ACCELERATOR_NEWTON_BATCH)
            x, _ = _polish(
                f,
                x,
                jnp.asarray(q_tolerance * _POLISH_MARGIN, dtype),
                n_iterations=newton_iterations,
                batch_size=min(newton_batch_size, n_used),
            )
        used_newton = newton_iterations
    elif n_iterations == 0:
        x, used_newton = starts, 0
    else:
        x = _brainpy_minimise(
            f,
            starts,
            n_iterations=n_iterations,
            learning_rate=learning_rate,
            decay_rate=decay,
            q_tolerance=q_tolerance,
        )
        used_newton = 0

    # Everything below is bookkeeping on small arrays: NumPy.
    q = np.asarray(speed(f, x))
    x = np.asarray(x)
    index = np.arange(n_used)

    finite = np.isfinite(q) & np.all(np.isfinite(x), axis=1)
    n_nonfinite = int(np.count_nonzero(~finite))
    x, q, index = x[finite], q[finite], index[finite]

    data_np = np.asarray(data)
    centroid = data_np.mean(axis=0)
    scale = float(np.mean(np.linalg.norm(data_np - centroid, axis=1)))
    if math.isfinite(outlier_distance) and scale > 0:
        inside = np.linalg.norm(x - centroid, axis=1) <= outlier_distance * scale
    else:  # a single distinct start has no spread to measure distance against
        inside = np.ones(len(q), dtype=bool)
    n_outliers = int(np.count_nonzero(~inside))
    x, q, index = x[inside], q[inside], index[inside]

    kept = _deduplicate(x, q, unique_tolerance)
    n_duplicates = len(q) - len(kept)
    x, q, index = x[kept], q[kept], index[kept]
    kind = np.where(q < q_tolerance, FIXED, SLOW).astype(object)
    n_fixed = int(np.count_nonzero(kind == FIXED))

    if len(q) == 0:
        warnings.warn(
            f"find_fixed_points: none of the {n_used} starts gave a usable point "
            f"({n_nonfinite} non-finite, {n_outliers} outliers beyond {outlier_distance:g} × the "
            "data cloud's mean radius). Check the map, or raise outlier_distance.",
            UserWarning,
            stacklevel=2,
        )
    elif n_fixed == 0:
        warnings.warn(
            f"find_fixed_points: no start converged to q < {q_tolerance:g}; returning "
            f"{len(q)} slow point(s) (smallest q = {q.min():.3g}). More iterations, more or "
            "other starts, or a larger q_tolerance may help.",
            UserWarning,
            stacklevel=2,
        )

    attrs = {
        "speed_convention": SPEED_CONVENTION,
        "time_convention": (
            "discrete map x[t+1] = F(x[t]); continuous field (F(x) - x) / dt, "
            "whose speed is q / dt**2"
        ),
        "method": method,
        "n_starts": n_used,
        "n_iterations": n_iterations,
        "learning_rate": learning_rate,
        "learning_rate_decay": decay,
        "newton_iterations": used_newton,
        "noise_scale": noise_scale,
        "q_tolerance": q_tolerance,
        "unique_tolerance": unique_tolerance,
        "unique_rule": (
            "greedy in order of increasing q: a point within unique_tolerance (Euclidean "
            "distance in state space) of a kept point is dropped"
        ),
        "outlier_distance": outlier_distance,
        "outlier_rule": (
            "dropped when the distance to the centroid of initial_states exceeds "
            "outlier_distance times the mean distance of initial_states to that centroid"
        ),
        "n_nonfinite": n_nonfinite,
        "n_outliers": n_outliers,
        "n_duplicates": n_duplicates,
        "n_fixed": n_fixed,
        "n_slow": len(q) - n_fixed,
        "dtype": str(np.dtype(dtype)),
        "key_data": key_data.astype(np.int64).ravel(),
    }
    if dt is not None:
        attrs["dt"] = dt
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
