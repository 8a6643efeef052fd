"""BrainPy, imported and run safely: :func:`import_brainpy` and :func:`run_brainpy`.

A base module (it imports nothing from brainbias but its errors), so that every layer that needs
BrainPy — targets built on a BrainPy model, the export in :mod:`brainbias.interop.brainpy`, the
BrainPy fixed-point backend — imports it from here. ``brainpy`` is imported lazily (it costs
3–5 s), only inside these functions; never ``import brainpy`` directly.

BrainPy version notes (checked against 2.8.2 on Python 3.11 and 2.9.0 on Python 3.12): only
``bp.DynamicalSystem``, ``bp.DSRunner(target, monitors=, inputs=, dt=, progress_bar=)``,
``bp.share.load``, ``bm.Variable`` and ``bm.environment(dt=)`` are used here and in the export;
all exist in both. Differences and pitfalls:

- importing ``brainstate`` 0.5.x (BrainPy 2.8's dependency) switches JAX's ``jax_enable_x64``
  flag OFF for the whole process; ``brainstate`` 0.6 (BrainPy 2.9) keeps the flag as found.
  :func:`import_brainpy` undoes the 0.5.x side effect;
- in both, ``bp.DSRunner(..., dt=d).run(...)`` leaves BrainPy's global dt at ``d``;
  :func:`run_brainpy` restores it;
- in both, ``DSRunner.run(duration=D)`` runs ``int(D / dt)`` steps (floors 0.3 / 0.1 to 2).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import jax
import numpy as np

from ._errors import ConfigError, DataError, did_you_mean

__all__ = ["import_brainpy", "run_brainpy"]


def import_brainpy():
    """Import ``brainpy`` and ``brainpy.math`` without changing the caller's JAX precision.

    Returns
    -------
    bp, bm : module
        ``brainpy`` and ``brainpy.math``.

    Raises
    ------
    ImportError
        If BrainPy is not installed (it is a dependency of brainbias).

    Notes
    -----
    The first import of ``brainstate`` 0.5.x (pulled in by BrainPy 2.8) sets its own default
    precision of 32 bits and, with it, ``jax_enable_x64 = False`` for the whole process; float64
    arrays created afterwards are silently float32. This is not a setting brainbias makes: it
    puts back the flag the caller had before the import, through brainstate's own precision
    setting so that BrainPy and JAX agree. Later imports are no-ops.
    """
    x64_before = bool(jax.config.jax_enable_x64)
    import brainpy as bp
    import brainpy.math as bm

    if bool(jax.config.jax_enable_x64) != x64_before:
        import brainstate

        brainstate.environ.set(precision=64 if x64_before else 32)
    return bp, bm


def run_brainpy(model, *, monitors: Sequence[str], n_steps: int, dt: float, inputs=None,
                runner_inputs=()):
    """Run a BrainPy ``DynamicalSystem`` for ``n_steps`` steps with ``bp.DSRunner``.

    Parameters
    ----------
    model : brainpy.DynamicalSystem
        Advanced in place from its current state (BrainPy models hold their state); call
        ``model.reset_state()`` to start over.
    monitors : sequence of str
        Variable names as ``bp.DSRunner`` understands them (``"x"``, ``"E.x"``, ...).
    n_steps : int
        Number of steps ``T``.
    dt : float
        Step size. BrainPy's global dt is set to it during the run and restored afterwards:
        ``bp.DSRunner`` writes its ``dt`` into BrainPy's shared context, which in BrainPy 2.8
        and 2.9 is the same entry as the global ``bm.get_dt()``, and leaves it there.
    inputs : array, shape (time, ...), optional
        Passed positionally to ``model.update`` step by step (``DSRunner.run(inputs=...)``);
        its length must be ``n_steps``.
    runner_inputs : optional
        BrainPy's own input specification, passed as ``bp.DSRunner(inputs=...)``.

    Returns
    -------
    dict of str to ndarray
        Monitor name → array of shape (time, ...): the values after each of the ``T`` steps.

    Raises
    ------
    ConfigError
        ``model`` is not a BrainPy DynamicalSystem, bad monitors, bad ``n_steps``/``dt``, inputs
        of the wrong length, or a monitor BrainPy cannot resolve.
    """
    bp, bm = import_brainpy()
    if not isinstance(model, bp.DynamicalSystem):
        raise ConfigError(
            f"model: expected a brainpy DynamicalSystem (e.g. bp.dyn.rates.FHN(1)), got "
            f"{type(model).__name__}."
        )
    if isinstance(monitors, str) or not isinstance(monitors, Sequence) or not monitors or not all(
        isinstance(m, str) for m in monitors
    ):
        raise ConfigError(
            f"monitors: expected a non-empty sequence of variable names such as ['x', 'y'], "
            f"got {monitors!r}."
        )
    if len(set(monitors)) != len(monitors):
        raise ConfigError(f"monitors: names must be unique, got {list(monitors)}.")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise ConfigError(f"n_steps: expected a positive integer, got {n_steps!r}.")
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not (
        math.isfinite(dt) and dt > 0
    ):
        raise ConfigError(f"dt: expected a positive number, got {dt!r}.")
    dt = float(dt)
    if inputs is not None:
        inputs = np.asarray(inputs)
        if inputs.ndim < 1 or inputs.shape[0] != n_steps:
            raise ConfigError(
                f"inputs: expected shape (time, ...) with time = {n_steps} steps, got "
                f"{inputs.shape}."
            )
    try:
        runner = bp.DSRunner(model, monitors=list(monitors), inputs=runner_inputs, dt=dt,
                             progress_bar=False)
    except Exception as err:  # BrainPy raises several types for unknown variables
        raise ConfigError(
            f"monitors: BrainPy could not resolve {list(monitors)} on {type(model).__name__} "
            f"({type(err).__name__}: {err}). Variables of this model: "
            f"{_variable_names(model)}." + did_you_mean(monitors[0], _variable_names(model))
        ) from err
    # DSRunner leaves its dt in BrainPy's global dt (one brainstate environment entry);
    # bm.environment puts the caller's value back on exit, also when the run raises. Setting it
    # for the run also serves models that read bm.get_dt() instead of the shared dt.
    with bm.environment(dt=dt):
        if inputs is None:
            # DSRunner counts steps as int(duration / dt), which floors 0.3 / 0.1 to 2: ask for
            # half a step more so that exactly n_steps are run.
            runner.run(duration=(n_steps + 0.5) * dt)
        else:
            runner.run(inputs=inputs)
    out = {}
    for m in monitors:
        values = np.asarray(runner.mon[m])
        if values.shape[0] != n_steps:  # would be a BrainPy convention change: fail loudly
            raise DataError(f"BrainPy returned {values.shape[0]} samples of {m!r}, "
                            f"expected {n_steps}.")
        out[m] = values
    return out


def _variable_names(model) -> list:
    """The names of ``model``'s variables as a user writes them in ``monitors`` (for messages)."""
    try:
        names = list(model.vars().keys())
    except Exception:  # diagnostic only: never hide the original error
        return []
    # vars() keys look like "FHN0.x"; users write "x".
    return sorted({k.split(".", 1)[-1] for k in names})
