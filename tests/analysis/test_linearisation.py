"""Linearisation: analytic Jacobians, spectra, stability in both time conventions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import xarray as xr

from brainbias import ConfigError, DataError, autonomous_map
from brainbias.analysis.linearisation import active_units, linearise

from ._helpers import network_from_weights


def _matched(a, b):
    """Largest distance between two multisets of complex numbers after optimal pairing."""
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = scipy.optimize.linear_sum_assignment(cost)
    return cost[rows, cols].max()


def test_jacobian_of_euler_step_matches_analytic_formula():
    # Continuous form, tanh: J = I + (dt/τ)(W D − I), D = diag(1 − tanh²(x)).
    rng = np.random.default_rng(0)
    n, dt, tau = 12, 0.1, 0.5
    w = rng.normal(0, 1.5 / np.sqrt(n), (n, n))
    b = rng.normal(0, 0.5, n)
    f = autonomous_map(network_from_weights(w, dt=dt, tau=tau), jnp.asarray(b))
    x = rng.normal(0, 1.5, (4, n))
    lin = linearise(f, x, dt=dt)
    a = dt / tau
    for i in range(len(x)):
        d = np.diag(1 - np.tanh(x[i]) ** 2)
        expected = np.eye(n) + a * (w @ d - np.eye(n))
        # jacfwd is exact up to rounding of O(1) entries: 1e-13
        np.testing.assert_allclose(lin["jacobian"].values[i], expected, atol=1e-13)
    assert lin["jacobian"].dims == ("fixed_point", "unit", "source_unit")


def test_relu_discrete_jacobian_is_active_submatrix_and_active_units_helper():
    # Discrete form, ReLU: r ← (1 − a) r + a relu(W r + b), J = (1 − a) I + a D W with D the
    # 0/1 mask of units whose preactivation W r + b is positive (Williams et al. 2024).
    rng = np.random.default_rng(1)
    n, dt = 10, 0.2
    w = rng.normal(0, 1.0 / np.sqrt(n), (n, n))
    b = rng.normal(0, 0.5, n)
    net = network_from_weights(w, nonlinearity="relu", form="discrete", dt=dt, tau=1.0)
    f = autonomous_map(net, jnp.asarray(b))
    r = rng.normal(0, 1, (3, n))
    mask = active_units(net, r, b)
    assert mask.dims == ("fixed_point", "unit") and mask.dtype == bool
    np.testing.assert_array_equal(mask.values, r @ w.T + b > 0)
    lin = linearise(f, r, dt=dt, active_units=mask)
    for i in range(len(r)):
        expected = (1 - dt) * np.eye(n) + dt * np.diag(mask.values[i]) @ w
        np.testing.assert_allclose(lin["jacobian"].values[i], expected, atol=1e-14)
    np.testing.assert_array_equal(lin["active_units"].values, mask.values)
    # continuous form: the nonlinearity acts on x itself
    cont = network_from_weights(w, nonlinearity="relu")
    np.testing.assert_array_equal(active_units(cont, r, b).values, r > 0)


def test_linear_network_spectrum_is_that_of_w_minus_identity():
    # Identity φ: J = I + (dt/τ)(W − I) everywhere, so λ = 1 + (dt/τ)(eig W − 1) and the field
    # eigenvalues are μ = (eig W − 1)/τ.
    rng = np.random.default_rng(2)
    n, dt, tau = 9, 0.05, 0.25
    w = rng.normal(0, 1.2 / np.sqrt(n), (n, n))
    b = rng.normal(0, 1, n)
    net = network_from_weights(w, nonlinearity="identity", dt=dt, tau=tau)
    f = autonomous_map(net, jnp.asarray(b))
    x_star = np.linalg.solve(np.eye(n) - w, b)
    lin = linearise(f, x_star[None], dt=dt)
    lam = lin["eigenvalue_real"].values[0] + 1j * lin["eigenvalue_imag"].values[0]
    mu = lin["field_eigenvalue_real"].values[0] + 1j * lin["field_eigenvalue_imag"].values[0]
    eig_w = np.linalg.eigvals(w)
    # eigenvalues of a well-separated 9×9 spectrum to rounding: 1e-12 (1e-10 after ÷ dt)
    assert _matched(lam, 1 + dt / tau * (eig_w - 1)) < 1e-12
    assert _matched(mu, (eig_w - 1) / tau) < 1e-10
    # sorted by |λ| descending, Im > 0 first within a conjugate pair
    assert np.all(np.diff(np.abs(lam)) <= 1e-15)
    pairs = np.isclose(np.abs(lam[:-1]), np.abs(lam[1:]), rtol=0, atol=1e-15) & (
        np.abs(lam[:-1].imag) > 0)
    assert np.all(lam[:-1][pairs].imag > 0)
    unstable = np.sum(np.abs(1 + dt / tau * (eig_w - 1)) > 1)
    assert lin["unstable_dimension_map"].item() == unstable


def test_left_and_right_eigenvectors_are_biorthogonal():
    rng = np.random.default_rng(3)
    n = 7
    w = rng.normal(0, 1.5 / np.sqrt(n), (n, n))
    f = autonomous_map(network_from_weights(w), jnp.zeros(n))
    lin = linearise(f, rng.normal(size=(2, n)), dt=0.1)
    for i in range(2):
        j = lin["jacobian"].values[i]
        lam = lin["eigenvalue_real"].values[i] + 1j * lin["eigenvalue_imag"].values[i]
        r = lin["right_eigenvector_real"].values[i] + 1j * lin["right_eigenvector_imag"].values[i]
        left = lin["left_eigenvector_real"].values[i] + 1j * lin["left_eigenvector_imag"].values[i]
        # 1e-10: eigenvectors of a random 7×7 (condition numbers ≲ 10) to rounding
        np.testing.assert_allclose(j @ r, r * lam, atol=1e-10)
        np.testing.assert_allclose(left.conj().T @ j, lam[:, None] * left.conj().T, atol=1e-10)
        np.testing.assert_allclose(left.conj().T @ r, np.eye(n), atol=1e-10)
        np.testing.assert_allclose(np.linalg.norm(r, axis=0), 1.0, atol=1e-12)


def _linear_map(matrix):
    m = jnp.asarray(matrix, dtype=float)
    return lambda x: m @ x


@pytest.mark.parametrize(
    "matrix, stability_map, stability_field, unstable_map, oscillatory",
    [
        (np.diag([0.5, 0.9]), "stable", "stable", 0, False),
        (np.diag([1.5, 0.5]), "saddle", "saddle", 1, False),
        (np.diag([1.1, 1.2]), "unstable", "unstable", 2, False),
        # λ = −1.5: the map flips and grows (|λ| > 1) but Re μ = (−1.5 − 1)/dt < 0: the two
        # conventions disagree, which is why both are reported.
        (np.diag([-1.5, 0.5]), "saddle", "stable", 1, False),
        (np.diag([1.0, 0.5]), "marginal", "marginal", 0, False),
        (1.05 * np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]]),
         "unstable", "unstable", 2, True),
    ],
)
def test_stability_classes(matrix, stability_map, stability_field, unstable_map, oscillatory):
    lin = linearise(_linear_map(matrix), np.zeros((1, 2)), dt=0.1)
    assert lin["stability_map"].item() == stability_map
    assert lin["stability_field"].item() == stability_field
    assert lin["unstable_dimension_map"].item() == unstable_map
    assert lin["stable_map"].item() == (stability_map == "stable")
    assert lin["oscillatory"].item() == oscillatory
    if oscillatory:
        # rotation by 0.3 rad per step of 0.1: period 2π·0.1/0.3, exact to rounding
        assert lin["oscillation_period"].item() == pytest.approx(2 * np.pi * 0.1 / 0.3, rel=1e-12)
    else:
        assert np.isnan(lin["oscillation_period"].item())


def test_slow_manifold_report():
    # λ = 1 exactly along e1 (a line of fixed points), 0.5 elsewhere: one slow mode, a line
    # attractor; λ = 1 − 1e-4 is slow too (time constant 10⁴ steps) unless slow_tolerance < 1e-4.
    lin = linearise(_linear_map(np.diag([0.5, 1.0, 0.2])), np.zeros((1, 3)), dt=0.1)
    assert lin["slow_dimension"].item() == 1 and lin["line_attractor"].item()
    assert lin["slowest_mode"].item() == 0  # sorted by |λ|: λ = 1 first
    nearly = linearise(_linear_map(np.diag([1 - 1e-4, 0.5, 0.2])), np.zeros((1, 3)), dt=0.1)
    assert nearly["line_attractor"].item() and nearly["stability_map"].item() == "stable"
    strict = linearise(_linear_map(np.diag([1 - 1e-4, 0.5, 0.2])), np.zeros((1, 3)), dt=0.1,
                       slow_tolerance=1e-5)
    assert strict["slow_dimension"].item() == 0 and not strict["line_attractor"].item()
    plane = linearise(_linear_map(np.diag([1.0, 1.0, 0.2])), np.zeros((1, 3)), dt=0.1)
    assert plane["slow_dimension"].item() == 2 and not plane["line_attractor"].item()


def test_sort_by_real_part():
    lin = linearise(_linear_map(np.diag([-1.5, 0.9, 0.5])), np.zeros((1, 3)), dt=0.1,
                    sort_by="real")
    np.testing.assert_allclose(lin["eigenvalue_real"].values[0], [0.9, 0.5, -1.5])
    mag = linearise(_linear_map(np.diag([-1.5, 0.9, 0.5])), np.zeros((1, 3)), dt=0.1)
    np.testing.assert_allclose(mag["eigenvalue_real"].values[0], [-1.5, 0.9, 0.5])


def test_dataset_in_dataset_out_and_netcdf_round_trip(tmp_path):
    base = xr.Dataset(
        {"state": (("fixed_point", "unit"), np.zeros((2, 2))),
         "speed": (("fixed_point",), np.zeros(2))},
        attrs={"dt": 0.1, "speed_convention": "0.5*sum((F(x)-x)**2)"},
    )
    lin = linearise(_linear_map(np.diag([0.5, 2.0])), base, dt=0.1)
    assert "speed" in lin and lin.attrs["speed_convention"] == base.attrs["speed_convention"]
    assert "sort_order" in lin.attrs and "complex_storage" in lin.attrs
    path = tmp_path / "lin.nc"
    lin.to_netcdf(path, engine="h5netcdf")  # plain NetCDF4: no invalid_netcdf needed
    back = xr.load_dataset(path, engine="h5netcdf")
    xr.testing.assert_equal(lin, back)
    assert back["stable_map"].dtype == bool
    with pytest.raises(ConfigError, match="dt=0.2 disagrees"):
        linearise(_linear_map(np.eye(2)), base, dt=0.2)


def test_empty_points_give_empty_dataset():
    lin = linearise(_linear_map(np.eye(2)), np.zeros((0, 2)), dt=0.1)
    assert lin.sizes["fixed_point"] == 0 and lin.sizes["mode"] == 2


@pytest.mark.parametrize(
    "points, match",
    [
        (np.array([[np.nan, 0.0]]), "NaN"),
        (np.zeros(2), r"point\[None, :\]"),
        (xr.DataArray(np.zeros((2, 2)), dims=("unit", "fixed_point")), "transpose"),
        (xr.Dataset({"x": (("fixed_point", "unit"), np.zeros((1, 2)))}), "'state'"),
    ],
)
def test_bad_points_raise_data_error(points, match):
    with pytest.raises(DataError, match=match):
        linearise(_linear_map(np.eye(2)), points, dt=0.1)


def test_bad_options_raise():
    f = _linear_map(np.eye(2))
    with pytest.raises(ConfigError, match="dt"):
        linearise(f, np.zeros((1, 2)), dt=0.0)
    with pytest.raises(ConfigError, match="Did you mean 'real'"):
        linearise(f, np.zeros((1, 2)), dt=0.1, sort_by="reel")
    with pytest.raises(ConfigError, match=r"shape \(3,\)"):
        linearise(lambda x: jnp.zeros(2), np.zeros((1, 3)), dt=0.1)
    with pytest.raises(DataError, match="active_units"):
        linearise(f, np.zeros((1, 2)), dt=0.1, active_units=np.ones((1, 3), bool))
    net = network_from_weights(np.eye(3), nonlinearity="relu")
    with pytest.raises(DataError, match=r"bias\[context_index\]"):
        active_units(net, np.zeros((1, 3)), np.zeros((2, 3)))
    with pytest.raises(DataError, match="3 units"):
        active_units(net, np.zeros((1, 4)), np.zeros(3))


def test_jacobian_batches_agree_with_one_batch():
    # lax.map in batches of 2 (with a remainder) equals a single vmapped batch
    rng = np.random.default_rng(4)
    n = 6
    w = rng.normal(0, 1, (n, n))
    f = autonomous_map(network_from_weights(w), jnp.zeros(n))
    x = rng.normal(size=(5, n))
    a = linearise(f, x, dt=0.1, batch_size=2, eigenvectors=False)
    b = linearise(f, x, dt=0.1, eigenvectors=False)
    np.testing.assert_array_equal(a["jacobian"].values, b["jacobian"].values)
    expected = jax.vmap(jax.jacfwd(f))(jnp.asarray(x))
    np.testing.assert_allclose(a["jacobian"].values, expected, atol=1e-15)


@pytest.mark.parametrize("spectrum, expected, n_unstable", [
    ([1.5, 1.2, 0.3, -0.4], "saddle", 2),
    ([1.5, 1.2, 1.1, 1.3], "unstable_node", 4),
    ([1.5 + 1.0j, 1.5 - 1.0j, 1.2, 1.1], "unstable_focus", 4),
    ([0.6 + 0.8j, 0.6 - 0.8j, 0.2, -0.3], "stable_focus", 0),
    ([0.7, 0.2, -0.3, 0.5], "stable_node", 0),
    ([1.0, 0.2, -0.3, 0.5], "marginal", 0),
])
def test_classification_and_time_scales_of_linear_systems(spectrum, expected, n_unstable):
    # Identity network x ← x + a(−x + W x + b): map eigenvalues λ = 1 + a(ν − 1) for the
    # eigenvalues ν of W = V blockdiag(ν) Vᵀ; continuous-time eigenvalues log(λ)/dt.
    dt, tau = 0.1, 0.5
    a = dt / tau
    block = np.zeros((4, 4))
    for i, nu in enumerate(spectrum):
        block[i, i] = np.real(nu)
    if np.iscomplexobj(np.asarray(spectrum)):
        block[0, 1], block[1, 0] = -np.imag(spectrum[0]), np.imag(spectrum[0])
    v = np.linalg.qr(np.random.default_rng(9).normal(size=(4, 4)))[0]
    f = autonomous_map(network_from_weights(v @ block @ v.T, nonlinearity="identity", dt=dt,
                                            tau=tau), jnp.asarray(np.ones(4)))
    lin = linearise(f, np.zeros((1, 4)), dt=dt, eigenvectors=False)  # linear: any point
    lam = 1 + a * (np.asarray(spectrum, complex) - 1)
    dom = lam[np.argmax(np.abs(lam))]
    assert str(lin["classification"].values[0]) == expected
    assert int(lin["unstable_dimension_map"][0]) == n_unstable
    mu = lin["continuous_eigenvalue_real"].values[0] + 1j * lin["continuous_eigenvalue_imag"]\
        .values[0]
    # 4×4 normal matrix: eigenvalues to rounding, 1e-12
    assert _matched(mu, np.log(lam) / dt) < 1e-12
    assert float(lin["decay_rate"][0]) == pytest.approx(-np.log(abs(dom)) / dt, abs=1e-12)
    assert float(lin["decay_rate_per_step"][0]) == pytest.approx(-np.log(abs(dom)), abs=1e-12)
    freq = float(lin["oscillation_frequency"][0])
    if expected.endswith("focus"):
        assert freq == pytest.approx(abs(np.angle(dom)) / (2 * np.pi * dt), rel=1e-12)
        assert float(lin["oscillation_frequency_per_step"][0]) == pytest.approx(freq * dt)
    else:
        assert np.isnan(freq)


def test_a_negative_dominant_multiplier_is_a_focus_at_the_nyquist_frequency():
    # dt = τ (a = 1): λ = ν. A dominant λ = −0.9 flips sign every step: period 2 steps.
    lin = linearise(lambda x: jnp.array([-0.9, 0.5]) * x, np.zeros((1, 2)), dt=0.1)
    assert str(lin["classification"].values[0]) == "stable_focus"
    assert float(lin["oscillation_frequency"][0]) == pytest.approx(1 / (2 * 0.1))
    assert float(lin["decay_rate"][0]) == pytest.approx(-np.log(0.9) / 0.1)
