"""Targets from outside: arrays (:func:`from_array`) and BrainPy models (:func:`from_brainpy`)."""

from __future__ import annotations

import math

import numpy as np

from ..._errors import ConfigError, DataError
from ..trajectory import Trajectory
from ._common import _finish, _real
from .limit_cycles import estimate_period


def from_array(
    outputs,
    *,
    dt: float,
    name: str = "target",
    inputs=None,
    output_names=(),
    input_names=(),
    kind: str = "other",
    lyapunov_exponent: float | None = None,
    period: float | None = None,
    standardise: bool = False,
    attrs=None,
) -> Trajectory:
    """Wrap arrays as a validated :class:`Trajectory`.

    Parameters
    ----------
    outputs : array, shape (time, output)
    dt : float
    inputs : array, shape (time, input), optional
    standardise : bool
        Z-score each output dimension (inputs are left as given).
    name, output_names, input_names, kind, lyapunov_exponent, period, attrs
        As in :class:`Trajectory`.

    Raises
    ------
    ConfigError
        Non-positive dt.
    DataError
        Arrays that are not 2-D, contain NaN/inf, disagree in length; constant outputs with
        ``standardise=True``.
    """
    dt = _real("dt", dt, positive=True)
    values = np.asarray(outputs, dtype=float)
    if standardise:
        # Trajectory validates shape and finiteness; do it first so the message is the same.
        values = Trajectory(outputs=values, dt=dt, name=name).outputs
    values, all_attrs = _finish(values, standardise=standardise, what=f"from_array({name!r})",
                                attrs={"generator": "array", **dict(attrs or {})})
    return Trajectory(outputs=values, dt=dt, name=name, inputs=inputs, output_names=output_names,
                      input_names=input_names, kind=kind, lyapunov_exponent=lyapunov_exponent,
                      period=period, attrs=all_attrs)


def from_brainpy(
    model,
    *,
    monitors,
    duration: float,
    dt: float,
    transient: float = 0.0,
    name: str = "brainpy",
    standardise: bool = True,
    inputs=None,
    runner_inputs=(),
    kind: str = "other",
    period: float | None = None,
) -> Trajectory:
    """Run any BrainPy ``DynamicalSystem`` with BrainPy's runner and use monitored variables.

    The model is run with ``bp.DSRunner`` for ``transient + duration`` time units; the
    monitored variables, flattened and concatenated along the output axis in the order of
    ``monitors``, become the outputs after the first ``transient / dt`` samples are dropped.
    BrainPy's global dt is set to ``dt`` during the run and restored afterwards.

    Parameters
    ----------
    model : brainpy.DynamicalSystem
        E.g. ``bp.dyn.rates.FHN(1)`` or ``bp.dyn.rates.WilsonCowanModel(1)``. It is advanced in
        place from its current state (BrainPy models hold their state, and their default
        initial states are drawn from BrainPy's own RNG: set them, or seed BrainPy, for a
        reproducible target).
    monitors : sequence of str
        Variable names, e.g. ``["x", "y"]``. A variable of size n gives outputs
        ``name[0] … name[n−1]``, one of size 1 gives ``name``.
    duration : float
        Time kept (``duration / dt`` samples, a whole number).
    dt : float
        Integration step = sampling interval.
    transient : float
        Time run and dropped first (a whole number of steps).
    name : str
    standardise : bool
        Z-score each output dimension (statistics in ``attrs``).
    inputs : array, shape (time, ...), optional
        One entry per step over ``transient + duration`` passed to ``model.update``
        (``DSRunner.run(inputs=...)``), e.g. a current for ``FHN.update(inp_x)``; kept, after
        the transient, as the Trajectory's inputs (time, input), so a network can be driven by
        the same signal.
    runner_inputs : optional
        BrainPy's own input specification for ``bp.DSRunner(inputs=...)``; not stored.
    kind : str
        Trajectory kind (e.g. ``"limit_cycle"``); BrainPy cannot tell.
    period : float, optional
        Period if known; for ``kind="limit_cycle"`` it is otherwise measured from the first
        output (:func:`estimate_period`).

    Returns
    -------
    Trajectory
        outputs (time, output): the monitored variables after the transient; inputs (time,
        input) if ``inputs`` was given.

    Raises
    ------
    ConfigError
        Not a BrainPy model, unknown monitors, bad duration/dt/transient, inputs of the wrong
        length.
    DataError
        Non-finite monitored values (the model diverged), constant outputs with
        ``standardise=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbias.interop.brainpy import import_brainpy
    >>> from brainbias.data.targets import from_brainpy
    >>> bp, bm = import_brainpy()
    >>> fhn = bp.dyn.rates.FHN(1)
    >>> traj = from_brainpy(fhn, monitors=["x", "y"], duration=200.0, dt=0.1, transient=100.0,
    ...                     inputs=np.full((3000, 1), 1.0), kind="limit_cycle")
    >>> traj.outputs.shape
    (2000, 2)
    """
    from ..._brainpy import run_brainpy

    dt = _real("dt", dt, positive=True)
    duration = _real("duration", duration, positive=True)
    transient = _real("transient", transient, nonnegative=True)
    n_keep = _whole_steps("duration", duration, dt)
    n_transient = _whole_steps("transient", transient, dt) if transient else 0
    if n_keep < 2:
        raise ConfigError(f"duration: {duration} / dt = {n_keep} samples; need at least 2.")
    n_total = n_keep + n_transient
    if inputs is not None:
        inputs = np.asarray(inputs, dtype=float)
        if inputs.ndim == 0 or inputs.shape[0] != n_total:
            raise ConfigError(
                f"inputs: expected one entry per step of transient + duration = {n_total} steps, "
                f"got shape {inputs.shape}."
            )
    monitored = run_brainpy(model, monitors=monitors, n_steps=n_total, dt=dt, inputs=inputs,
                            runner_inputs=runner_inputs)
    columns, names = [], []
    for m in monitors:
        values = monitored[m].reshape(n_total, -1)
        columns.append(values)
        names += [m] if values.shape[1] == 1 else [f"{m}[{i}]" for i in range(values.shape[1])]
    raw = np.concatenate(columns, axis=1)[n_transient:]
    if not np.all(np.isfinite(raw)):
        raise DataError(f"from_brainpy({name!r}): the monitored variables became NaN/infinite; "
                        "the model diverged (try a smaller dt or other parameters).")
    if kind == "limit_cycle" and period is None:
        period = estimate_period(raw[:, 0], dt)
        if period is None:
            raise ConfigError(
                f"from_brainpy({name!r}): kind='limit_cycle' but fewer than two periods of "
                f"{names[0]!r} were found in {duration} time units; the model may not oscillate, "
                "or increase duration, or pass period=."
            )
    values, attrs = _finish(raw, standardise=standardise, what=f"from_brainpy({name!r})", attrs={
        "generator": "brainpy", "model": type(model).__name__, "monitors": list(monitors),
        "transient": transient, "duration": duration,
    })
    kept_inputs = None
    if inputs is not None:
        kept_inputs = inputs.reshape(n_total, -1)[n_transient:]
    return Trajectory(outputs=values, dt=dt, name=name, inputs=kept_inputs,
                      output_names=tuple(names), kind=kind, period=period, attrs=attrs)


def _whole_steps(name, time, dt):
    steps = time / dt
    rounded = round(steps)
    if not math.isclose(steps, rounded, rel_tol=1e-9, abs_tol=1e-9):
        raise ConfigError(f"{name}: {time} is not a whole number of steps of dt = {dt} "
                          f"({steps:.6g} steps); choose a multiple of dt.")
    return int(rounded)
