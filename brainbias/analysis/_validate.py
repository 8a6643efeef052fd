"""Input checks shared by the trajectory measures (:mod:`.attractor_metrics`, :mod:`.lyapunov`,
:mod:`.compare`): one (time, ·) series validator, and the option and scalar checks.

Each caller keeps its own wording (what the second axis is called, what a NaN means there), so
the messages users see are those of the function they called.
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import ConfigError, DataError, did_you_mean


def series_values(name: str, values, *, second: str) -> np.ndarray:
    """A plain array of shape (time, ``second``) of numbers, as float.

    Raises
    ------
    DataError
        Not 2-D, or not numeric.
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise DataError(
            f"{name}: expected an array of shape (time, {second}), got shape "
            f"{values.shape}. A single series needs an explicit axis: x[:, None]."
        )
    if not np.issubdtype(values.dtype, np.number):
        raise DataError(f"{name}: expected numbers, got dtype {values.dtype}.")
    return values.astype(float)


def check_series(name: str, values: np.ndarray, *, nonfinite_hint: str, width: str) -> np.ndarray:
    """``values`` (time, ·) unchanged when finite, with ≥ 2 time steps and ≥ 1 column.

    ``nonfinite_hint`` follows "contains k NaN or infinite value(s)" in the message; ``width``
    names one column ("dimension", "unit").

    Raises
    ------
    DataError
        NaN or infinite entries; fewer than 2 time steps or no column.
    """
    if not np.all(np.isfinite(values)):
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        raise DataError(f"{name}: contains {bad} NaN or infinite value(s){nonfinite_hint}")
    if values.shape[0] < 2 or values.shape[1] < 1:
        raise DataError(f"{name}: need at least 2 time steps and 1 {width}, got shape "
                        f"{values.shape}.")
    return values


def choice(fn: str, name: str, value, choices: tuple) -> None:
    """Raise unless ``value`` is one of ``choices`` (with a "did you mean" suggestion)."""
    if value not in choices:
        raise ConfigError(f"{fn}: {name} must be one of {choices}, got {value!r}."
                          + did_you_mean(value, choices))


def positive(fn: str, name: str, value) -> float:
    """``value`` as a float when it is a positive finite real number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or (
        not math.isfinite(value) or value <= 0
    ):
        raise ConfigError(f"{fn}: {name} must be a positive finite number, got {value!r}.")
    return float(value)


def count(fn: str, name: str, value, lo: int) -> int:
    """``value`` as an int when it is an integer ≥ ``lo`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ConfigError(f"{fn}: {name} must be an int ≥ {lo}, got {value!r}.")
    return int(value)
