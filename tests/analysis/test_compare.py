"""Tests for brainbias.analysis.compare: invariances with known answers."""

import jax
import numpy as np
import pytest
import xarray as xr

from brainbias import ConfigError, DataError
from brainbias.analysis.compare import (
    cca_similarity,
    compare_dynamics,
    dsa_distance,
    procrustes_distance,
)


def _oscillator(omega, decay, x0, n_time=400, dt=0.05):
    """Exact samples of a damped oscillator: x_{t+1} = e^{−decay·dt} R(omega·dt) x_t."""
    c, s = np.cos(omega * dt), np.sin(omega * dt)
    step = np.exp(-decay * dt) * np.array([[c, -s], [s, c]])
    x = np.empty((n_time, 2))
    x[0] = x0
    for t in range(1, n_time):
        x[t] = step @ x[t - 1]
    return x


def _trajectory(seed=0, n_time=500):
    """A smooth 3-D trajectory with distinct variances (a slightly irregular curve)."""
    t = np.linspace(0, 10, n_time)
    rng = np.random.default_rng(seed)
    return np.stack([3 * np.sin(t), np.cos(1.7 * t), 0.5 * np.sin(0.3 * t + 1)], axis=1) + (
        0.01 * rng.normal(size=(n_time, 3))
    )


def _orthogonal(n, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return q


def test_procrustes_zero_for_rotated_scaled_shifted_copy():
    a = _trajectory()
    b = 2.5 * a @ _orthogonal(3, 1) + np.array([1.0, -4.0, 7.0])
    # Exact invariance; only rounding remains (disparity is a squared quantity: ~1e-30..1e-15).
    assert procrustes_distance(a, b) < 1e-12
    assert procrustes_distance(b, a) < 1e-12
    # A reflection is an orthogonal map too.
    assert procrustes_distance(a, a * np.array([-1.0, 1.0, 1.0])) < 1e-12


def test_procrustes_different_unit_counts():
    a = _trajectory()
    # Isometric embedding of the 3-D trajectory in 7 units (orthonormal rows), scaled, shifted.
    embed = _orthogonal(7, 2)[:3]
    b = 0.3 * a @ embed + 2.0
    assert procrustes_distance(a, b) < 1e-12  # zero-padding: exact up to rounding
    assert procrustes_distance(a, b, n_components=3) < 1e-12  # PCA reduction: also exact
    da = xr.DataArray(a, dims=("time", "unit"))
    assert procrustes_distance(da, b.T.copy().T) < 1e-12


def test_procrustes_positive_for_unrelated():
    a = _trajectory()
    rng = np.random.default_rng(3)
    unrelated = np.cumsum(rng.normal(size=a.shape), axis=0)  # random walk
    d = procrustes_distance(a, unrelated)
    # Two unrelated curves share little: disparity is O(1) (here ≈ 0.8); 0.3 is far from 0.
    assert 0.3 < d <= 1.0
    # A non-orthogonal (shearing) map is not a Procrustes symmetry: clearly > 0.
    assert procrustes_distance(a, a @ np.array([[1, 3, 0], [0, 1, 0], [0, 0, 1.0]])) > 1e-3


def test_cca_one_for_linear_transform():
    a = _trajectory()
    rng = np.random.default_rng(4)
    b = a @ rng.normal(size=(3, 6)) + 5.0  # full-rank linear map into 6 units
    # Same column space exactly: correlations are 1 up to rounding.
    assert cca_similarity(a, b, 3) == pytest.approx(1.0, abs=1e-10)
    # Independent noise: canonical correlations are O(sqrt(k/T)) ≈ 0.08 for k = 3, T = 500.
    noise = rng.normal(size=(500, 6))
    assert cca_similarity(a, noise, 3) < 0.25


def test_dsa_spectral_same_system_different_observations():
    rng = np.random.default_rng(5)
    a = _oscillator(2.0, 0.1, [1.0, 0.0])
    b = _oscillator(2.0, 0.1, [0.3, -2.0])  # other initial condition
    c = _oscillator(3.0, 0.1, [1.0, 0.0])  # other frequency
    m1, m2 = rng.normal(size=(2, 2)), rng.normal(size=(2, 5))
    same = dsa_distance(a @ m1, b @ m2, n_delays=3, rank=2)
    other = dsa_distance(a @ m1, c @ m2, n_delays=3, rank=2)
    # Exact linear data: the fitted operators are similar matrices, so the spectra agree to
    # rounding (lstsq + eig on a well-conditioned 2×2 problem: ~1e-15).
    assert same < 1e-9
    # Eigenvalues e^{(−0.1 ± 2i)dt} vs e^{(−0.1 ± 3i)dt}, dt = 0.05: |Δλ| ≈ 0.05.
    assert other == pytest.approx(0.05, rel=0.02)


def test_dsa_spectral_robust_to_observation_noise():
    rng = np.random.default_rng(6)
    m1, m2 = rng.normal(size=(2, 2)), rng.normal(size=(2, 5))
    a = _oscillator(2.0, 0.1, [1.0, 0.0]) @ m1 + 0.01 * rng.normal(size=(400, 2))
    b = _oscillator(2.0, 0.1, [0.3, -2.0]) @ m2 + 0.01 * rng.normal(size=(400, 5))
    c = _oscillator(3.0, 0.1, [1.0, 0.0]) @ m2 + 0.01 * rng.normal(size=(400, 5))
    same = dsa_distance(a, b, n_delays=10, rank=2)
    other = dsa_distance(a, c, n_delays=10, rank=2)
    # 1 % observation noise moves eigenvalues by ~1e-4 (measured 1.4e-4); a 0.05 spectral
    # difference must stay at least 10× larger.
    assert other > 10 * same


def test_dsa_procrustes_method():
    rng = np.random.default_rng(7)
    a = _oscillator(2.0, 0.1, [1.0, 0.0])
    c = _oscillator(3.0, 0.1, [1.0, 0.0])
    m1, m2 = rng.normal(size=(2, 2)), rng.normal(size=(2, 5))
    key = jax.random.PRNGKey(0)
    kwargs = dict(n_delays=3, rank=2, method="procrustes", key=key, n_restarts=2)
    same = dsa_distance(a @ m1, a @ m2, **kwargs)
    other = dsa_distance(a @ m1, c @ m2, **kwargs)
    # Whitened delay coordinates make the two operators orthogonally similar; L-BFGS stops at
    # its gradient tolerance (measured ~1e-8 rad); 1e-6 leaves margin for other BLAS builds.
    assert same < 1e-6
    assert other > 0.02  # angle between the two rotation-like operators ≈ 0.05 rad
    with pytest.raises(ConfigError, match="key"):
        dsa_distance(a, c, n_delays=3, rank=2, method="procrustes")


def test_compare_dynamics_dataset():
    a = _oscillator(2.0, 0.1, [1.0, 0.0])
    b = a @ np.array([[1.0, 2.0, 0.5], [0.0, 1.0, -1.0]])
    ds = compare_dynamics(a, b, n_components=2, n_delays=3, rank=2)
    assert isinstance(ds, xr.Dataset)
    assert set(ds.data_vars) == {"procrustes_distance", "cca_similarity", "dsa_distance",
                                 "canonical_correlation"}
    assert ds.canonical_correlation.dims == ("component",)
    assert float(ds.cca_similarity) == pytest.approx(1.0, abs=1e-10)
    assert float(ds.dsa_distance) < 1e-9
    assert float(ds.procrustes_distance) > 1e-3  # a shear is not a rotation
    assert ds.attrs["procrustes_dimension_matching"] == "zero-padding"


def test_errors():
    a = _trajectory()
    with pytest.raises(DataError, match="equal length"):
        procrustes_distance(a, a[:-1])
    bad = a.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        cca_similarity(a, bad, 2)
    with pytest.raises(DataError, match="n_components"):
        cca_similarity(a, a, 4)
    flat = a[:, :2] @ np.random.default_rng(8).normal(size=(2, 5))  # rank 2 in 5 units
    with pytest.raises(DataError, match="b spans only 2"):
        cca_similarity(a, flat, 3)
    osc = _oscillator(2.0, 0.1, [1.0, 0.0])
    with pytest.raises(DataError, match="numerical rank 2"):
        dsa_distance(osc, osc, n_delays=3, rank=4)
    with pytest.raises(ConfigError, match="method"):
        dsa_distance(osc, osc, n_delays=3, rank=2, method="spectrum")
    with pytest.raises(DataError, match="dims"):
        procrustes_distance(xr.DataArray(a, dims=("time", "neuron")), a)
    with pytest.raises(DataError, match="shape"):
        procrustes_distance(a[:, 0], a)
