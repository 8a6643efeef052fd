"""Fit-quality metrics of free-running output against a target (NumPy, per context).

Definitions (stated here because papers differ):

``nrmse``
    ``sqrt(Σ_t ‖ŷ_t − y_t‖² / Σ_t ‖y_t − ȳ‖²)`` over the first ``horizon`` steps: 0 is perfect,
    1 is as good as predicting the mean, ≈ √2 for an unrelated trajectory with the same statistics.
``valid_prediction_time``
    first step at which ``‖ŷ_t − y_t‖ / sqrt(mean_t ‖y_t − ȳ‖²)`` exceeds ``threshold``
    (default 0.4, as in reservoir-computing forecasting studies, e.g. Pathak et al. 2018), in
    steps, time units, and Lyapunov times ``t · λ_max``.
``oscillation``
    period from upward mean-crossings (linear interpolation, averaged over crossings and outputs)
    and amplitude ``(max − min)/2`` averaged over outputs, after dropping the first ``discard``
    fraction; ``period_error`` and ``amplitude_error`` are relative to the target's.
"""

from __future__ import annotations

import numpy as np

from .._errors import ConfigError, DataError

__all__ = ["nrmse", "valid_prediction_time", "oscillation", "limit_cycle_errors"]


def _pair(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_true.shape != y_pred.shape:
        raise DataError(f"metrics: target shape {y_true.shape} and prediction shape "
                        f"{y_pred.shape} differ.")
    return y_true, y_pred


def nrmse(y_true, y_pred, *, horizon: int | None = None) -> float:
    """Normalised RMS error over the first ``horizon`` steps (see module docstring).

    Parameters
    ----------
    y_true, y_pred : array, shape (time, output)
    horizon : int, optional
        Number of steps scored (default: all).
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if horizon is not None:
        y_true, y_pred = y_true[:horizon], y_pred[:horizon]
    denom = np.sum((y_true - y_true.mean(0)) ** 2)
    if denom == 0:
        return float("nan")
    return float(np.sqrt(np.sum((y_pred - y_true) ** 2) / denom))


def valid_prediction_time(y_true, y_pred, *, dt: float, threshold: float = 0.4,
                          lyapunov_exponent: float | None = None) -> dict:
    """How long a forecast stays close: first time the normalised error exceeds ``threshold``.

    ``e_t = ‖ŷ_t − y_t‖ / sqrt(mean_t ‖y_t − ȳ‖²)`` (Euclidean norm over outputs). The valid
    prediction time is the number of leading samples with ``e_t ≤ threshold`` (Pathak et al.
    2018 use 0.4), times ``dt``. If every sample is within the threshold the whole window length
    is returned (a lower bound). A NaN forecast (diverged) counts as beyond any threshold.

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (time, output)
    dt : float
    threshold : float
        Error level, in units of the truth's spread.
    lyapunov_exponent : float, optional
        Largest Lyapunov exponent λ (per time unit) of the true system.

    Returns
    -------
    dict
        ``steps`` (int), ``time`` (``steps · dt``) and ``lyapunov_times`` (``time · λ``; NaN
        without ``lyapunov_exponent``).

    Raises
    ------
    DataError
        Shapes differ, NaN in ``y_true``, a constant ``y_true``.
    ConfigError
        Non-positive ``dt``, ``threshold`` or ``lyapunov_exponent``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(np.arange(100) * 0.1)[:, None]
    >>> valid_prediction_time(y, y + np.arange(100)[:, None] * 0.01, dt=0.1)["steps"]
    27
    """
    for name, value in (("dt", dt), ("threshold", threshold), ("lyapunov_exponent",
                                                                 lyapunov_exponent)):
        if value is None and name == "lyapunov_exponent":
            continue
        if not (isinstance(value, (int, float, np.floating)) and np.isfinite(value) and value > 0):
            raise ConfigError(f"valid_prediction_time: {name} must be a positive number, "
                              f"got {value!r}.")
    y_true, y_pred = _pair(y_true, y_pred)
    if not np.all(np.isfinite(y_true)):
        raise DataError("valid_prediction_time: y_true contains NaN or infinite values.")
    scale = np.sqrt(np.mean(np.sum((y_true - y_true.mean(0)) ** 2, axis=1)))
    if scale == 0:
        raise DataError("valid_prediction_time: y_true is constant over the window; the error "
                        "cannot be normalised. Use a window over which the truth varies.")
    err = np.linalg.norm(y_pred - y_true, axis=1) / scale
    over = np.flatnonzero(~(err <= threshold))  # NaN counts as exceeded
    steps = int(over[0]) if over.size else len(err)
    time = steps * dt
    lyap = time * lyapunov_exponent if lyapunov_exponent else float("nan")
    return {"steps": steps, "time": time, "lyapunov_times": lyap}


def oscillation(y, *, dt: float, discard: float = 0.2) -> dict:
    """Period (time units) and amplitude of an oscillating signal (NaN if it does not oscillate).

    Parameters
    ----------
    y : array, shape (time, output)
    dt : float
    discard : float
        Fraction of the start dropped as transient.
    """
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    y = y[int(len(y) * discard) :]
    periods, amplitudes = [], []
    for d in range(y.shape[1]):
        s = y[:, d]
        amp = (s.max() - s.min()) / 2.0 if len(s) else np.nan
        centred = s - s.mean()
        up = np.flatnonzero((centred[:-1] < 0) & (centred[1:] >= 0))
        # ignore numerically flat signals (a collapse onto a fixed point)
        if len(up) >= 3 and amp > 1e-6 * max(1.0, np.abs(s).max()):
            frac = centred[up] / (centred[up] - centred[up + 1])  # linear interpolation
            times = (up + frac) * dt
            periods.append(np.mean(np.diff(times)))
            amplitudes.append(amp)
    if not periods:
        return {"period": float("nan"), "amplitude": float(np.nan if not len(y) else 0.0)}
    return {"period": float(np.mean(periods)), "amplitude": float(np.mean(amplitudes))}


def limit_cycle_errors(y_true, y_pred, *, dt: float, discard: float = 0.2) -> dict:
    """Relative period and amplitude errors of ``y_pred`` against ``y_true``.

    NaN period error means the prediction does not oscillate (e.g. it collapsed to a fixed point).
    """
    t = oscillation(y_true, dt=dt, discard=discard)
    p = oscillation(y_pred, dt=dt, discard=discard)
    if not (np.isfinite(t["period"]) and t["amplitude"] > 0):
        # the scored segment is shorter than ~3 target periods: nothing to compare against
        return {"period": p["period"], "target_period": t["period"],
                "period_error": float("nan"), "amplitude_error": float("nan")}
    period_error = abs(p["period"] - t["period"]) / t["period"]
    amplitude_error = abs(p["amplitude"] - t["amplitude"]) / t["amplitude"]
    return {"period": p["period"], "target_period": t["period"],
            "period_error": float(period_error), "amplitude_error": float(amplitude_error)}
