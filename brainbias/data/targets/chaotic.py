"""Chaotic targets: the Lorenz-63 attractor and the Lorenz forecasting task."""

from __future__ import annotations

import math

from ..trajectory import Trajectory
from ._common import _finish, _initial_state, _integer, _integrate, _ode_attrs, _real

#: Largest Lyapunov exponent of Lorenz-63 at σ = 10, ρ = 28, β = 8/3 (per time unit):
#: 0.9056 (Sprott, *Chaos and Time-Series Analysis*, 2003, table of exponents; Viswanath 1998).
LORENZ_LYAPUNOV_EXPONENT = 0.9056
_LORENZ_STANDARD = (10.0, 28.0, 8.0 / 3.0)


def lorenz(*, n_steps: int, dt: float = 0.02,
           sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0,
           transient: float = 50.0, standardise: bool = True, initial_state=None,
           seed: int | None = None, name: str = "lorenz") -> Trajectory:
    """The Lorenz-63 attractor, outputs ``(x, y, z)``.

    ``dx/dt = σ (y − x)``, ``dy/dt = x (ρ − z) − y``, ``dz/dt = x y − β z``.

    Parameters
    ----------
    n_steps : int
        Samples ``T`` (≥ 2).
    dt : float
        Sampling interval (time units). At the default 0.02 one Lyapunov time is ≈ 55 steps.
    sigma, rho, beta : float
        ``σ, ρ, β``; the defaults are Lorenz's.
    transient : float
        Time integrated and dropped before the first sample (lets the orbit reach the attractor).
    standardise : bool
        Z-score each coordinate (statistics in ``attrs["mean"]``, ``attrs["std"]``).
    initial_state : array of shape (3,), optional
        Default ``(1, 1, 1)``; deterministic.
    seed : int, optional
        Instead of ``initial_state``: ``(1, 1, 1) + N(0, 1)`` noise drawn with this seed.
    name : str

    Returns
    -------
    Trajectory
        outputs (time, 3), ``kind="chaotic"``; ``lyapunov_exponent`` = 0.9056 for the
        standard parameters, ``None`` otherwise (brainbias does not estimate it).

    Raises
    ------
    ConfigError
        Non-positive ``dt``, ``n_steps < 2``, negative ``transient``, bad initial state.
    DataError
        The integration failed or diverged.

    Examples
    --------
    >>> from brainbias.data.targets import lorenz
    >>> traj = lorenz(n_steps=500)
    >>> traj.outputs.shape, traj.kind
    ((500, 3), 'chaotic')
    """
    n_steps = _integer("n_steps", n_steps, minimum=2)
    dt = _real("dt", dt, positive=True)
    sigma, rho, beta = (_real(k, v) for k, v in (("sigma", sigma), ("rho", rho), ("beta", beta)))
    transient = _real("transient", transient, nonnegative=True)
    x0 = _initial_state(initial_state, seed, 3, (1.0, 1.0, 1.0), 1.0, "lorenz")

    def field(_t, s):
        x, y, z = s
        return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]

    values = _integrate(field, x0, n_steps=n_steps, dt=dt, transient=transient, what="lorenz")
    attrs = _ode_attrs("lorenz", {"sigma": sigma, "rho": rho, "beta": beta},
                       transient=transient, x0=x0)
    values, attrs = _finish(values, standardise=standardise, what="lorenz", attrs=attrs)
    return Trajectory(outputs=values, dt=dt, name=name, output_names=("x", "y", "z"),
                      kind="chaotic", lyapunov_exponent=_lorenz_exponent(sigma, rho, beta),
                      attrs=attrs)


def _lorenz_exponent(sigma, rho, beta):
    # The literature value only holds at the standard parameters; elsewhere leave it unknown
    # rather than guess (valid-prediction-time metrics then report no Lyapunov times).
    if all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip((sigma, rho, beta),
                                                               _LORENZ_STANDARD, strict=True)):
        return LORENZ_LYAPUNOV_EXPONENT
    return None


def lorenz_forecast(*, n_steps: int, horizon_steps: int = 27, dt: float = 0.01,
                    sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0,
                    transient: float = 50.0, initial_state=None, seed: int | None = None,
                    name: str = "lorenz_forecast") -> Trajectory:
    """Forecast the Lorenz ``x`` coordinate ``horizon_steps`` ahead (input-driven task).

    Williams et al. (2024, §Lorenz) feed ``u_t = x_t`` and ask for ``y_t = x_{t+τ}`` with
    τ = 27 steps, the half-width of the autocorrelation of ``x`` at dt = 0.01.
    ``x`` is standardised once over all ``n_steps + horizon_steps`` samples, so that
    ``outputs[t] == inputs[t + horizon_steps]`` exactly.

    Parameters
    ----------
    n_steps : int
        Samples ``T`` of the task (``T + τ`` samples of ``x`` are generated).
    horizon_steps : int
        ``τ`` (≥ 1).
    dt, sigma, rho, beta, transient, initial_state, seed, name
        As in :func:`lorenz`.

    Returns
    -------
    Trajectory
        inputs (time, 1) named ``x(t)``, outputs (time, 1) named ``x(t+τ)``,
        ``kind="forecast"``; ``attrs["horizon_steps"]``.

    Raises
    ------
    ConfigError, DataError
        As in :func:`lorenz`.

    Examples
    --------
    >>> from brainbias.data.targets import lorenz_forecast
    >>> task = lorenz_forecast(n_steps=300)
    >>> bool((task.outputs[:-27] == task.inputs[27:]).all())
    True
    """
    n_steps = _integer("n_steps", n_steps, minimum=2)
    horizon = _integer("horizon_steps", horizon_steps, minimum=1)
    full = lorenz(n_steps=n_steps + horizon, dt=dt, sigma=sigma, rho=rho, beta=beta,
                  transient=transient, standardise=True, initial_state=initial_state, seed=seed,
                  name=name)
    x = full.outputs[:, :1]
    attrs = dict(full.attrs, generator="lorenz_forecast", horizon_steps=horizon)
    attrs["mean"], attrs["std"] = attrs["mean"][:1], attrs["std"][:1]
    return Trajectory(outputs=x[horizon:], inputs=x[:n_steps], dt=full.dt, name=name,
                      output_names=(f"x(t+{horizon})",), input_names=("x(t)",), kind="forecast",
                      lyapunov_exponent=full.lyapunov_exponent, attrs=attrs)
