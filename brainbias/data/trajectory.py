"""The :class:`Trajectory` container: what every target source produces and every fit consumes."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from .._errors import DataError

__all__ = ["Trajectory", "TARGET_KINDS"]

TARGET_KINDS = ("chaotic", "limit_cycle", "forecast", "recording", "other")


@dataclasses.dataclass(frozen=True, eq=False)
class Trajectory:
    """A target trajectory sampled on a regular grid (plain NumPy data, not a pytree).

    Parameters
    ----------
    outputs : ndarray, shape (time, output)
        What the network's readout must reproduce.
    dt : float
        Sampling interval (one network step per sample).
    name : str
        Becomes the context name when the trajectory is fitted.
    inputs : ndarray, shape (time, input), optional
        External inputs for input-driven tasks (e.g. forecasting).
    output_names, input_names : tuple of str, optional
        Labels for the output / input dimensions; default ``y0, y1, …`` / ``u0, …``.
    kind : str
        One of ``TARGET_KINDS``; selects which metrics apply.
    lyapunov_exponent : float, optional
        Largest Lyapunov exponent of the generating system (1 / time unit), for valid
        prediction time in Lyapunov times.
    period : float, optional
        Period of a limit cycle (time units).
    attrs : mapping
        Parameters of the generator (stored in results as provenance).

    Raises
    ------
    DataError
        Arrays that are not 2-D, contain NaN/inf, or disagree in length; non-positive dt.
    """

    outputs: np.ndarray
    dt: float
    name: str = "target"
    inputs: np.ndarray | None = None
    output_names: tuple = ()
    input_names: tuple = ()
    kind: str = "other"
    lyapunov_exponent: float | None = None
    period: float | None = None
    attrs: Mapping = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "outputs", _as_2d("outputs", self.outputs))
        if self.inputs is not None:
            set_(self, "inputs", _as_2d("inputs", self.inputs))
            if len(self.inputs) != len(self.outputs):
                raise DataError(
                    f"Trajectory {self.name!r}: inputs have {len(self.inputs)} time steps but "
                    f"outputs have {len(self.outputs)}; they must be sampled on the same grid."
                )
        if isinstance(self.dt, bool) or not isinstance(self.dt, (int, float)) or not (
            math.isfinite(self.dt) and self.dt > 0
        ):
            raise DataError(f"Trajectory {self.name!r}: dt must be a positive number, "
                            f"got {self.dt!r}.")
        if self.kind not in TARGET_KINDS:
            raise DataError(f"Trajectory {self.name!r}: kind must be one of {TARGET_KINDS}, "
                            f"got {self.kind!r}.")
        names = tuple(self.output_names) or tuple(f"y{i}" for i in range(self.n_outputs))
        if len(names) != self.n_outputs:
            raise DataError(f"Trajectory {self.name!r}: {len(names)} output_names for "
                            f"{self.n_outputs} outputs.")
        set_(self, "output_names", names)
        n_in = 0 if self.inputs is None else self.inputs.shape[1]
        in_names = tuple(self.input_names) or tuple(f"u{i}" for i in range(n_in))
        if len(in_names) != n_in:
            raise DataError(f"Trajectory {self.name!r}: {len(in_names)} input_names for "
                            f"{n_in} inputs.")
        set_(self, "input_names", in_names)
        set_(self, "attrs", dict(self.attrs))

    @property
    def n_steps(self) -> int:
        return self.outputs.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.outputs.shape[1]

    @property
    def n_inputs(self) -> int:
        return 0 if self.inputs is None else self.inputs.shape[1]

    @property
    def lyapunov_time_steps(self) -> float | None:
        """Steps per Lyapunov time ``1 / (λ dt)``, if the exponent is known."""
        if not self.lyapunov_exponent:
            return None
        return 1.0 / (self.lyapunov_exponent * self.dt)

    def renamed(self, name: str) -> Trajectory:
        return dataclasses.replace(self, name=name)


def _as_2d(what, array):
    arr = np.asarray(array, dtype=float)
    if arr.ndim != 2:
        raise DataError(f"{what}: expected a 2-D array (time, dimension), got shape {arr.shape}. "
                        "Reshape a single signal with x[:, None].")
    if arr.shape[0] < 2:
        raise DataError(f"{what}: expected at least 2 time steps, got {arr.shape[0]}.")
    if not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise DataError(f"{what}: contains {bad} NaN or infinite value(s).")
    return arr
