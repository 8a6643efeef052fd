"""Periodic targets: Van der Pol, Stuart–Landau, the cosine task, and period estimation."""

from __future__ import annotations

import math

import numpy as np

from ..._errors import ConfigError, DataError
from ..trajectory import Trajectory
from ._common import _finish, _grid_and_state, _integer, _integrate, _ode_attrs, _real


def van_der_pol(*, n_steps: int, mu: float = 1.0, dt: float = 0.1, transient: float = 100.0,
                standardise: bool = True, initial_state=None,
                name: str = "van_der_pol") -> Trajectory:
    """The Van der Pol relaxation oscillator, outputs ``(x, dx/dt)``.

    ``d²x/dt² − μ (1 − x²) dx/dt + x = 0``, written as ``dx/dt = v``,
    ``dv/dt = μ (1 − x²) v − x``.

    Parameters
    ----------
    n_steps : int
        Samples ``T``; they must cover at least two periods (the period is measured).
    mu : float
        ``μ`` > 0 (``μ = 1``: period ≈ 6.6633).
    dt, transient, standardise, name
        As in :func:`lorenz`.
    initial_state : array of shape (2,), optional
        Default ``(2, 0)``, close to the limit cycle.

    Returns
    -------
    Trajectory
        outputs (time, 2), ``kind="limit_cycle"``; ``period`` measured from upward
        mean-crossings of ``x`` (:func:`estimate_period`).

    Raises
    ------
    ConfigError
        Non-positive ``mu`` or ``dt``, ``n_steps`` covering fewer than two periods.
    DataError
        Integration failure.
    """
    n_steps = _integer("n_steps", n_steps, minimum=2)
    mu = _real("mu", mu, positive=True)
    dt, transient, x0 = _grid_and_state(dt, transient, initial_state, (2.0, 0.0), "van_der_pol")

    def field(_t, s):
        x, v = s
        return [v, mu * (1.0 - x * x) * v - x]

    raw = _integrate(field, x0, n_steps=n_steps, dt=dt, transient=transient, what="van_der_pol")
    period = estimate_period(raw[:, 0], dt)
    if period is None:
        raise ConfigError(
            f"van_der_pol: n_steps={n_steps} at dt={dt} covers {n_steps * dt:.4g} time units, "
            "fewer than two periods, so the period cannot be measured. Increase n_steps."
        )
    attrs = _ode_attrs("van_der_pol", {"mu": mu}, transient=transient, x0=x0,
                       period_method="upward mean-crossings of x, linear interpolation")
    values, attrs = _finish(raw, standardise=standardise, what="van_der_pol", attrs=attrs)
    return Trajectory(outputs=values, dt=dt, name=name, output_names=("x", "dx/dt"),
                      kind="limit_cycle", period=period, attrs=attrs)


def stuart_landau(*, n_steps: int, omega: float = 1.0, growth_rate: float = 1.0,
                  dt: float = 0.1, transient: float = 30.0, standardise: bool = True,
                  initial_state=None, name: str = "stuart_landau") -> Trajectory:
    """The Stuart–Landau oscillator (normal form of a supercritical Hopf bifurcation).

    ``dz/dt = (λ + iω) z − |z|² z`` with ``z = x + i y``; for ``λ > 0`` the limit cycle is the
    circle of radius ``√λ`` travelled at angular frequency ``ω``: period ``2π/|ω|``.
    Orbits approach it at rate ``2λ``, so ``transient`` should be several ``1/(2λ)``.

    Parameters
    ----------
    n_steps : int
    omega : float
        ``ω`` ≠ 0, angular frequency (rad per time unit); its sign sets the direction.
    growth_rate : float
        ``λ`` > 0, the linear growth rate (distance past the bifurcation).
    dt, transient, standardise, name
        As in :func:`lorenz`.
    initial_state : array of shape (2,), optional
        Default ``(1, 0)``.

    Returns
    -------
    Trajectory
        outputs (time, 2) ``(x, y)``, ``kind="limit_cycle"``, ``period = 2π/|ω|`` (analytic);
        ``attrs["radius"] = √λ`` (before standardisation).

    Raises
    ------
    ConfigError
        ``ω = 0``, ``λ ≤ 0``, non-positive ``dt``, ``n_steps < 2``.
    DataError
        Integration failure.
    """
    n_steps = _integer("n_steps", n_steps, minimum=2)
    omega = _real("omega", omega)
    if omega == 0:
        raise ConfigError("omega: expected a non-zero angular frequency, got 0 (no oscillation).")
    lam = _real("growth_rate", growth_rate, positive=True)
    dt, transient, x0 = _grid_and_state(dt, transient, initial_state, (1.0, 0.0),
                                        "stuart_landau")

    def field(_t, s):
        x, y = s
        r2 = x * x + y * y
        return [lam * x - omega * y - r2 * x, omega * x + lam * y - r2 * y]

    raw = _integrate(field, x0, n_steps=n_steps, dt=dt, transient=transient,
                     what="stuart_landau")
    attrs = _ode_attrs("stuart_landau", {"omega": omega, "growth_rate": lam,
                                         "radius": math.sqrt(lam)}, transient=transient, x0=x0)
    values, attrs = _finish(raw, standardise=standardise, what="stuart_landau", attrs=attrs)
    return Trajectory(outputs=values, dt=dt, name=name, output_names=("x", "y"),
                      kind="limit_cycle", period=2.0 * math.pi / abs(omega), attrs=attrs)


def cosine(
    *,
    n_steps: int,
    period_steps: float = 25,
    amplitude: float = 1.0,
    dt: float = 1.0,
    name: str = "cosine",
) -> Trajectory:
    """``y_k = A cos(2π k / P)`` for ``k = 0 … T − 1`` (exact, no integration).

    The autonomous task of Williams et al. (2024): a cosine of period P = 25 steps.

    Parameters
    ----------
    n_steps : int
    period_steps : float
        ``P`` ≥ 2 samples per period (need not be an integer).
    amplitude : float
        ``A`` > 0.
    dt : float
        Time per step; ``period = P·dt``.
    name : str

    Returns
    -------
    Trajectory
        outputs (time, 1), ``kind="limit_cycle"``, not standardised.

    Raises
    ------
    ConfigError
        ``P < 2`` (above the Nyquist frequency), non-positive amplitude or dt.

    Examples
    --------
    >>> from brainbias.data.targets import cosine
    >>> cosine(n_steps=50).period
    25.0
    """
    n_steps = _integer("n_steps", n_steps, minimum=2)
    period_steps = _real("period_steps", period_steps, positive=True)
    if period_steps < 2:
        raise ConfigError(f"period_steps: expected ≥ 2 samples per period (Nyquist), got "
                          f"{period_steps!r}.")
    amplitude = _real("amplitude", amplitude, positive=True)
    dt = _real("dt", dt, positive=True)
    k = np.arange(n_steps)
    values = amplitude * np.cos(2.0 * np.pi * k / period_steps)
    return Trajectory(outputs=values[:, None], dt=dt, name=name, output_names=("y",),
                      kind="limit_cycle", period=period_steps * dt,
                      attrs={"generator": "cosine", "period_steps": period_steps,
                             "amplitude": amplitude, "standardised": False})


# ---------------------------------------------------------------------------------------------
# Period estimation
# ---------------------------------------------------------------------------------------------


def estimate_period(signal, dt: float) -> float | None:
    """Mean period of an oscillating signal from its upward crossings of its mean.

    Crossing times are located by linear interpolation between samples; the period is
    ``(t_last − t_first) / (number of crossings − 1)``. With a smooth signal the interpolation
    error of each crossing is O(dt²), and only the first and last crossings enter.

    Parameters
    ----------
    signal : array, shape (time,)
    dt : float

    Returns
    -------
    float or None
        ``None`` if fewer than two upward crossings are found (less than ~2 periods).

    Raises
    ------
    DataError
        ``signal`` not 1-D or not finite.
    """
    s = np.asarray(signal, dtype=float)
    if s.ndim != 1 or not np.all(np.isfinite(s)):
        raise DataError(f"estimate_period: expected a finite 1-D signal, got shape {s.shape}.")
    d = s - s.mean()
    up = np.nonzero((d[:-1] < 0) & (d[1:] >= 0))[0]
    if len(up) < 2:
        return None
    times = (up + d[up] / (d[up] - d[up + 1])) * dt
    return float((times[-1] - times[0]) / (len(times) - 1))
