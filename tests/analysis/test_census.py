"""Attractor census: systems whose attractor lies outside the stored window, checked against
analytic kinds, rates, frequencies, periods and Floquet multipliers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainbias import ConfigError, DataError, autonomous_map, simulate
from brainbias.analysis.census import census, census_summary

from ._helpers import network_from_weights

KEY = jax.random.PRNGKey(0)


def _orthogonal(n, seed):
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))[0]


def _linear_network(w, fixed_point, *, dt, tau):
    """Identity-nonlinearity network whose fixed point solves (I − W) x = b at ``fixed_point``."""
    b = (np.eye(len(w)) - w) @ fixed_point
    return autonomous_map(network_from_weights(w, nonlinearity="identity", dt=dt, tau=tau),
                          jnp.asarray(b))


def _assert_outside_window(step_fn, starts, target, n_window=10):
    """The premise: a short stored window from these starts stays far from the attractor."""
    x = jnp.asarray(starts)
    for _ in range(n_window):
        x = jax.vmap(step_fn)(x)
    assert np.min(np.linalg.norm(np.asarray(x) - target, axis=1)) > 1.0


def test_linear_node_outside_the_window_kind_and_decay_rate():
    # x ← x + a(−x + W x + b), a = dt/τ: fixed point (I − W)⁻¹ b, map eigenvalues
    # λ = 1 + a(ν − 1) for the eigenvalues ν of W; the slowest is ν = 0.5.
    n, dt, tau = 6, 0.1, 0.5
    a = dt / tau
    nu = np.array([0.5, 0.2, -0.3, -1.0, 0.1, -0.5])
    v = _orthogonal(n, 0)
    x_star = 10.0 * v[:, 0]  # along the slowest mode
    f = _linear_network(v @ np.diag(nu) @ v.T, x_star, dt=dt, tau=tau)
    starts = np.random.default_rng(1).normal(0, 0.1, (8, n))
    _assert_outside_window(f, starts, x_star)
    c = census(f, starts, dt=dt, key=KEY)
    assert c["attractor_kind"].values.tolist() == ["stable_node"]
    np.testing.assert_array_equal(c["start_attractor"].values, 0)
    assert int(c["attractor_n_starts"][0]) == 8 and c["start_settled"].values.all()
    # a linear map: Newton lands on (I − W)⁻¹ b up to rounding of O(10) numbers
    np.testing.assert_allclose(c["attractor_state"].values[0], x_star, atol=1e-10)
    lam = 1 + a * (nu.max() - 1)
    # exact continuous-time eigenvalue log(λ)/dt; float64 eig of a 6×6 normal matrix: 1e-12
    assert float(c["attractor_decay_rate"][0]) == pytest.approx(-np.log(lam) / dt, rel=1e-12)
    assert complex(c["attractor_slowest_eigenvalue"][0]) == pytest.approx(lam, abs=1e-12)
    assert np.isnan(float(c["attractor_frequency"][0]))
    # the ODE dx/dt = ((W − I)x + b)/τ decays at (1 − ν)/τ = −w/dt with w = a(ν − 1); the
    # Taylor remainder |log(1 + w) − w| ≤ |w|²/(2(1 − |w|)) bounds the difference
    w_ = a * (nu.max() - 1)
    bound = abs(w_) ** 2 / (2 * (1 - abs(w_)) * dt)
    assert abs(float(c["attractor_decay_rate"][0]) - (1 - nu.max()) / tau) <= bound


def test_linear_focus_outside_the_window_frequency_and_decay_rate():
    # W = V blockdiag([[α, −β], [β, α]], reals) Vᵀ: eigenvalues α ± iβ, map λ = 1 + a(ν − 1)
    n, dt, tau, alpha, beta = 6, 0.1, 0.5, 0.5, 1.5
    a = dt / tau
    block = np.zeros((n, n))
    block[:2, :2] = [[alpha, -beta], [beta, alpha]]
    block[2:, 2:] = np.diag([0.3, -0.2, 0.1, -0.5])
    v = _orthogonal(n, 2)
    x_star = 8.0 * v[:, 0]  # in the plane of the focus
    f = _linear_network(v @ block @ v.T, x_star, dt=dt, tau=tau)
    starts = np.random.default_rng(3).normal(0, 0.1, (6, n))
    _assert_outside_window(f, starts, x_star)
    c = census(f, starts, dt=dt, key=KEY)
    assert c["attractor_kind"].values.tolist() == ["stable_focus"]
    np.testing.assert_allclose(c["attractor_state"].values[0], x_star, atol=1e-10)
    lam = 1 + a * (alpha + 1j * beta - 1)  # 0.9 + 0.3i, |λ| = 0.949 > the real modes' 0.86
    # exact in the log convention (float64 eig of a 6×6 normal matrix)
    assert float(c["attractor_decay_rate"][0]) == pytest.approx(-np.log(abs(lam)) / dt,
                                                                rel=1e-12)
    assert float(c["attractor_frequency"][0]) == pytest.approx(
        np.angle(lam) / (2 * np.pi * dt), rel=1e-12)
    # the ODE's (1 − α)/τ and β/(2πτ), from μ = w/dt with w = a(ν − 1): the Taylor remainder
    # |log(1 + w) − w| ≤ |w|²/(2(1 − |w|)) bounds both differences (per dt; ÷2π for Hz)
    w_ = a * (alpha + 1j * beta - 1)
    bound = abs(w_) ** 2 / (2 * (1 - abs(w_)) * dt)
    assert abs(float(c["attractor_decay_rate"][0]) - (1 - alpha) / tau) <= bound
    assert abs(float(c["attractor_frequency"][0]) - beta / (2 * np.pi * tau)) <= bound / (
        2 * np.pi)
    assert "stable focus (" in census_summary(c) and "Hz" in census_summary(c)


def _stuart_landau_flow(mu, omega, dt):
    """The exact time-dt flow of dz/dt = (μ + iω) z − |z|² z: r² → μ r² e^{2μdt} / (μ + r²
    (e^{2μdt} − 1)), angle + ω dt. Its cycle r = √μ has period 2π/ω and Floquet multipliers
    1 (along it) and e^{−2μT} (radial: d(r²)/dt linearised at r² = μ is −2μ δ)."""
    grow = np.exp(2 * mu * dt)
    rot = jnp.asarray([[np.cos(omega * dt), -np.sin(omega * dt)],
                       [np.sin(omega * dt), np.cos(omega * dt)]])

    def f(x):
        r2 = x[:2] @ x[:2]
        scale = jnp.sqrt(mu * grow / (mu + r2 * (grow - 1)))
        return jnp.concatenate([scale * (rot @ x[:2]), 0.5 * x[2:]])  # extra units decay

    return f


def test_stuart_landau_cycle_period_and_floquet_multipliers():
    mu, dt, p = 1.0, 0.05, 40
    omega = 2 * np.pi / (p * dt)  # a whole number of steps per period: exact returns
    f = _stuart_landau_flow(mu, omega, dt)
    starts = np.random.default_rng(4).normal(0, 0.05, (6, 2))  # near the unstable focus at 0
    c = census(f, starts, dt=dt, key=KEY)
    assert c["attractor_kind"].values.tolist() == ["limit_cycle"]
    np.testing.assert_array_equal(c["start_attractor"].values, 0)
    assert float(c["attractor_period_steps"][0]) == pytest.approx(p, abs=1e-9)
    assert float(c["attractor_period"][0]) == pytest.approx(2 * np.pi / omega, rel=1e-9)
    assert float(c["attractor_frequency"][0]) == pytest.approx(omega / (2 * np.pi), rel=1e-9)
    np.testing.assert_allclose(np.linalg.norm(c["attractor_orbit"].values[0, :p], axis=1),
                               np.sqrt(mu), rtol=1e-8)  # the orbit lies on r = √μ
    mult = c["floquet_multipliers"].values[0]
    # monodromy over exactly one period of a flow map: 1 and e^{−2μT}, to rounding of
    # 40 Jacobian products (1e-9)
    np.testing.assert_allclose(mult, [1.0, np.exp(-2 * mu * p * dt)], rtol=1e-9, atol=1e-12)


def test_euler_stuart_landau_fractional_period_and_multipliers():
    # Euler map z ← z + dt((μ + iω) z − |z|² z): invariant circle r² = μ + (1 − c)/dt with
    # c = √(1 − (ω dt)²), rotation asin(ω dt) per step ⇒ period 2π / asin(ω dt) steps, not a
    # whole number; radial multiplier per step 1 − 2 dt r² c, angular exactly 1.
    mu, omega, dt = 1.0, 2 * np.pi / 1.37, 0.01

    def f(x):
        r2 = x @ x
        return x + dt * jnp.array([mu * x[0] - omega * x[1] - r2 * x[0],
                                   omega * x[0] + mu * x[1] - r2 * x[1]])

    c = census(f, np.random.default_rng(5).normal(0, 2, (5, 2)), dt=dt, key=KEY)
    assert c["attractor_kind"].values.tolist() == ["limit_cycle"]
    period = 2 * np.pi / np.arcsin(omega * dt)
    # parabola vertices of d² over ≈ 29 returns: measured error 2e-6 steps; 1e-4 allows for
    # the quartic term of d² near a return
    assert float(c["attractor_period_steps"][0]) == pytest.approx(period, abs=1e-4)
    cos = np.sqrt(1 - (omega * dt) ** 2)
    r2 = mu + (1 - cos) / dt
    radial = (1 - 2 * dt * r2 * cos) ** round(period)  # over the round(T) steps used
    # round(T) misses a whole period by |round(T) − T| steps: the monodromy then carries a net
    # rotation of that fraction of a turn, which moves the multipliers by O(|round(T) − T|/T)
    # (3.5e-4 here; measured 1e-4)
    miss = abs(round(period) - period) / period
    np.testing.assert_allclose(c["floquet_multipliers"].values[0], [1.0, radial], rtol=miss)


def test_subspace_floquet_agrees_with_the_dense_monodromy():
    mu, dt, p = 1.0, 0.05, 40
    f = _stuart_landau_flow(mu, 2 * np.pi / (p * dt), dt)  # plus 4 units decaying by ½ a step
    starts = np.random.default_rng(6).normal(0, 0.3, (3, 6))
    dense = census(f, starts, dt=dt, key=KEY)
    sub = census(f, starts, dt=dt, key=KEY, dense_floquet_limit=1, n_floquet=2)
    assert dense.sizes["floquet_mode"] == 6 and sub.sizes["floquet_mode"] == 2
    # the two leading multipliers (1, e^{−4}) are separated from the rest (0.5⁴⁰ ≈ 1e-12) by
    # ten orders: subspace iteration converges in one sweep, to rounding
    np.testing.assert_allclose(sub["floquet_multipliers"].values[0],
                               dense["floquet_multipliers"].values[0, :2], rtol=1e-9)
    np.testing.assert_allclose(np.abs(dense["floquet_multipliers"].values[0, 2:]), 0.5**p,
                               rtol=1e-6)


def test_two_stable_fixed_points_each_found_and_reached():
    # Unit 0 excites itself (w = 2): tanh network with fixed points 0 (a saddle) and ±x*
    # (x0 = 2 tanh x0 = ±1.915); units 1, 2 follow. W lower triangular ⇒ the map eigenvalues
    # are 1 + a(W_ii φ'(x_i) − 1).
    w = np.array([[2.0, 0.0, 0.0], [0.3, 0.2, 0.0], [-0.2, 0.1, 0.3]])
    dt, tau = 0.1, 1.0
    f = autonomous_map(network_from_weights(w, dt=dt, tau=tau), jnp.zeros(3))
    half = np.random.default_rng(7).normal(0, 0.05, (10, 3))
    starts = np.concatenate([half, -half, np.zeros((1, 3))])  # mirror pairs and the saddle
    states, _ = simulate(network_from_weights(w, dt=dt, tau=tau), jnp.zeros(3),
                         jnp.asarray(half[0]), n_steps=20)
    assert np.max(np.abs(np.asarray(states)[:, 0])) < 0.5  # the stored window stays near 0
    c = census(f, starts, dt=dt, key=KEY)
    assert sorted(c["attractor_kind"].values.tolist()) == ["stable_node", "stable_node"]
    x0 = c["attractor_state"].values[:, 0]
    np.testing.assert_allclose(np.sort(x0), [-1.9150, 1.9150], atol=1e-4)  # x = 2 tanh x
    # tanh is odd: the mirror of a start goes to the mirror of its attractor, so each is
    # reached by exactly half the runs
    owner = c["start_attractor"].values
    np.testing.assert_allclose(c["attractor_state"].values[owner[:10]],
                               -c["attractor_state"].values[owner[10:20]], atol=1e-10)
    assert c["attractor_n_starts"].values.tolist() == [10, 10]
    # the start exactly at the saddle stays there and is said so
    assert owner[20] == -1 and c["start_outcome"].values[20] == "unstable_fixed_point"
    d = 1 - np.tanh(c["attractor_state"].values[0]) ** 2
    lam = 1 + (dt / tau) * (np.diag(w) * d - 1)
    assert float(c["attractor_decay_rate"][0]) == pytest.approx(-np.log(lam.max()) / dt,
                                                                rel=1e-9)
    assert "2 attractors: stable node" in census_summary(c)
    assert "stopped on an unstable fixed point" in census_summary(c)


def test_chaotic_map_is_unresolved_with_lyapunov_evidence():
    # logistic map x ← 4x(1 − x): no stable fixed point or cycle; Lyapunov exponent ln 2.
    # (x = 0.5 would go to 1 and then exactly onto the fixed point 0: not a start here.)
    starts = np.array([0.11, 0.2, 0.3, 0.4, 0.7])[:, None]
    c = census(lambda x: 4 * x * (1 - x), starts, dt=1.0,
               key=KEY, n_lyapunov=5, lyapunov_steps=2000)
    assert c["attractor_kind"].values.tolist() == ["unresolved"]
    np.testing.assert_array_equal(c["start_attractor"].values, -1)
    assert set(c["start_outcome"].values) == {"chaotic"}
    # standard error of the mean of log|f'(x)| over 2000 steps, estimated on an orbit: 5 σ
    x, logs = 0.3, []
    for _ in range(2000):
        logs.append(np.log(abs(4 - 8 * x)))
        x = 4 * x * (1 - x)
    tol = 5 * np.std(logs) / np.sqrt(len(logs))
    np.testing.assert_allclose(c["start_lyapunov_exponent"].values, np.log(2), atol=tol)
    text = census_summary(c, label="logistic")
    assert text.startswith("logistic: NO fixed point or cycle found") and "chaotic 5" in text


def test_fixed_length_runs_report_that_they_did_not_settle():
    n, dt, tau = 4, 0.1, 1.0
    nu = np.array([0.9, 0.1, -0.2, 0.3])  # slowest map eigenvalue 0.99: time constant 100 steps
    v = _orthogonal(n, 8)
    x_star = 5.0 * v[:, 0]
    f = _linear_network(v @ np.diag(nu) @ v.T, x_star, dt=dt, tau=tau)
    c = census(f, np.zeros((3, n)), dt=dt, key=KEY, n_steps=50)
    assert c.attrs["n_steps_run"] == 50 and c.attrs["n_unsettled"] == 3
    assert not c["start_settled"].values.any()
    # still converging after 50 steps: the slow-approach check assigns them all the same
    np.testing.assert_array_equal(c["start_attractor"].values, 0)
    assert "3/3 runs did not settle within 50 steps" in census_summary(c)


@pytest.mark.parametrize("loss, n_steps", [(0.05, 200), (0.005, None)])
def test_a_slowly_decaying_focus_is_not_called_a_cycle(loss, n_steps):
    # x ← x* + ρ R(θ)(x − x*): 20 steps per turn, a fraction `loss` of the amplitude lost per
    # turn; both runs end still ringing. 5 %: a return one period later misses by 5 % >
    # return_tolerance (1 %). 0.5 %: one period misses by only 0.5 %, but the same phase
    # n_check = 5 periods later by 2.5 % — the drift check rejects it (adaptive run, 20000
    # steps: amplitude down to e^-5).
    theta, rho, dt = 2 * np.pi / 20, np.exp(-loss / 20), 0.01
    rot = rho * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    x_star = np.array([1.0, -2.0])
    f = lambda x: jnp.asarray(x_star) + jnp.asarray(rot) @ (x - jnp.asarray(x_star))  # noqa: E731
    c = census(f, x_star + np.array([[5.0, 0.0], [0.0, -4.0]]), dt=dt, key=KEY,
               n_steps=n_steps)
    assert not c["start_settled"].values.any()
    assert c["attractor_kind"].values.tolist() == ["stable_focus"]
    np.testing.assert_array_equal(c["start_attractor"].values, 0)
    np.testing.assert_allclose(c["attractor_state"].values[0], x_star, atol=1e-12)
    # eigenvalues ρ e^{±iθ} exactly: decay −log ρ / dt, frequency θ / (2π dt), to rounding
    assert float(c["attractor_decay_rate"][0]) == pytest.approx(-np.log(rho) / dt, rel=1e-9)
    assert float(c["attractor_frequency"][0]) == pytest.approx(theta / (2 * np.pi * dt),
                                                               rel=1e-12)


def test_census_errors_name_the_argument():
    f = lambda x: 0.5 * x  # noqa: E731
    with pytest.raises(ConfigError, match="Did you mean 'max_period_steps'"):
        census(f, np.ones((2, 2)), dt=0.1, key=KEY, max_period_step=10)
    with pytest.raises(ConfigError, match="dt"):
        census(f, np.ones((2, 2)), dt=0.0, key=KEY)
    with pytest.raises(ConfigError, match="key"):
        census(f, np.ones((2, 2)), dt=0.1, key=None)
    with pytest.raises(DataError, match=r"states\[None, :\]"):
        census(f, np.ones(2), dt=0.1, key=KEY)
    with pytest.raises(ConfigError, match="return a state of shape"):
        census(lambda x: x[:1], np.ones((2, 2)), dt=0.1, key=KEY)
    with pytest.raises(ConfigError, match="store_orbits"):
        census(f, np.ones((2, 2)), dt=0.1, key=KEY, store_orbits=1)
