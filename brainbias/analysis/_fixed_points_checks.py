"""Settings and input checks of :func:`brainbias.analysis.fixed_points.find_fixed_points`: the
methods and their optimiser defaults, :func:`_settings` (every argument validated, defaults filled
in), and the checks of scalars, the key, the starting states, the map and the working dtype (also
used by :func:`brainbias.analysis.census.census`).
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, DataError, did_you_mean

METHODS = ("adam+newton", "brainpy")
NEWTON_METHODS = ("auto", "dense", "krylov")
# Optimiser defaults per method: ours (see find_fixed_points), and BrainPy's own
# (SlowPointFinder.find_fps_with_gd_method: Adam, lr 0.2 · 0.9999^k, num_opt 10000).
_DEFAULTS = {
    "adam+newton": {"n_iterations": 500, "learning_rate": 0.01, "learning_rate_decay": 0.999},
    "brainpy": {"n_iterations": 10000, "learning_rate": 0.2, "learning_rate_decay": 0.9999},
}


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


def _settings(method, key, *, n_starts, noise_scale, n_iterations, learning_rate,
              learning_rate_decay, newton_iterations, q_tolerance, unique_tolerance,
              outlier_distance, dt, newton_batch_size, newton="auto"):
    """Validated settings of :func:`~.fixed_points.find_fixed_points`, defaults filled in.

    Returns a dict keyed by argument name (``learning_rate_decay`` validated, ``key_data`` the
    key's data). Checks run in argument order, so the first bad argument is the one named.
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
    if newton not in NEWTON_METHODS:
        raise ConfigError(
            f"newton: expected one of {NEWTON_METHODS}, got {newton!r}."
            + did_you_mean(str(newton), NEWTON_METHODS)
        )
    return {
        "method": method, "key_data": key_data, "n_starts": n_starts,
        "noise_scale": noise_scale, "n_iterations": n_iterations,
        "learning_rate": learning_rate, "learning_rate_decay": decay,
        "newton_iterations": newton_iterations, "newton_batch_size": newton_batch_size,
        "q_tolerance": q_tolerance, "unique_tolerance": unique_tolerance,
        "outlier_distance": outlier_distance, "dt": dt, "newton": newton,
    }
