"""Target trajectories: chaotic and periodic systems, the forecasting task, arrays, BrainPy models.

Every generator returns a :class:`~brainbias.data.trajectory.Trajectory` sampled on the grid
``t_k = transient + k·dt``, ``k = 0 … n_steps − 1``. ODE systems are integrated with scipy's
8th-order Dormand–Prince method (DOP853, ``scipy.integrate.ode``, ``rtol = 1e-10``,
``atol = 1e-12``, integrated to each grid time), so the samples agree with an independent tight
solution to about 1e-8 over a few time units; the first ``transient`` time units are integrated
and dropped. (On a chaotic attractor any two integrators part after tens of time units: the
samples are *a* true orbit to that accuracy locally, not *the* orbit from the initial state.)
``standardise=True`` z-scores each output dimension; the means and standard deviations are kept
in ``attrs["mean"]`` and ``attrs["std"]`` so that ``raw = outputs · std + mean``.

``transient`` and ``dt`` are in the time unit of the system; ``n_steps`` counts samples.
Nothing here draws random numbers unless a ``seed`` is given.

:data:`TARGETS` maps config names to generators and :func:`make_target` builds a target from a
config table such as ``{"kind": "lorenz", "n_steps": 5000, "dt": 0.02}``.
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from .._errors import ConfigError, DataError, did_you_mean
from .trajectory import Trajectory

__all__ = [
    "LORENZ_LYAPUNOV_EXPONENT",
    "TARGETS",
    "lorenz",
    "lorenz_forecast",
    "van_der_pol",
    "stuart_landau",
    "cosine",
    "from_array",
    "from_brainpy",
    "make_target",
    "estimate_period",
]

#: Largest Lyapunov exponent of Lorenz-63 at σ = 10, ρ = 28, β = 8/3 (per time unit):
#: 0.9056 (Sprott, *Chaos and Time-Series Analysis*, 2003, table of exponents; Viswanath 1998).
LORENZ_LYAPUNOV_EXPONENT = 0.9056
_LORENZ_STANDARD = (10.0, 28.0, 8.0 / 3.0)

_RTOL = 1e-10
_ATOL = 1e-12
_METHOD = "DOP853"
# Step budget of the integrator between two samples. Lorenz at dt = 0.02 needs ~5 steps per
# sample; a solution blowing up in finite time spends the whole budget (~2 s at 20,000) first.
_MAX_STEPS_PER_SAMPLE = 20_000


# ---------------------------------------------------------------------------------------------
# Validation helpers (boundary checks with messages that say what to do)
# ---------------------------------------------------------------------------------------------


def _real(name, value, *, positive=False, nonnegative=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite number, got {value!r}.")
    if positive and value <= 0:
        raise ConfigError(f"{name}: expected a positive number, got {value!r}.")
    if nonnegative and value < 0:
        raise ConfigError(f"{name}: expected a number ≥ 0, got {value!r}.")
    return float(value)


def _integer(name, value, *, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name}: expected an integer, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ConfigError(f"{name}: expected at least {minimum}, got {value!r}.")
    return int(value)


def _initial_state(initial_state, seed, size, default, scale, what):
    """A deterministic default, a user-given state, or a seeded random one (never both)."""
    if initial_state is not None and seed is not None:
        raise ConfigError(f"{what}: give either initial_state or seed, not both.")
    if initial_state is not None:
        x0 = np.asarray(initial_state, dtype=float)
        if x0.shape != (size,) or not np.all(np.isfinite(x0)):
            raise ConfigError(
                f"initial_state: expected {size} finite numbers, got {initial_state!r}."
            )
        return x0
    if seed is not None:
        _integer("seed", seed, minimum=0)
        noise = np.random.default_rng(seed).standard_normal(size)
        return np.asarray(default, dtype=float) + scale * noise
    return np.asarray(default, dtype=float)


def _integrate(fun, x0, *, n_steps, dt, transient, what):
    """Solve the ODE and sample it on ``transient + k·dt``; DataError if it fails or diverges.

    Uses Hairer's Fortran DOP853 through ``scipy.integrate.ode``: the same method as
    ``solve_ivp(method="DOP853")`` at about a third of the cost, because the stepping loop runs
    in Fortran (13 s → 4 s for 50,000 Lorenz samples at dt = 0.02 on a 2-core CPU).
    The transient is also crossed in steps of ``dt``, so the step budget applies per sample and
    a diverging solution is caught early (budget exhausted, or |state| > 1e100, far beyond any
    bounded attractor).
    """
    import warnings

    from scipy.integrate import ode

    t_eval = transient + dt * np.arange(n_steps)
    t_transient = dt * np.arange(1, math.ceil(transient / dt))
    t_all = np.concatenate([t_transient[t_transient < transient], t_eval])
    keep = len(t_all) - n_steps
    solver = ode(fun).set_integrator(_METHOD.lower(), rtol=_RTOL, atol=_ATOL,
                                     nsteps=_MAX_STEPS_PER_SAMPLE)
    solver.set_initial_value(np.asarray(x0, dtype=float), 0.0)
    values = np.empty((n_steps, len(x0)))
    with warnings.catch_warnings(record=True) as caught:
        # scipy reports failures as warnings plus successful() == False; turn them into errors.
        warnings.simplefilter("always")
        for k, t in enumerate(t_all):
            state = solver.integrate(t) if t > solver.t else solver.y
            if not solver.successful() or not np.all(np.abs(state) < 1e100):
                detail = "; ".join(str(w.message) for w in caught) or "|state| > 1e100"
                raise DataError(
                    f"{what}: the integration failed or diverged at t = {t:.6g} ({detail}); "
                    "the system is unstable for these parameters (or, if the parameters are "
                    "right, use a smaller dt: the step budget is per sample)."
                )
            if k >= keep:
                values[k - keep] = state
    return values


def _standardise(values, what):
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    if np.any(std <= 1e-12 * np.maximum(1.0, np.abs(mean))):
        flat = [i for i in range(values.shape[1]) if std[i] <= 1e-12 * max(1.0, abs(mean[i]))]
        raise DataError(
            f"{what}: output dimension(s) {flat} are constant (the system sits at a fixed "
            "point), so they cannot be standardised. Use standardise=False or change the "
            "parameters/transient."
        )
    return (values - mean) / std, mean, std


def _finish(values, *, standardise, attrs, what):
    attrs = dict(attrs, standardised=bool(standardise))
    if standardise:
        values, mean, std = _standardise(values, what)
        attrs["mean"] = [float(v) for v in mean]
        attrs["std"] = [float(v) for v in std]
    return values, attrs


# ---------------------------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------------------------


def lorenz(
    *,
    n_steps: int,
    dt: float = 0.02,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    transient: float = 50.0,
    standardise: bool = True,
    initial_state=None,
    seed: int | None = None,
    name: str = "lorenz",
) -> Trajectory:
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
    values, attrs = _finish(values, standardise=standardise, what="lorenz", attrs={
        "generator": "lorenz", "sigma": sigma, "rho": rho, "beta": beta, "transient": transient,
        "initial_state": [float(v) for v in x0], "integrator": _METHOD, "rtol": _RTOL,
        "atol": _ATOL,
    })
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


def lorenz_forecast(
    *,
    n_steps: int,
    horizon_steps: int = 27,
    dt: float = 0.01,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    transient: float = 50.0,
    initial_state=None,
    seed: int | None = None,
    name: str = "lorenz_forecast",
) -> Trajectory:
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


def van_der_pol(
    *,
    n_steps: int,
    mu: float = 1.0,
    dt: float = 0.1,
    transient: float = 100.0,
    standardise: bool = True,
    initial_state=None,
    name: str = "van_der_pol",
) -> Trajectory:
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
    dt = _real("dt", dt, positive=True)
    transient = _real("transient", transient, nonnegative=True)
    x0 = _initial_state(initial_state, None, 2, (2.0, 0.0), 0.0, "van_der_pol")

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
    values, attrs = _finish(raw, standardise=standardise, what="van_der_pol", attrs={
        "generator": "van_der_pol", "mu": mu, "transient": transient,
        "initial_state": [float(v) for v in x0], "integrator": _METHOD, "rtol": _RTOL,
        "atol": _ATOL, "period_method": "upward mean-crossings of x, linear interpolation",
    })
    return Trajectory(outputs=values, dt=dt, name=name, output_names=("x", "dx/dt"),
                      kind="limit_cycle", period=period, attrs=attrs)


def stuart_landau(
    *,
    n_steps: int,
    omega: float = 1.0,
    growth_rate: float = 1.0,
    dt: float = 0.1,
    transient: float = 30.0,
    standardise: bool = True,
    initial_state=None,
    name: str = "stuart_landau",
) -> Trajectory:
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
    dt = _real("dt", dt, positive=True)
    transient = _real("transient", transient, nonnegative=True)
    x0 = _initial_state(initial_state, None, 2, (1.0, 0.0), 0.0, "stuart_landau")

    def field(_t, s):
        x, y = s
        r2 = x * x + y * y
        return [lam * x - omega * y - r2 * x, omega * x + lam * y - r2 * y]

    raw = _integrate(field, x0, n_steps=n_steps, dt=dt, transient=transient,
                     what="stuart_landau")
    values, attrs = _finish(raw, standardise=standardise, what="stuart_landau", attrs={
        "generator": "stuart_landau", "omega": omega, "growth_rate": lam,
        "radius": math.sqrt(lam), "transient": transient,
        "initial_state": [float(v) for v in x0], "integrator": _METHOD, "rtol": _RTOL,
        "atol": _ATOL,
    })
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
    from ..interop.brainpy import run_brainpy

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


# ---------------------------------------------------------------------------------------------
# Registry and configs
# ---------------------------------------------------------------------------------------------

TARGETS = {
    "lorenz": lorenz,
    "lorenz_forecast": lorenz_forecast,
    "van_der_pol": van_der_pol,
    "stuart_landau": stuart_landau,
    "cosine": cosine,
}


def make_target(spec) -> Trajectory:
    """Build a target from a config table, e.g. ``{"kind": "lorenz", "n_steps": 5000}``.

    Parameters
    ----------
    spec : mapping
        ``kind`` (a key of :data:`TARGETS`) and keyword arguments of that generator.

    Returns
    -------
    Trajectory

    Raises
    ------
    ConfigError
        Not a mapping, missing or unknown ``kind``, unknown or missing keys (with a
        suggestion), or values the generator rejects.

    Examples
    --------
    >>> from brainbias.data.targets import make_target
    >>> make_target({"kind": "cosine", "n_steps": 100, "name": "cos25"}).name
    'cos25'
    """
    if not hasattr(spec, "keys"):
        raise ConfigError(f"target: expected a table such as {{kind = 'lorenz', n_steps = 5000}}, "
                          f"got {type(spec).__name__}.")
    spec = dict(spec)
    if "kind" not in spec:
        raise ConfigError(f"target: missing 'kind'; expected one of {sorted(TARGETS)}.")
    kind = spec.pop("kind")
    if kind not in TARGETS:
        raise ConfigError(f"target kind: expected one of {sorted(TARGETS)}, got {kind!r}."
                          + did_you_mean(kind, TARGETS))
    generator = TARGETS[kind]
    params = inspect.signature(generator).parameters
    for key in spec:
        if key not in params:
            raise ConfigError(
                f"target {kind!r}: unknown key {key!r}; allowed keys are {sorted(params)}."
                + did_you_mean(key, params)
            )
    missing = [k for k, p in params.items() if p.default is inspect.Parameter.empty
               and k not in spec]
    if missing:
        raise ConfigError(f"target {kind!r}: missing required key(s) {missing}.")
    return generator(**spec)
