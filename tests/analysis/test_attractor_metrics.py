"""Tests for brainbias.analysis.attractor_metrics: known answers on Lorenz-63 and linear maps.

Lorenz-63 trajectories are generated here with scipy (DOP853, rtol = atol = 1e-10) at
dt = 0.01 after a 20-time-unit burn-in. Length T = 30,000 (300 time units) rather than the
references' 10^5 keeps the three solves to ~13 s; it is the shortest length that gives the
default 30^3 bins one sample per bin. Calibration measured at this length (10 independent
segments / 4 seeds): independent trajectory D_stsp 0.06–0.19, D_H 0.03–0.07; ρ = 35: D_stsp
8.5–8.6, D_H 0.17–0.20; time-shuffled: D_stsp 0, D_H 0.87; collapse to a fixed point:
D_stsp ≈ 15, D_H = 1. (At T = 10^5: 0.025 / 0.055, 8.5 / 0.23, 0 / 0.88, 16.6 / 1, close to
shared/REFERENCES.md §3.) Bounds below leave ≥ 2× margin on those ranges.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
import xarray as xr
from scipy.integrate import solve_ivp

from brainbias import ConfigError, DataError, autonomous_map, make_network
from brainbias.analysis.attractor_metrics import (
    attractor_report,
    lyapunov_exponent,
    lyapunov_exponent_ode,
    power_spectrum_distance,
    state_space_divergence,
    valid_prediction_time,
)

SIGMA, BETA = 10.0, 8.0 / 3.0
N_TIME = 30_000
DT = 0.01


def _lorenz(x0, *, rho=28.0, n_time=N_TIME, dt=DT, burn=20.0):
    """Lorenz-63 samples (time, 3) at spacing dt, after a burn-in onto the attractor."""

    def rhs(_, x):
        return [SIGMA * (x[1] - x[0]), x[0] * (rho - x[2]) - x[1], x[0] * x[1] - BETA * x[2]]

    t_eval = burn + dt * np.arange(n_time)
    sol = solve_ivp(rhs, (0.0, t_eval[-1]), x0, method="DOP853", rtol=1e-10, atol=1e-10,
                    t_eval=t_eval)
    assert sol.success  # test-data sanity, not user input
    return sol.y.T


@pytest.fixture(scope="module")
def lorenz():
    return {
        "true": _lorenz([1.0, 1.0, 1.0]),
        "independent": _lorenz([-3.0, 2.0, 20.0]),
        "rho35": _lorenz([1.0, 1.0, 1.0], rho=35.0),
    }


def _lorenz_rhs(x):
    return jnp.array([SIGMA * (x[1] - x[0]), x[0] * (28.0 - x[2]) - x[1],
                      x[0] * x[1] - BETA * x[2]])


# ----------------------------------------------------------------------------- Lyapunov


def test_lorenz_lyapunov_spectrum():
    lam = lyapunov_exponent_ode(_lorenz_rhs, jnp.array([1.0, 1.0, 1.0]), dt=0.01,
                                n_steps=50_000, n_exponents=3, transient=1000)
    # Reference 0.906 (Sprott 2003; shared/REFERENCES.md §3); the issue asks for ± 5 %. Over
    # 500 time units the estimate fluctuates by ~0.5 % (measured 0.903).
    assert lam[0] == pytest.approx(0.906, rel=0.05)
    # The flow direction gives a zero exponent; its finite-time estimate decays like 1/T
    # (measured −2e-4 at T = 500).
    assert abs(lam[1]) < 0.02
    # Σλ = time average of tr Df = −(σ + 1 + β) exactly for Lorenz; the RK4 step's Jacobian
    # determinant matches exp(dt·tr Df) up to O(dt^5) per step (measured 7e-6 relative).
    assert lam.sum() == pytest.approx(-(SIGMA + 1.0 + BETA), rel=1e-4)


def test_linear_map_exponents_are_log_eigenvalue_moduli():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(3, 3))  # non-normal: eigenvectors not orthogonal
    a = p @ np.diag([0.9, -0.5, 0.2]) @ np.linalg.inv(p)
    a = jnp.asarray(a)
    dt = 0.1
    lam = lyapunov_exponent(lambda x: a @ x, jnp.ones(3), n_steps=2000, dt=dt, n_exponents=3,
                            transient=100)
    # After the transient the tangents are aligned with the eigenvectors and each step adds
    # exactly log|λ_i|; what remains is the transient's leftover (decays like (0.5/0.9)^100)
    # and rounding (measured 4e-13). 1e-9 still fails for any real error.
    np.testing.assert_allclose(lam, np.log([0.9, 0.5, 0.2]) / dt, atol=1e-9)


def test_network_fixed_point_exponents_and_jacobian_methods_agree():
    # Zero bias, tanh: x = 0 is a fixed point of the network map, so the orbit from 0 stays
    # there and the exponents are log|eigenvalues| of J = (1 − a) I + a W (φ'(0) = 1).
    from brainbias.models.connectivity import ConnectivityConfig

    net = make_network(30, connectivity=ConnectivityConfig(gain=0.8), dt=0.1, tau=1.0,
                       key=jax.random.PRNGKey(3))
    step = autonomous_map(net, jnp.zeros(30))
    jac = (1 - net.leak) * np.eye(30) + net.leak * np.asarray(net.recurrent_weights)
    expected = np.sort(np.log(np.abs(np.linalg.eigvals(jac))))[::-1][:4] / net.dt
    lam = lyapunov_exponent(step, jnp.zeros(30), n_steps=1000, dt=net.dt, n_exponents=4,
                            transient=200)
    # Complex pairs share a modulus and rotate the tangents, so convergence is only O(1/n)
    # (measured 3e-3 at n = 1000 steps); 1e-2 is 3× that, and 3 % of the gaps between
    # exponents of this spectrum would still be caught.
    np.testing.assert_allclose(lam, expected, atol=1e-2)
    # jvp and jacfwd are two routes to the same J·Q products: equal to rounding. (Same
    # settings as above, so the jvp call reuses the compiled scan.)
    x0 = 0.5 * jax.random.normal(jax.random.PRNGKey(1), (30,))
    kw = dict(n_steps=1000, dt=net.dt, n_exponents=4, transient=200)
    a = lyapunov_exponent(step, x0, **kw)
    b = lyapunov_exponent(step, x0, jacobian="jacfwd", **kw)
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_second_call_does_not_recompile():
    traces = []

    def step(x):
        traces.append("map")  # runs only while JAX traces the function
        return 0.5 * x

    def rhs(x):
        traces.append("ode")
        return -x

    counts = []
    for x0 in (jnp.ones(2), 2.0 * jnp.ones(2)):
        lyapunov_exponent(step, x0, n_steps=5, dt=1.0, transient=0)
        lyapunov_exponent_ode(rhs, x0, dt=0.01, n_steps=5, transient=0)
        counts.append((traces.count("map"), traces.count("ode")))
    assert counts[0][0] > 0 and counts[0][1] > 0
    assert counts[1] == counts[0]  # nothing traced again on the second round


def test_lyapunov_errors():
    with pytest.raises(DataError, match="x0"):
        lyapunov_exponent(lambda x: x, jnp.array([jnp.nan, 0.0]), n_steps=10, dt=1.0)
    with pytest.raises(ConfigError, match="n_exponents"):
        lyapunov_exponent(lambda x: x, jnp.zeros(2), n_steps=10, dt=1.0, n_exponents=3)
    with pytest.raises(DataError, match="non-finite"):
        lyapunov_exponent(lambda x: 1e200 * x, jnp.ones(2), n_steps=10, dt=1.0, transient=0)


# ----------------------------------------------------------------------------- VPT


def test_valid_prediction_time_known_crossing():
    dt = 2 * np.pi / 1000
    t = dt * np.arange(4000)  # four whole periods: the truth's mean is 0, its spread exactly 1
    y_true = np.stack([np.cos(t), np.sin(t)], axis=1)
    y_pred = y_true.copy()
    y_pred[:, 0] += 0.01 * np.exp(0.5 * t)  # error crosses 0.4 at t* = 2 ln 40
    out = valid_prediction_time(y_true, y_pred, dt=dt, threshold=0.4, lyapunov_exponent=0.5)
    steps = int(np.floor(2 * np.log(40) / dt)) + 1  # samples 0 … floor(t*/dt) are valid
    assert out["steps"] == steps
    assert out["time"] == pytest.approx(steps * dt, rel=1e-12)
    assert out["lyapunov_times"] == pytest.approx(0.5 * steps * dt, rel=1e-12)
    # Never exceeding: the whole window (a lower bound); no exponent: NaN.
    perfect = valid_prediction_time(y_true, y_true, dt=dt)
    assert perfect["steps"] == 4000 and np.isnan(perfect["lyapunov_times"])
    # A forecast that turns NaN (diverged) fails from that sample on.
    nan_pred = y_true.copy()
    nan_pred[10:] = np.nan
    assert valid_prediction_time(y_true, nan_pred, dt=dt)["steps"] == 10


def test_valid_prediction_time_errors():
    y = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(DataError, match="shape"):
        valid_prediction_time(y, y[:, :1], dt=0.1)
    with pytest.raises(DataError, match="constant"):
        valid_prediction_time(np.ones((50, 2)), y, dt=0.1)
    with pytest.raises(ConfigError, match="dt"):
        valid_prediction_time(y, y, dt=0.0)


# ----------------------------------------------------------------------------- D_stsp, D_H


def test_lorenz_calibration(lorenz):
    true, indep, rho35 = lorenz["true"], lorenz["independent"], lorenz["rho35"]
    shuffled = true[np.random.default_rng(0).permutation(N_TIME)]
    c_plus = [np.sqrt(BETA * 27.0), np.sqrt(BETA * 27.0), 27.0]  # a fixed point for ρ = 28
    fixed = np.tile(c_plus, (N_TIME, 1))

    assert state_space_divergence(true, indep) < 0.5
    assert power_spectrum_distance(true, indep) < 0.15
    assert state_space_divergence(true, rho35) > 5.0
    assert power_spectrum_distance(true, rho35) > power_spectrum_distance(true, indep)
    # Shuffling keeps the set of states (identical histograms) and destroys the spectrum.
    assert state_space_divergence(true, shuffled) < 1e-12
    assert power_spectrum_distance(true, shuffled) > 0.8
    # All generated mass in one cell: KL ≈ −H(p_true) − log(alpha / T) ≈ 15 nats.
    assert state_space_divergence(true, fixed) > 12.0
    assert power_spectrum_distance(true, fixed) == 1.0


def test_attractor_report_side_by_side(lorenz):
    ds = attractor_report(lorenz["true"], lorenz["rho35"], dt=DT,
                          noise_floor_trajectory=lorenz["independent"])
    assert isinstance(ds, xr.Dataset)
    floor = float(ds.state_space_divergence_noise_floor)
    assert floor == pytest.approx(state_space_divergence(lorenz["true"], lorenz["independent"]))
    assert float(ds.state_space_divergence) > 20 * floor  # ρ = 35 is far above the floor
    assert float(ds.power_spectrum_distance) > float(ds.power_spectrum_distance_noise_floor)
    assert ds.attrs["n_bins"] == 30 and ds.attrs["dt"] == DT
    no_floor = attractor_report(lorenz["true"], lorenz["independent"], dt=DT)
    assert np.isnan(float(no_floor.power_spectrum_distance_noise_floor))
    with pytest.raises(DataError, match="same length"):
        attractor_report(lorenz["true"], lorenz["independent"], dt=DT,
                         noise_floor_trajectory=lorenz["independent"][:-1])


def test_gmm_variant(lorenz):
    key = jax.random.PRNGKey(0)
    kw = dict(method="gmm", key=key, n_centres=1000, n_mc=1000)
    indep = state_space_divergence(lorenz["true"], lorenz["independent"], **kw)
    far = state_space_divergence(lorenz["true"], lorenz["rho35"], **kw)
    # With σ = 1 (standardised units) the mixtures are smooth: measured ≤ 0.004 for an
    # independent trajectory and 0.14 for ρ = 35; require a 10× separation.
    assert far > 10 * max(indep, 1e-3)
    # Works in more dimensions than binning allows (a linear 5-D embedding).
    m = np.random.default_rng(1).normal(size=(3, 5))
    assert state_space_divergence(lorenz["true"] @ m, lorenz["independent"] @ m, **kw) < 0.1
    with pytest.raises(DataError, match="method='gmm'"):
        state_space_divergence(lorenz["true"] @ m, lorenz["independent"] @ m)
    with pytest.raises(ConfigError, match="key"):
        state_space_divergence(lorenz["true"], lorenz["independent"], method="gmm")


def test_binned_kl_matches_histogramdd_reference():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5000, 2))
    y = 0.8 * rng.normal(size=(5000, 2)) + 0.2  # stays inside x's widened box (overflow 0)
    n_bins, margin, alpha = 10, 0.1, 1e-5
    lo, hi = x.min(0) - margin * np.ptp(x, 0), x.max(0) + margin * np.ptp(x, 0)
    assert np.all((y >= lo) & (y <= hi))
    edges = [np.linspace(lo[i], hi[i], n_bins + 1) for i in range(2)]
    p = np.histogramdd(x, bins=edges)[0].ravel()
    q = np.histogramdd(y, bins=edges)[0].ravel()
    # Our histogram has one extra (empty) overflow cell that also receives alpha.
    p = np.append(p, 0.0) + alpha
    q = np.append(q, 0.0) + alpha
    expected = scipy.stats.entropy(p, q)  # normalises and computes KL(p ‖ q)
    got = state_space_divergence(x, y, n_bins=n_bins, margin=margin, alpha=alpha)
    assert got == pytest.approx(expected, rel=1e-12)  # same sums in another order


def test_power_spectrum_known_answers():
    n = 4096
    t = np.arange(n)
    slow = np.sin(2 * np.pi * 20 * t / n)[:, None]
    fast = np.sin(2 * np.pi * 1500 * t / n)[:, None]
    # A circular shift leaves |rfft|² unchanged: distance 0 up to rounding.
    assert power_spectrum_distance(slow, np.roll(slow, 37)) < 1e-7
    # Peaks 1480 bins apart barely overlap after σ = 20 smoothing: distance ≈ 1.
    assert power_spectrum_distance(slow, fast) > 0.99
    # Averaged over dimensions: one identical, one disjoint → ≈ 0.5.
    both = power_spectrum_distance(np.hstack([slow, slow]), np.hstack([slow, fast]))
    assert both == pytest.approx(0.5, abs=0.01)


def test_input_errors(lorenz):
    true = lorenz["true"]
    with pytest.raises(DataError, match="samples for 30\\^3"):
        state_space_divergence(true[:10_000], true[:10_000])
    bad = true.copy()
    bad[5, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        state_space_divergence(true, bad)
    with pytest.raises(DataError, match="NaN"):
        power_spectrum_distance(true, bad)
    with pytest.raises(DataError, match="dimension"):
        state_space_divergence(true, true[:, :2])
    with pytest.raises(DataError, match="dimension"):
        power_spectrum_distance(true, true[:, :2])
    with pytest.raises(DataError, match="time steps"):
        power_spectrum_distance(true, true[:-1])
    with pytest.raises(ConfigError, match="method"):
        state_space_divergence(true, true, method="bin")
