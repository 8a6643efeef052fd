"""Tests for brainbias.analysis.pca: against an SVD/eigendecomposition reference written here."""

import numpy as np
import pytest
import xarray as xr

from brainbias import DataError
from brainbias.analysis.pca import fit_pca, participation_ratio, principal_angles, project


def _rates(seed=0, shape=(3, 200, 6)):
    """Correlated rates (context, time, unit) with distinct variances along each direction."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(shape[-1], shape[-1])) * np.linspace(3.0, 0.3, shape[-1])[:, None]
    values = rng.normal(size=shape) @ mix + rng.normal(size=shape[-1])
    return xr.DataArray(
        values, dims=("context", "time", "unit"),
        coords={"context": ["a", "b", "c"][: shape[0]],
                "unit": [f"n{i}" for i in range(shape[-1])]},
    )


def _reference(x):
    """Eigendecomposition of the sample covariance (a different route from fit_pca's SVD)."""
    cov = np.cov(x, rowvar=False)
    lam, vec = np.linalg.eigh(cov)
    order = np.argsort(lam)[::-1]
    return lam[order], vec[:, order].T


def test_agrees_with_covariance_eigendecomposition():
    rates = _rates()
    pca = fit_pca(rates)
    x = rates.values.reshape(-1, 6)
    lam, vecs = _reference(x)
    # Eigenvalues are well separated by construction, so eigh and SVD agree to rounding
    # (float64, condition of the problem ~ 1e2): 1e-10.
    np.testing.assert_allclose(pca.explained_variance.values, lam, rtol=1e-10)
    # Each component equals the reference eigenvector up to sign.
    dots = np.abs(np.sum(pca.components.values * vecs, axis=1))
    np.testing.assert_allclose(dots, 1.0, atol=1e-10)
    np.testing.assert_allclose(pca["mean"].values, x.mean(axis=0), atol=1e-12)
    assert pca.components.dims == ("component", "unit")
    assert list(pca.unit.values) == list(rates.unit.values)
    assert pca.attrs["pooled_dims"] == "context,time"
    assert pca.attrs["n_samples"] == 600


def test_components_orthonormal_and_variance_sums():
    pca = fit_pca(_rates())
    c = pca.components.values
    np.testing.assert_allclose(c @ c.T, np.eye(6), atol=1e-12)  # rounding only
    # All components kept: ratios sum to 1, variances to the total variance of the units.
    x = _rates().values.reshape(-1, 6)
    np.testing.assert_allclose(pca.explained_variance_ratio.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(pca.explained_variance.sum(), x.var(axis=0, ddof=1).sum(),
                               rtol=1e-12)
    # Truncated: ratios are a prefix of the full ones and sum to less than 1.
    pca3 = fit_pca(_rates(), n_components=3)
    np.testing.assert_allclose(pca3.explained_variance_ratio, pca.explained_variance_ratio[:3],
                               rtol=1e-12)
    assert float(pca3.explained_variance_ratio.sum()) < 1.0
    assert np.all(np.diff(pca.explained_variance.values) <= 0)


def test_sign_convention_deterministic():
    rates = _rates(seed=1)
    pca = fit_pca(rates)
    c = pca.components.values
    pivot = np.argmax(np.abs(c), axis=1)
    assert np.all(c[np.arange(len(c)), pivot] > 0)
    # Negating the data flips every SVD sign; the convention must undo it.
    flipped = fit_pca(-rates)
    np.testing.assert_allclose(flipped.components.values, c, atol=1e-12)
    # Reordering samples changes the SVD's internal signs but not the result.
    perm = rates.isel(time=np.random.default_rng(2).permutation(rates.sizes["time"]))
    np.testing.assert_allclose(fit_pca(perm).components.values, c, atol=1e-10)


def test_numpy_input_matches_dataarray():
    rates = _rates()
    a = fit_pca(rates, n_components=2)
    b = fit_pca(rates.values.reshape(-1, 6), n_components=2)
    np.testing.assert_allclose(a.components.values, b.components.values, atol=1e-12)
    assert "unit" not in b.coords


def test_project_fixed_points_manual_formula():
    rates = _rates()
    pca = fit_pca(rates, n_components=3)
    rng = np.random.default_rng(5)
    fps = xr.DataArray(rng.normal(size=(4, 6)), dims=("fixed_point", "unit"),
                       coords={"fixed_point": np.arange(4), "unit": rates.unit.values,
                               "speed": ("fixed_point", rng.random(4))})
    out = project(pca, fps)
    manual = (fps.values - pca["mean"].values) @ pca.components.values.T
    np.testing.assert_allclose(out.values, manual, atol=1e-12)
    assert out.dims == ("fixed_point", "component")
    assert "speed" in out.coords and "unit" not in out.coords
    # Trajectories keep their context/time dims; arrays give arrays.
    traj = project(pca, rates)
    assert traj.dims == ("context", "time", "component")
    assert list(traj.context.values) == ["a", "b", "c"]
    np.testing.assert_allclose(project(pca, fps.values), manual, atol=1e-12)
    # Projecting the fitted data gives scores whose variances are the explained variances.
    np.testing.assert_allclose(traj.values.reshape(-1, 3).var(axis=0, ddof=1),
                               pca.explained_variance.values, rtol=1e-10)


def test_project_rejects_misaligned_units():
    rates = _rates()
    pca = fit_pca(rates, n_components=2)
    with pytest.raises(DataError, match="coordinate differs"):
        project(pca, rates.isel(unit=slice(None, None, -1)))
    with pytest.raises(DataError, match="fitted on 6 units"):
        project(pca, np.zeros((3, 5)))


def test_principal_angles_identical_and_orthogonal():
    pca = fit_pca(_rates(), n_components=4)
    same = principal_angles(pca, pca, 3)
    np.testing.assert_allclose(same.values, 0.0, atol=1e-7)  # arccos/arcsin rounding near 0
    e = np.eye(6)
    ortho = principal_angles(e[:2], e[2:5], 2)
    np.testing.assert_allclose(ortho.values, np.pi / 2, atol=1e-12)
    # Known angle: span{e0} vs span{cos θ e0 + sin θ e1}.
    theta = 0.3
    ang = principal_angles(e[:1], (np.cos(theta) * e[0] + np.sin(theta) * e[1])[None], 1)
    np.testing.assert_allclose(ang.values, [theta], atol=1e-12)
    assert same.dims == ("component",)
    with pytest.raises(DataError, match="n_components"):
        principal_angles(pca, pca, 5)


def test_participation_ratio():
    # Isotropic Gaussian in d = 8 dims, n = 20000: the sample eigenvalues spread by
    # ~sqrt(d/n) = 2 %, giving PR = d / (1 + CV²) ≈ 8 · (1 − 4e-4); 1 % tolerance is > 20σ.
    x = np.random.default_rng(0).normal(size=(20000, 8))
    assert participation_ratio(x) == pytest.approx(8.0, rel=0.01)
    assert participation_ratio(np.array([2.0, 2.0, 2.0, 2.0])) == pytest.approx(4.0, rel=1e-14)
    assert participation_ratio(np.array([5.0, 0.0, 0.0])) == pytest.approx(1.0, rel=1e-14)
    rates = _rates()
    pca = fit_pca(rates)
    # Rates, the full PCA and its eigenvalues are three routes to the same number.
    assert participation_ratio(rates) == pytest.approx(participation_ratio(pca), rel=1e-10)
    # Strongly anisotropic data have PR well below the unit count.
    assert participation_ratio(rates) < 4.0


def test_errors():
    rates = _rates()
    with pytest.raises(DataError, match="at most"):
        fit_pca(rates.isel(context=0, time=slice(0, 3)), n_components=4)
    bad = rates.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        fit_pca(bad)
    with pytest.raises(DataError, match="'unit' dimension"):
        fit_pca(rates.rename(unit="neuron"))
    with pytest.raises(DataError, match="shape"):
        fit_pca(np.zeros(5))
    with pytest.raises(DataError, match="NaN"):
        participation_ratio(np.array([1.0, np.nan]))
    with pytest.raises(DataError, match="no variance"):
        participation_ratio(np.ones((10, 3)))
