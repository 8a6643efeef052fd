"""Fixed and slow points: analytic answers, known multi-stable systems, BrainPy cross-check."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import xarray as xr

from brainbias import ConfigError, DataError, autonomous_map, simulate
from brainbias.analysis import fixed_points as fp_module
from brainbias.analysis.fixed_points import find_fixed_points, speed
from brainbias.analysis.linearisation import linearise

from ._helpers import network_from_weights

KEY = jax.random.PRNGKey(0)



def _quiet_find(*args, **kwargs):
    """find_fixed_points without the 'no convergence' warning (slow points are expected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return find_fixed_points(*args, **kwargs)


def _liénard_map(dt):
    """Euler map of dx/dt = y, dy/dt = −(x³ − x) − (1 + 2x) y.

    Fixed points (y = 0, x³ = x): (0, 0) a saddle (μ = (−1 ± √5)/2); (1, 0) a stable node
    (μ = −1, −2); (−1, 0) an unstable focus (μ = (1 ± i√7)/2).
    """

    def f(s):
        x, y = s[0], s[1]
        return s + dt * jnp.stack([y, -(x**3 - x) - (1 + 2 * x) * y])

    return f


# ---------------------------------------------------------------- known answers


def test_linear_network_single_fixed_point_solves_linear_system():
    # Identity nonlinearity: F(x) = x + a(−x + W x + b), so the only fixed point solves
    # (I − W) x = b. g = 1.5 makes it unstable: the finder must not care about stability.
    rng = np.random.default_rng(0)
    n = 8
    w = rng.normal(0, 1.5 / np.sqrt(n), (n, n))
    b = rng.normal(0, 1, n)
    f = autonomous_map(network_from_weights(w, nonlinearity="identity"), jnp.asarray(b))
    starts = rng.normal(0, 2, (16, n))
    ds = find_fixed_points(f, starts, key=KEY, dt=0.1)
    expected = np.linalg.solve(np.eye(n) - w, b)
    assert ds.sizes["fixed_point"] == 1
    assert ds["kind"].item() == "fixed"
    assert ds["speed"].item() < 1e-12
    # Newton converges to rounding level; cond(I − W) ≈ 10² here, so 1e-9 leaves ample room.
    np.testing.assert_allclose(ds["state"].values[0], expected, atol=1e-9)
    assert ds.attrs["speed_convention"] == "0.5*sum((F(x)-x)**2)"
    assert ds.attrs["dt"] == 0.1 and ds.attrs["q_tolerance"] == 1e-12
    assert ds.attrs["n_starts"] == 16 and ds.attrs["n_duplicates"] == 15


def test_two_dimensional_system_all_fixed_points_found_and_classified():
    dt = 0.05
    f = _liénard_map(dt)
    grid = np.stack(np.meshgrid(np.linspace(-1.6, 1.6, 7), np.linspace(-1.6, 1.6, 7)), -1)
    ds = _quiet_find(f, grid.reshape(-1, 2), key=KEY, dt=dt)
    fixed = ds.isel(fixed_point=ds["kind"].values == "fixed")
    found = fixed["state"].values
    expected = np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    assert len(found) == 3
    order = np.argsort(found[:, 0])
    # q < 1e-12 with |J − I| ≈ dt·|μ| ≥ 0.03 bounds the distance to ≈ 5e-5; Newton gets 1e-12.
    np.testing.assert_allclose(found[order], expected, atol=1e-9)

    lin = linearise(f, fixed, dt=dt).isel(fixed_point=order)
    assert list(lin["stability_map"].values) == ["unstable", "saddle", "stable"]
    assert list(lin["stability_field"].values) == ["unstable", "saddle", "stable"]
    assert list(lin["unstable_dimension_map"].values) == [2, 1, 0]
    assert list(lin["oscillatory"].values) == [True, False, False]
    # Focus: μ = (1 + i√7)/2, λ = 1 + dt μ; period from the map's phase exactly (1e-9:
    # eigenvalues of a 2×2 matrix to rounding) and near the field's 4π/√7 (O(dt) apart: 3 %).
    lam = 1 + dt * (1 + 1j * np.sqrt(7)) / 2
    period = lin["oscillation_period"].values[0]
    assert period == pytest.approx(2 * np.pi * dt / np.angle(lam), rel=1e-9)
    assert period == pytest.approx(4 * np.pi / np.sqrt(7), rel=0.03)
    assert np.isnan(lin["oscillation_period"].values[1:]).all()
    mu_node = np.sort(lin["field_eigenvalue_real"].values[2])
    np.testing.assert_allclose(mu_node, [-2.0, -1.0], atol=1e-9)


def test_hopfield_network_has_stable_fixed_points_at_stored_patterns():
    # W = β/N Σ ξ ξᵀ with tanh and mutually orthogonal ±1 patterns (Hadamard rows with random
    # column signs): W tanh(c ξ) = β tanh(c) ξ exactly, so ±c ξ is a fixed point when
    # c = β tanh(c) (c ≈ 1.915 for β = 2), stable since β (1 − tanh² c) ≈ 0.17 < 1.
    rng = np.random.default_rng(1)
    n, k, beta = 64, 3, 2.0
    signs = rng.choice([-1.0, 1.0], size=n)
    patterns = scipy.linalg.hadamard(n)[1 : k + 1] * signs
    w = beta / n * patterns.T @ patterns
    c = scipy.optimize.brentq(lambda c: c - beta * np.tanh(c), 1.0, 3.0)
    net = network_from_weights(w)
    f = autonomous_map(net, jnp.zeros(n))
    # Starts sampled from trajectories (the intended use): recall from cues with 20 % of the
    # signs flipped, both signs of every pattern, plus two random cues.
    flips = rng.random((2 * k, n)) < 0.2
    cues = np.concatenate([patterns, -patterns]) * np.where(flips, -1.0, 1.0)
    cues = np.concatenate([cues, rng.normal(0, 1, (2, n))])
    run = jax.vmap(lambda x0: simulate(net, jnp.zeros(n), x0, n_steps=40)[0])
    starts = np.asarray(run(jnp.asarray(cues)))[:, ::8].reshape(-1, n)
    ds = _quiet_find(f, starts, key=KEY, dt=0.1)
    fixed = ds.isel(fixed_point=ds["kind"].values == "fixed")
    lin = linearise(f, fixed, dt=0.1, eigenvectors=False)
    stable = lin["state"].values[lin["stable_map"].values]
    assert len(stable) >= k
    for target in np.concatenate([patterns, -patterns]) * c:
        # Newton's precision (q < 1e-12 and well-conditioned J − I) is far below 1e-8
        assert np.linalg.norm(stable - target, axis=1).min() < 1e-8
    np.testing.assert_allclose(lin["eigenvalue_real"].values[:, 0].max(), 1, atol=0.1)


def test_line_attractor_is_found_and_reported_as_such():
    # Identity network with W = m mᵀ / (mᵀ m): F(x) − x = a (W − I) x vanishes on span(m) — a
    # line of fixed points, eigenvalue exactly 1 along m and 1 − a on the rest.
    rng = np.random.default_rng(2)
    n = 10
    m = rng.normal(size=n)
    w = np.outer(m, m) / (m @ m)
    f = autonomous_map(network_from_weights(w, nonlinearity="identity"), jnp.zeros(n))
    ds = find_fixed_points(f, rng.normal(0, 2, (24, n)), key=KEY, dt=0.1)
    x = ds["state"].values
    assert (ds["kind"] == "fixed").all()
    off_line = np.linalg.norm(x - np.outer(x @ m / (m @ m), m), axis=1)
    # Off the line F(x) − x = −a · (offset), so the offset is exactly √(2q)/a (a = dt/τ = 0.1):
    # on the line to the precision q < 1e-12 allows (1e-12 absolute slack for rounding).
    np.testing.assert_allclose(off_line, np.sqrt(2 * ds["speed"].values) / 0.1, rtol=1e-6,
                               atol=1e-12)
    assert off_line.max() < 1.5e-5
    along = x @ m / np.linalg.norm(m)
    assert len(x) > 10 and np.ptp(along) > 3  # a spread of distinct points along the line
    lin = linearise(f, ds, dt=0.1)
    assert lin["line_attractor"].all() and (lin["slow_dimension"] == 1).all()
    assert (lin["stability_map"] == "marginal").all()
    slow = lin["slowest_mode"].values
    lam = lin["eigenvalue_real"].values[np.arange(len(x)), slow]
    np.testing.assert_allclose(lam, 1.0, atol=1e-12)  # rank one: exact up to rounding
    vec = lin["right_eigenvector_real"].values[np.arange(len(x)), :, slow]
    np.testing.assert_allclose(np.abs(vec @ m) / np.linalg.norm(m), 1.0, atol=1e-9)


def _symmetric_network_map():
    """Five tanh units with symmetric W (g = 2): seven fixed points, three stable, four saddles."""
    rng = np.random.default_rng(3)
    n = 5
    w = rng.normal(0, 2.0 / np.sqrt(n), (n, n))
    w = (w + w.T) / np.sqrt(2)
    b = rng.normal(0, 0.3, n)
    return autonomous_map(network_from_weights(w), jnp.asarray(b)), rng.normal(0, 2, (64, n))


@pytest.mark.brainpy
def test_agrees_with_brainpy_slow_point_finder():
    f, starts = _symmetric_network_map()
    # Same map, same 64 starts. Each optimiser at its own learning rate: ours at 0.05 (the
    # point farthest from the start cloud, |x| ≈ 7, is out of reach of 500 steps at 0.01),
    # BrainPy's at its default 0.2 · 0.9999^k, for 2000 iterations instead of 10000.
    ours = _quiet_find(f, starts, key=KEY, dt=0.1, learning_rate=0.05)
    theirs = _quiet_find(f, starts, key=KEY, dt=0.1, method="brainpy", n_iterations=2000)
    # importing brainpy must not switch float64 off for the rest of the process
    assert jax.config.read("jax_enable_x64")
    assert theirs.attrs["method"] == "brainpy" and theirs["state"].dtype == np.float64
    a = ours["state"].values[ours["kind"].values == "fixed"]
    b = theirs["state"].values[theirs["kind"].values == "fixed"]
    assert len(a) == len(b) == 7
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    # Same set: every point has a partner in the other set. Both reach q < 1e-12, i.e.
    # |F(x) − x| < 1.5e-6; with |J − I| ≥ 0.01 here that bounds each to 1.5e-4 of the exact
    # point; 1e-3 is also the deduplication tolerance.
    assert d.min(axis=1).max() < 1e-3 and d.min(axis=0).max() < 1e-3
    # q is ours (½·sum), recomputed on BrainPy's points, not BrainPy's mean
    np.testing.assert_allclose(theirs["speed"].values, speed(f, theirs["state"].values),
                               rtol=1e-12, atol=1e-30)


# ---------------------------------------------------------------- behaviour


def test_nothing_converges_warns_and_returns_slow_points():
    def f(x):  # no fixed point anywhere: q = n/2 everywhere
        return x + 1.0

    starts = np.random.default_rng(4).normal(size=(5, 3))
    with pytest.warns(UserWarning, match="no start converged"):
        ds = find_fixed_points(f, starts, key=KEY, n_iterations=20, newton_iterations=3)
    assert (ds["kind"] == "slow").all() and ds.sizes["fixed_point"] == 5
    np.testing.assert_allclose(ds["speed"].values, 1.5)


def test_deduplication_and_outlier_rules():
    # F(x) = x/2 pulls everything to 0; with no optimisation at all the starts come back
    # unchanged, so the rules can be checked on known positions.
    def f(x):
        return 0.5 * x

    starts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0005, 0.0], [0.0, 1.0], [100.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ds = find_fixed_points(f, starts, key=KEY, n_iterations=0, newton_iterations=0,
                               outlier_distance=3.0)
    # Centroid (20.4, 0.2), mean distance to it 31.8: the point at 100 is 79.6 away, inside
    # 3 × 31.8 (kept) but outside 2 × 31.8 (dropped below).
    assert ds.attrs["n_outliers"] == 0
    # 1.0 and 1.0005 are 5e-4 apart < 1e-3: one is a duplicate (the one with larger q)
    assert ds.attrs["n_duplicates"] == 1
    kept = {tuple(s) for s in ds["state"].values}
    assert (1.0, 0.0) in kept and (1.0005, 0.0) not in kept
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tight = find_fixed_points(f, starts, key=KEY, n_iterations=0, newton_iterations=0,
                                  outlier_distance=2.0)
    assert tight.attrs["n_outliers"] == 1 and 100.0 not in tight["state"].values[:, 0]
    assert "mean distance" in tight.attrs["outlier_rule"]
    # sorted by q: the origin (q = 0, a true fixed point) first
    assert ds["kind"].values[0] == "fixed" and ds["speed"].values[0] == 0.0


def test_subsampling_and_noise_use_the_key():
    f = _liénard_map(0.05)
    states = np.random.default_rng(5).uniform(-1.5, 1.5, (40, 2))
    kwargs = dict(n_starts=12, noise_scale=0.01, n_iterations=0, newton_iterations=0,
                  unique_tolerance=0.0, outlier_distance=np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        a = find_fixed_points(f, states, key=KEY, **kwargs)
        b = find_fixed_points(f, states, key=KEY, **kwargs)
        c = find_fixed_points(f, states, key=jax.random.PRNGKey(1), **kwargs)
    assert a.attrs["n_starts"] == 12
    xr.testing.assert_identical(a, b)
    assert not np.array_equal(np.sort(a["state"].values, 0), np.sort(c["state"].values, 0))
    # every start is a state plus noise of std 0.01: within 6σ of some state
    d = np.linalg.norm(a["state"].values[:, None] - states[None], axis=2).min(axis=1)
    assert d.max() < 6 * 0.01 * np.sqrt(2)


def test_second_call_with_the_same_map_does_not_recompile():
    f = _liénard_map(0.05)
    states = np.random.default_rng(7).uniform(-1.5, 1.5, (8, 2))
    kwargs = dict(key=KEY, n_iterations=20, newton_iterations=3)
    _quiet_find(f, states, **kwargs)
    sizes = fp_module._adam._cache_size(), fp_module._newton_round._cache_size()
    _quiet_find(f, states + 0.1, **kwargs)  # same map and shapes, other values
    assert (fp_module._adam._cache_size(), fp_module._newton_round._cache_size()) == sizes


def test_netcdf_round_trip(tmp_path):
    f = _liénard_map(0.05)
    ds = _quiet_find(f, np.random.default_rng(6).uniform(-1.5, 1.5, (12, 2)), key=KEY, dt=0.05)
    path = tmp_path / "fps.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    back = xr.load_dataset(path, engine="h5netcdf")
    xr.testing.assert_equal(ds, back)
    assert back.attrs["speed_convention"] == ds.attrs["speed_convention"]


def test_float32_warning_when_tolerance_unreachable(monkeypatch):
    monkeypatch.setattr(fp_module, "_working_dtype", lambda: np.dtype(np.float32))
    with pytest.warns(UserWarning, match="float32"):
        with pytest.raises(DataError):  # fails after the warning, on the NaN: cheap
            find_fixed_points(lambda x: x, np.full((2, 2), np.nan), key=KEY)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "states, match",
    [
        (np.array([[0.0, np.nan]]), "NaN"),
        (np.zeros(3), r"shape \(n, unit\).*states\[None, :\]"),
        (np.zeros((0, 3)), "at least one"),
        (np.zeros((2, 3), complex), "complex"),
    ],
)
def test_bad_states_raise_data_error(states, match):
    with pytest.raises(DataError, match=match):
        find_fixed_points(lambda x: x, states, key=KEY)


def test_bad_step_function_raises_config_error():
    w = jnp.eye(3)
    with pytest.raises(ConfigError, match=r"shape \(4,\)"):
        find_fixed_points(lambda x: w @ x, np.zeros((2, 4)), key=KEY)  # 3×3 W, 4-unit states
    with pytest.raises(ConfigError, match=r"return a state of shape \(3,\)"):
        find_fixed_points(lambda x: jnp.sum(x), np.zeros((2, 3)), key=KEY)
    with pytest.raises(ConfigError, match="callable"):
        find_fixed_points(np.eye(3), np.zeros((2, 3)), key=KEY)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(method="brainPy"), "Did you mean 'brainpy'"),
        (dict(key=None), "key"),
        (dict(q_tolerance=0.0), "q_tolerance"),
        (dict(unique_tolerance=-1.0), "unique_tolerance"),
        (dict(n_iterations=-1), "n_iterations"),
        (dict(learning_rate_decay=1.5), "learning_rate_decay"),
        (dict(dt=0.0), "dt"),
    ],
)
def test_bad_options_raise_config_error(kwargs, match):
    kwargs = {"key": KEY, **kwargs}
    with pytest.raises(ConfigError, match=match):
        find_fixed_points(lambda x: x, np.zeros((2, 3)), **kwargs)
