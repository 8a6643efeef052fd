"""Exception types. Every user error raised by brainbias is a :class:`BrainbiasError`.

The CLI catches :class:`BrainbiasError` and prints its message without a traceback; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import math

__all__ = [
    "BrainbiasError",
    "ConfigError",
    "DataError",
    "SchemaError",
    "TrainingError",
    "TrainingInterrupted",
    "did_you_mean",
    "check_positive",
    "check_int",
]


class BrainbiasError(Exception):
    """Base class for errors caused by user input (bad config, bad data, bad files)."""


class ConfigError(BrainbiasError, ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


class DataError(BrainbiasError, ValueError):
    """Input arrays or files are malformed (NaN, wrong shape, unreadable, ...)."""


class SchemaError(BrainbiasError, ValueError):
    """A results file does not follow a schema version this brainbias understands."""


class TrainingError(BrainbiasError, RuntimeError):
    """Training could not continue (e.g. a non-finite loss). The last good checkpoint is kept."""


class TrainingInterrupted(BrainbiasError, KeyboardInterrupt):
    """Training was interrupted (Ctrl-C). The last completed chunk was checkpointed."""


def did_you_mean(name: str, options) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest option, or ``""`` if none is close."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_positive(name: str, value, *, allow_zero: bool = False) -> None:
    """Raise ConfigError unless ``value`` is a finite (non-bool) number > 0 (≥ 0 if allowed)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        word = "non-negative" if allow_zero else "positive"
        raise ConfigError(f"{name}: expected a {word} number, got {value!r}.")


def check_int(name: str, value, *, minimum: int) -> None:
    """Raise ConfigError unless ``value`` is a (non-bool) integer ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: expected an integer ≥ {minimum}, got {value!r}.")
