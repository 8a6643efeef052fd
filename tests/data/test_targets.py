"""Tests for brainbias.data.targets: each generator against an analytic or independent reference."""

import importlib.util
import math

import jax
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from brainbias import ConfigError, DataError, Trajectory
from brainbias.data import targets as T

# ---------------------------------------------------------------------------------------------
# Lorenz
# ---------------------------------------------------------------------------------------------


def _lorenz_field(_t, s, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    x, y, z = s
    return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]


def test_lorenz_matches_independent_rk45_over_short_horizon():
    dt, n = 0.02, 101  # 2 time units ≈ 1.8 Lyapunov times
    traj = T.lorenz(n_steps=n, dt=dt, transient=5.0, standardise=False)
    ref = solve_ivp(_lorenz_field, (0.0, (n - 1) * dt), traj.outputs[0], method="RK45",
                    t_eval=dt * np.arange(n), rtol=1e-12, atol=1e-12).y.T
    # Both solutions carry errors ~1e-10 relative per unit time; over 2 time units chaos
    # amplifies them by e^{0.9·2} ≈ 6; states are O(20). Measured difference 2e-10; 1e-8
    # leaves a 50× margin and is far below any real discrepancy (a wrong sign or a dt slip
    # gives O(1)).
    np.testing.assert_allclose(traj.outputs, ref, rtol=0, atol=1e-8)
    assert traj.kind == "chaotic"
    assert traj.output_names == ("x", "y", "z")
    assert traj.attrs["integrator"] == "DOP853"


def test_lorenz_reaches_the_attractor_after_the_transient():
    raw = T.lorenz(n_steps=2000, dt=0.02, standardise=False).outputs
    # The Lorenz attractor lies in |x| < 20, |y| < 28, 0 < z < 50 and circles both wings.
    assert np.all(np.abs(raw[:, 0]) < 20) and np.all(np.abs(raw[:, 1]) < 28)
    assert np.all((raw[:, 2] > 0) & (raw[:, 2] < 50))
    assert (raw[:, 0] > 0).any() and (raw[:, 0] < 0).any()


def test_standardisation_is_exact_and_invertible():
    z = T.lorenz(n_steps=1500, dt=0.02)
    raw = T.lorenz(n_steps=1500, dt=0.02, standardise=False)
    # Same integration, so only floating-point rounding of (x − m)/s separates them.
    np.testing.assert_allclose(z.outputs.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.outputs.std(axis=0), 1.0, rtol=1e-12)
    undone = z.outputs * np.asarray(z.attrs["std"]) + np.asarray(z.attrs["mean"])
    np.testing.assert_allclose(undone, raw.outputs, rtol=1e-12, atol=1e-12)
    assert z.attrs["standardised"] is True and raw.attrs["standardised"] is False


def test_lorenz_lyapunov_exponent_only_for_standard_parameters():
    standard = T.lorenz(n_steps=10, transient=0.0)
    assert standard.lyapunov_exponent == pytest.approx(0.9056)
    assert T.lorenz(n_steps=10, rho=35.0, transient=0.0).lyapunov_exponent is None
    # one Lyapunov time at dt = 0.02 ≈ 55 steps (REFERENCES §5)
    assert standard.lyapunov_time_steps == pytest.approx(55.2, abs=0.1)


def test_lorenz_initial_state_and_seed():
    a = T.lorenz(n_steps=20, seed=1, transient=0.0, standardise=False)
    b = T.lorenz(n_steps=20, seed=1, transient=0.0, standardise=False)
    c = T.lorenz(n_steps=20, seed=2, transient=0.0, standardise=False)
    np.testing.assert_array_equal(a.outputs, b.outputs)
    assert not np.allclose(a.outputs, c.outputs)
    d = T.lorenz(n_steps=20, initial_state=[1.0, 2.0, 3.0], transient=0.0, standardise=False)
    np.testing.assert_array_equal(d.outputs[0], [1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="either initial_state or seed"):
        T.lorenz(n_steps=20, seed=1, initial_state=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="initial_state"):
        T.lorenz(n_steps=20, initial_state=[1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# Limit cycles
# ---------------------------------------------------------------------------------------------

# Period of the Van der Pol oscillator at μ = 1 (time units): 6.6633 to the 4 digits quoted in
# the literature; the more precise 6.663286859 is confirmed independently below.
VDP_PERIOD_MU1 = 6.6633


def _vdp_period_by_events(mu):
    """Independent reference: exact upward zero crossings from RK45 dense output (root finding)."""

    def field(_t, s):
        return [s[1], mu * (1 - s[0] ** 2) * s[1] - s[0]]

    def crossing(_t, s):
        return s[0]

    crossing.direction = 1.0
    sol = solve_ivp(field, (0.0, 80.0), [2.0, 0.0], method="RK45", events=crossing,
                    rtol=1e-12, atol=1e-12)
    times = sol.t_events[0]
    times = times[times > 30.0]  # after the transient (≥ 6 periods remain for μ ≤ 2)
    return (times[-1] - times[0]) / (len(times) - 1)


def test_van_der_pol_period_mu1():
    traj = T.van_der_pol(n_steps=2000, mu=1.0, dt=0.1)
    assert traj.kind == "limit_cycle"
    # 4 quoted digits → ±5e-5; linear interpolation of crossings adds O(dt²/8) ≈ 1e-3 per
    # crossing at worst but only (first − last)/(cycles − 1) enters: measured 1.2e-5 at dt 0.1.
    assert traj.period == pytest.approx(VDP_PERIOD_MU1, abs=1e-4)
    # Agreement of two methods (grid crossings vs root-found event times): ~1e-5 as above.
    assert traj.period == pytest.approx(_vdp_period_by_events(1.0), abs=5e-5)
    # The signal itself repeats after one period: compare x one period apart (interpolated).
    dt = 0.02
    x = T.van_der_pol(n_steps=1000, mu=1.0, dt=dt, standardise=False).outputs[:, 0]
    t = dt * np.arange(len(x))
    shifted = np.interp(t[:600] + traj.period, t, x)
    # Linear interpolation error ≤ dt²/8 · max|x''| with max|x''| ≈ 6 on this cycle: 3e-4;
    # the 1e-5 period error adds ≤ 1e-5 · max|x'| ≈ 3e-5.
    np.testing.assert_allclose(shifted, x[:600], atol=1e-3)


def test_van_der_pol_period_grows_with_mu():
    # Relaxation oscillations slow down with μ (T ≈ (3 − 2 ln 2) μ for large μ).
    p_half = T.van_der_pol(n_steps=3000, mu=0.5, dt=0.05).period
    p_two = T.van_der_pol(n_steps=3000, mu=2.0, dt=0.05).period
    assert p_half == pytest.approx(_vdp_period_by_events(0.5), abs=5e-5)
    assert p_two == pytest.approx(_vdp_period_by_events(2.0), abs=5e-5)
    assert p_half < VDP_PERIOD_MU1 < p_two


def test_van_der_pol_too_short_for_a_period():
    with pytest.raises(ConfigError, match="fewer than two periods"):
        T.van_der_pol(n_steps=50, dt=0.1)
    with pytest.raises(ConfigError, match="mu"):
        T.van_der_pol(n_steps=500, mu=0.0)


@pytest.mark.parametrize("omega, lam", [(1.0, 1.0), (2.0, 0.25), (-0.5, 4.0)])
def test_stuart_landau_matches_the_analytic_limit_cycle(omega, lam):
    dt = 0.05
    traj = T.stuart_landau(n_steps=2000, omega=omega, growth_rate=lam, dt=dt,
                           transient=40.0 / lam, standardise=False)
    x, y = traj.outputs.T
    # Radius √λ: the orbit approaches it as e^{−2λt}; after 40/λ time units that is e^{−80},
    # so only the integrator tolerance (1e-10 relative) remains.
    np.testing.assert_allclose(np.hypot(x, y), math.sqrt(lam), rtol=1e-8)
    # Phase advances by exactly ω·dt per sample on the cycle (same integrator tolerance).
    dphi = np.angle(np.exp(1j * np.diff(np.arctan2(y, x))))
    np.testing.assert_allclose(dphi, omega * dt, atol=1e-8)
    # Stored period is analytic; the signal's measured period agrees to the O(dt²)
    # crossing-interpolation error (≤ 1e-5 here).
    assert traj.period == pytest.approx(2 * math.pi / abs(omega), rel=1e-15)
    assert T.estimate_period(x, dt) == pytest.approx(traj.period, rel=1e-5)
    assert traj.attrs["radius"] == pytest.approx(math.sqrt(lam))


def test_stuart_landau_standardised_and_bad_parameters():
    traj = T.stuart_landau(n_steps=1000, dt=0.1)
    np.testing.assert_allclose(traj.outputs.std(axis=0), 1.0, rtol=1e-12)
    with pytest.raises(ConfigError, match="omega"):
        T.stuart_landau(n_steps=100, omega=0.0)
    with pytest.raises(ConfigError, match="growth_rate"):
        T.stuart_landau(n_steps=100, growth_rate=-1.0)


def test_cosine_is_exact():
    traj = T.cosine(n_steps=100, period_steps=25, amplitude=2.0, dt=0.5)
    k = np.arange(100)
    np.testing.assert_allclose(traj.outputs[:, 0], 2.0 * np.cos(2 * np.pi * k / 25), atol=1e-15)
    # exactly periodic in 25 steps (same floating-point argument modulo 2π rounding)
    np.testing.assert_allclose(traj.outputs[25:], traj.outputs[:-25], atol=1e-13)
    assert traj.period == 12.5 and traj.kind == "limit_cycle" and traj.inputs is None
    assert T.estimate_period(traj.outputs[:, 0], traj.dt) == pytest.approx(12.5, rel=1e-12)
    with pytest.raises(ConfigError, match="Nyquist"):
        T.cosine(n_steps=10, period_steps=1.5)


# ---------------------------------------------------------------------------------------------
# Forecasting
# ---------------------------------------------------------------------------------------------


def test_lorenz_forecast_alignment():
    task = T.lorenz_forecast(n_steps=500, horizon_steps=27, dt=0.01)
    assert task.kind == "forecast"
    assert task.inputs.shape == task.outputs.shape == (500, 1)
    np.testing.assert_array_equal(task.outputs[:-27], task.inputs[27:])
    # and it is the standardised Lorenz x of the same run
    x = T.lorenz(n_steps=527, dt=0.01).outputs[:, 0]
    np.testing.assert_array_equal(task.inputs[:, 0], x[:500])
    np.testing.assert_array_equal(task.outputs[:, 0], x[27:])
    assert task.attrs["horizon_steps"] == 27
    assert task.lyapunov_exponent == pytest.approx(0.9056)


@pytest.mark.slow
def test_forecast_horizon_is_the_autocorrelation_half_width():
    # Williams et al. chose τ = 27 as the autocorrelation half-width of x at dt = 0.01; at
    # 10^5 samples the estimate is 25 steps (REFERENCES §1.1 says ≈ 25): within 3 steps.
    x = T.lorenz(n_steps=100_000, dt=0.01).outputs[:, 0]
    spec = np.fft.rfft(x - x.mean(), n=2 * len(x))
    acf = np.fft.irfft(np.abs(spec) ** 2)[:200]
    half_width = int(np.argmax(acf / acf[0] < 0.5))
    assert abs(half_width - 27) <= 3


# ---------------------------------------------------------------------------------------------
# from_array, estimate_period
# ---------------------------------------------------------------------------------------------


def test_from_array_wraps_and_validates():
    data = np.column_stack([np.sin(np.arange(50) * 0.3), np.arange(50.0)])
    traj = T.from_array(data, dt=0.1, name="mine", kind="other", output_names=("s", "ramp"))
    assert isinstance(traj, Trajectory) and traj.name == "mine"
    np.testing.assert_array_equal(traj.outputs, data)
    z = T.from_array(data, dt=0.1, standardise=True)
    np.testing.assert_allclose(z.outputs.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(z.outputs * z.attrs["std"] + z.attrs["mean"], data, atol=1e-12)
    bad = data.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        T.from_array(bad, dt=0.1)
    with pytest.raises(DataError, match="NaN"):
        T.from_array(bad, dt=0.1, standardise=True)
    with pytest.raises(DataError, match="2-D"):
        T.from_array(data[:, 0], dt=0.1)
    with pytest.raises(ConfigError, match="dt"):
        T.from_array(data, dt=0.0)
    with pytest.raises(DataError, match="constant"):
        T.from_array(np.ones((10, 1)), dt=0.1, standardise=True)


def test_estimate_period_needs_two_crossings():
    assert T.estimate_period(np.sin(np.linspace(0, 3, 30)), 0.1) is None
    with pytest.raises(DataError):
        T.estimate_period(np.ones((3, 2)), 0.1)


# ---------------------------------------------------------------------------------------------
# Validation and configs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"n_steps": 100, "dt": 0.0}, "dt: expected a positive"),
    ({"n_steps": 100, "dt": -0.01}, "dt: expected a positive"),
    ({"n_steps": 100, "dt": float("nan")}, "dt: expected a finite"),
    ({"n_steps": 1}, "n_steps: expected at least 2"),
    ({"n_steps": 100.0}, "n_steps: expected an integer"),
    ({"n_steps": True}, "n_steps: expected an integer"),
    ({"n_steps": 100, "transient": -1.0}, "transient"),
])
def test_bad_arguments_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        T.lorenz(**kwargs)


def test_diverging_integration_is_a_data_error():
    # σ < 0 and a huge ρ: the solution blows up within a fraction of a time unit.
    with pytest.raises(DataError, match="diverged at t = 0.4"):
        T.lorenz(n_steps=100, sigma=-50.0, rho=1e4, transient=10.0)


def test_make_target_builds_each_registered_kind():
    specs = {
        "lorenz": {"n_steps": 50},
        "lorenz_forecast": {"n_steps": 50, "horizon_steps": 5},
        "van_der_pol": {"n_steps": 200},
        "stuart_landau": {"n_steps": 50},
        "cosine": {"n_steps": 50},
        "context_integration": {"n_steps": 400, "coherences": [-0.5, 0.5]},
    }
    assert set(specs) == set(T.TARGETS)
    for kind, spec in specs.items():
        traj = T.make_target({"kind": kind, "name": f"t_{kind}", **spec})
        assert traj.name == f"t_{kind}"
        assert traj.n_steps == spec["n_steps"]
    lor = T.make_target({"kind": "lorenz", "n_steps": 30, "dt": 0.01})
    np.testing.assert_array_equal(lor.outputs, T.lorenz(n_steps=30, dt=0.01).outputs)


def test_make_target_errors_suggest_the_fix():
    with pytest.raises(ConfigError, match="Did you mean 'lorenz'"):
        T.make_target({"kind": "lorentz", "n_steps": 10})
    with pytest.raises(ConfigError, match="Did you mean 'n_steps'"):
        T.make_target({"kind": "lorenz", "n_step": 10})
    with pytest.raises(ConfigError, match="Did you mean 'period_steps'"):
        T.make_target({"kind": "cosine", "n_steps": 10, "period_step": 25})
    with pytest.raises(ConfigError, match="missing required key"):
        T.make_target({"kind": "cosine"})
    with pytest.raises(ConfigError, match="missing 'kind'"):
        T.make_target({"n_steps": 10})
    with pytest.raises(ConfigError, match="expected a table"):
        T.make_target(["lorenz"])
    with pytest.raises(ConfigError, match="dt"):
        T.make_target({"kind": "cosine", "n_steps": 10, "dt": "fast"})


# ---------------------------------------------------------------------------------------------
# BrainPy models as targets
# ---------------------------------------------------------------------------------------------

needs_brainpy = pytest.mark.skipif(importlib.util.find_spec("brainpy") is None,
                                   reason="brainpy not installed")


@pytest.fixture(scope="module")
def bp_modules():
    # Never `import brainpy` directly in tests: with brainstate 0.5 the import turns JAX's x64
    # flag off for the rest of the session. import_brainpy keeps it.
    from brainbias.interop.brainpy import import_brainpy

    bp, bm = import_brainpy()
    yield bp, bm
    assert jax.config.jax_enable_x64, "a BrainPy import switched JAX x64 off"


@needs_brainpy
@pytest.mark.brainpy
def test_from_brainpy_fitzhugh_nagumo_oscillates(bp_modules):
    bp, bm = bp_modules
    dt_before = bm.get_dt()

    def run(dt):
        fhn = bp.dyn.rates.FHN(1, x_initializer=bp.init.Constant(0.0),
                               y_initializer=bp.init.Constant(0.0))
        n = int(round(400.0 / dt))
        # FHN (BrainPy defaults) sits at a fixed point without input; a constant current of 1
        # per step puts it on a relaxation limit cycle.
        return T.from_brainpy(fhn, monitors=["x", "y"], duration=300.0, dt=dt, transient=100.0,
                              inputs=np.full((n, 1), 1.0), kind="limit_cycle", name="fhn")

    traj = run(0.1)
    assert traj.outputs.shape == (3000, 2) and traj.output_names == ("x", "y")
    assert traj.outputs.dtype == np.float64 and np.all(np.isfinite(traj.outputs))
    np.testing.assert_allclose(traj.outputs.std(axis=0), 1.0, rtol=1e-12)
    assert traj.inputs.shape == (3000, 1) and traj.kind == "limit_cycle"
    # Oscillating: ≥ 5 full cycles in 300 time units, raw amplitude of x well above zero.
    assert traj.period is not None and 300.0 / traj.period >= 5
    assert traj.attrs["std"][0] > 0.1
    # The time unit is right: halving dt changes the period only by the integration error
    # (BrainPy's exponential-Euler step, dt = 0.1 vs 0.05: measured 0.07 %), not by a factor
    # 2 as it would if the runner ignored dt. 1 % leaves a >10× margin.
    assert run(0.05).period == pytest.approx(traj.period, rel=0.01)
    assert bm.get_dt() == dt_before  # BrainPy's global dt was restored


@needs_brainpy
@pytest.mark.brainpy
def test_from_brainpy_wilson_cowan_with_runner_inputs(bp_modules):
    bp, _ = bp_modules
    # Wilson & Cowan (1972) oscillatory parameters; BrainPy's wIE is I→E, wEI is E→I.
    wc = bp.dyn.rates.WilsonCowanModel(2, wEE=16.0, wIE=12.0, wEI=15.0, wII=3.0, E_a=1.3,
                                       E_theta=4.0, I_a=2.0, I_theta=3.7,
                                       x_initializer=bp.init.Constant(0.1),
                                       y_initializer=bp.init.Constant(0.05))
    traj = T.from_brainpy(wc, monitors=["x", "y"], duration=100.0, dt=0.05, transient=50.0,
                          runner_inputs=[("input", 1.25)], kind="limit_cycle",
                          standardise=False)
    assert traj.output_names == ("x[0]", "x[1]", "y[0]", "y[1]")
    assert traj.inputs is None
    assert np.all((traj.outputs > -0.1) & (traj.outputs < 1.0))  # WC rates live in [0, 1)
    assert np.ptp(traj.outputs[:, 0]) > 0.1 and 100.0 / traj.period >= 5


@needs_brainpy
@pytest.mark.brainpy
def test_from_brainpy_errors(bp_modules):
    bp, _ = bp_modules
    fhn = bp.dyn.rates.FHN(1)
    with pytest.raises(ConfigError, match="DynamicalSystem"):
        T.from_brainpy(object(), monitors=["x"], duration=1.0, dt=0.1)
    with pytest.raises(ConfigError, match="Did you mean 'x'"):
        T.from_brainpy(fhn, monitors=["xx"], duration=1.0, dt=0.1)
    with pytest.raises(ConfigError, match="monitors"):
        T.from_brainpy(fhn, monitors="x", duration=1.0, dt=0.1)
    with pytest.raises(ConfigError, match="whole number of steps"):
        T.from_brainpy(fhn, monitors=["x"], duration=1.05, dt=0.1)
    with pytest.raises(ConfigError, match="inputs"):
        T.from_brainpy(fhn, monitors=["x"], duration=1.0, dt=0.1, inputs=np.ones((5, 1)))
    with pytest.raises(ConfigError, match="dt"):
        T.from_brainpy(fhn, monitors=["x"], duration=1.0, dt=-0.1)
