"""Principal component analysis of network rates, as labelled xarray data.

``fit_pca`` pools every non-``unit`` dimension (contexts, trials, time, ...) into one set of
samples, centres them and takes a thin SVD (``numpy.linalg.svd``). ``project`` maps any
``(..., unit)`` array — trajectories, fixed points — into the same ``component`` coordinates,
so trajectories and fixed points of several contexts can be drawn in one shared space.
``principal_angles`` compares two subspaces (``scipy.linalg.subspace_angles``) and
``participation_ratio`` summarises dimensionality, ``(Σλ)² / Σλ²`` (Gao et al. 2017).

Sign convention (the SVD fixes each component only up to sign): every component is flipped so
that its entry of largest absolute value is positive; on ties the lowest unit index decides.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import xarray as xr

from .._errors import DataError

__all__ = ["fit_pca", "project", "principal_angles", "participation_ratio", "SIGN_CONVENTION"]

SIGN_CONVENTION = "largest-|loading| entry of each component is positive (ties: lowest unit index)"


def _as_samples(name: str, data):
    """Return ``(samples (sample, unit) ndarray, unit coordinate or None, pooled dim names)``."""
    if isinstance(data, xr.DataArray):
        if "unit" not in data.dims:
            raise DataError(
                f"{name}: expected a DataArray with a 'unit' dimension, got dims {data.dims}. "
                "Rename the neuron/unit axis to 'unit' (e.g. data.rename(neuron='unit'))."
            )
        other = tuple(d for d in data.dims if d != "unit")
        values = np.asarray(data.transpose(*other, "unit").values, dtype=float)
        unit_coord = data.indexes["unit"] if "unit" in data.coords else None
        return values.reshape(-1, data.sizes["unit"]), unit_coord, other
    values = np.asarray(data)
    if values.ndim != 2:
        raise DataError(
            f"{name}: expected an array of shape (sample, unit) or a DataArray with a 'unit' "
            f"dimension, got an array of shape {values.shape}. Reshape to 2-D, or wrap it in an "
            "xarray.DataArray naming its dimensions."
        )
    if not np.issubdtype(values.dtype, np.number):
        raise DataError(f"{name}: expected numbers, got dtype {values.dtype}.")
    return values.astype(float), None, ("sample",)


def _check_finite(name: str, values) -> None:
    if not np.all(np.isfinite(values)):
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        raise DataError(
            f"{name}: contains {bad} NaN or infinite value(s) (e.g. a diverged or padded "
            "trajectory); drop or mask those states before the analysis."
        )


def fit_pca(rates, *, n_components: int | None = None) -> xr.Dataset:
    """Principal components of rates pooled over every dimension but ``unit``.

    Parameters
    ----------
    rates : xarray.DataArray with dims (..., unit), or array of shape (sample, unit)
        E.g. (context, time, unit): all contexts and time steps are pooled into one sample set.
    n_components : int, optional
        Number of components kept; default all that the data support,
        ``min(n_samples - 1, n_units)``.

    Returns
    -------
    xarray.Dataset
        ``components`` (component, unit): orthonormal rows, signs fixed by
        :data:`SIGN_CONVENTION`; ``mean`` (unit); ``explained_variance`` (component): variance
        along each component (unbiased, ``ddof=1``); ``explained_variance_ratio`` (component):
        that variance over the total variance of all units (sums to 1 when all components are
        kept). Attributes: ``n_samples``, ``total_variance``, ``pooled_dims``,
        ``sign_convention``. A ``unit`` coordinate of the input is kept.

    Raises
    ------
    DataError
        Wrong dimensions, NaN/inf states, fewer than 2 samples, or ``n_components`` larger than
        the data support.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> rates = xr.DataArray(rng.normal(size=(2, 100, 5)), dims=("context", "time", "unit"))
    >>> pca = fit_pca(rates, n_components=3)
    >>> pca.components.dims, pca.components.shape
    (('component', 'unit'), (3, 5))
    """
    x, unit_coord, pooled = _as_samples("fit_pca: rates", rates)
    _check_finite("fit_pca: rates", x)
    n_samples, n_units = x.shape
    if n_samples < 2 or n_units < 1:
        raise DataError(
            f"fit_pca: need at least 2 samples and 1 unit, got {n_samples} sample(s) "
            f"(pooled over {pooled}) and {n_units} unit(s)."
        )
    # After centring the samples span at most n_samples - 1 dimensions.
    k_max = min(n_samples - 1, n_units)
    if n_components is None:
        n_components = k_max
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise DataError(f"fit_pca: n_components must be an int, got {n_components!r}.")
    if not 1 <= n_components <= k_max:
        raise DataError(
            f"fit_pca: n_components={n_components} is not supported by the data: "
            f"{n_samples} samples (pooled over {pooled}) of {n_units} units allow at most "
            f"min(n_samples - 1, n_units) = {k_max} components. Ask for fewer components or "
            "give more samples."
        )
    mean = x.mean(axis=0)
    centred = x - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    variance = s**2 / (n_samples - 1)
    total = float(variance.sum())
    comps = vt[:n_components]
    # Deterministic signs: argmax takes the first of tied entries.
    pivot = np.argmax(np.abs(comps), axis=1)
    signs = np.where(comps[np.arange(n_components), pivot] < 0, -1.0, 1.0)
    comps = comps * signs[:, None]
    ev = variance[:n_components]
    ratio = ev / total if total > 0 else np.zeros_like(ev)

    coords = {"component": np.arange(n_components)}
    if unit_coord is not None:
        coords["unit"] = unit_coord
    return xr.Dataset(
        {
            "components": (("component", "unit"), comps),
            "mean": (("unit",), mean),
            "explained_variance": (("component",), ev),
            "explained_variance_ratio": (("component",), ratio),
        },
        coords=coords,
        attrs={
            "n_samples": int(n_samples),
            "total_variance": total,
            "pooled_dims": ",".join(pooled),
            "sign_convention": SIGN_CONVENTION,
        },
    )


def _check_pca(name: str, pca) -> None:
    if not isinstance(pca, xr.Dataset) or not {"components", "mean"} <= set(pca.data_vars):
        raise DataError(
            f"{name}: expected the Dataset returned by fit_pca (with 'components' and 'mean'), "
            f"got {type(pca).__name__}."
        )


def _check_units(name: str, pca, data_units: int, data_unit_coord) -> None:
    n_units = pca.sizes["unit"]
    if data_units != n_units:
        raise DataError(
            f"{name}: the PCA was fitted on {n_units} units but the data have {data_units}; "
            "project states of the same network."
        )
    if data_unit_coord is not None and "unit" in pca.coords:
        if not np.array_equal(np.asarray(data_unit_coord), pca.indexes["unit"].to_numpy()):
            raise DataError(
                f"{name}: the data's 'unit' coordinate differs from the PCA's; reorder the data "
                "with data.sel(unit=pca.unit) so each loading multiplies the right unit."
            )


def project(pca: xr.Dataset, data):
    """Coordinates of states in the principal-component basis: ``(x − mean) · componentsᵀ``.

    Parameters
    ----------
    pca : xarray.Dataset
        From :func:`fit_pca`.
    data : xarray.DataArray with dims (..., unit), or array of shape (..., unit)
        Trajectories (context, time, unit), fixed points (fixed_point, unit), a single state
        (unit,), ...

    Returns
    -------
    xarray.DataArray with dims (..., component), or ndarray of shape (..., component)
        Same type as ``data``. For a DataArray the ``unit`` dimension is replaced by
        ``component`` (placed last); coordinates not along ``unit`` are kept.

    Raises
    ------
    DataError
        Not a fit_pca Dataset, a unit count or ``unit`` coordinate that differs from the fit,
        or NaN/inf states.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> pca = fit_pca(rng.normal(size=(50, 4)), n_components=2)
    >>> fps = xr.DataArray(rng.normal(size=(3, 4)), dims=("fixed_point", "unit"))
    >>> project(pca, fps).dims
    ('fixed_point', 'component')
    """
    _check_pca("project: pca", pca)
    comps = pca["components"].values
    mean = pca["mean"].values
    if isinstance(data, xr.DataArray):
        if "unit" not in data.dims:
            raise DataError(
                f"project: data must have a 'unit' dimension, got dims {data.dims}."
            )
        unit_coord = data.indexes["unit"] if "unit" in data.coords else None
        _check_units("project", pca, data.sizes["unit"], unit_coord)
        other = tuple(d for d in data.dims if d != "unit")
        values = np.asarray(data.transpose(*other, "unit").values, dtype=float)
        _check_finite("project: data", values)
        scores = (values - mean) @ comps.T
        coords = {
            k: v for k, v in data.coords.items() if "unit" not in v.dims
        }
        coords["component"] = pca["component"].values
        return xr.DataArray(
            scores, dims=(*other, "component"), coords=coords, name="projection",
            attrs={"sign_convention": pca.attrs.get("sign_convention", SIGN_CONVENTION)},
        )
    values = np.asarray(data, dtype=float)
    if values.ndim < 1:
        raise DataError("project: data must have a trailing unit axis, got a scalar.")
    _check_units("project", pca, values.shape[-1], None)
    _check_finite("project: data", values)
    return (values - mean) @ comps.T


def _component_matrix(name: str, pca) -> np.ndarray:
    if isinstance(pca, xr.Dataset):
        _check_pca(name, pca)
        return pca["components"].values
    if isinstance(pca, xr.DataArray):
        if pca.dims != ("component", "unit"):
            raise DataError(f"{name}: expected dims ('component', 'unit'), got {pca.dims}.")
        return pca.values
    m = np.asarray(pca, dtype=float)
    if m.ndim != 2:
        raise DataError(
            f"{name}: expected a fit_pca Dataset or an array (component, unit), got shape "
            f"{m.shape}."
        )
    return m


def principal_angles(pca_a, pca_b, n_components: int) -> xr.DataArray:
    """Principal angles between the subspaces of the first ``n_components`` of two PCAs.

    Parameters
    ----------
    pca_a, pca_b : xarray.Dataset from :func:`fit_pca`, or array of shape (component, unit)
        Rows span the subspaces (they need not be orthonormal).
    n_components : int
        Number of leading components of each taken.

    Returns
    -------
    xarray.DataArray, dims (component,)
        Angles in radians, ascending (0 = a shared direction, π/2 = orthogonal), computed by
        ``scipy.linalg.subspace_angles``.

    Raises
    ------
    DataError
        Different unit counts, NaN loadings, or ``n_components`` out of range.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.eye(4)
    >>> principal_angles(e[:2], e[2:], 2).values.round(4).tolist()
    [1.5708, 1.5708]
    """
    a = _component_matrix("principal_angles: pca_a", pca_a)
    b = _component_matrix("principal_angles: pca_b", pca_b)
    if a.shape[1] != b.shape[1]:
        raise DataError(
            f"principal_angles: the subspaces live in different spaces ({a.shape[1]} vs "
            f"{b.shape[1]} units); compare PCAs of the same units."
        )
    k_max = min(a.shape[0], b.shape[0])
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) or not (
        1 <= n_components <= k_max
    ):
        raise DataError(
            f"principal_angles: n_components must be an int in [1, {k_max}] (the components "
            f"both inputs have), got {n_components!r}."
        )
    _check_finite("principal_angles: components", a)
    _check_finite("principal_angles: components", b)
    angles = np.sort(scipy.linalg.subspace_angles(a[:n_components].T, b[:n_components].T))
    return xr.DataArray(
        angles, dims=("component",), coords={"component": np.arange(n_components)},
        name="principal_angle", attrs={"units": "radian"},
    )


def participation_ratio(data) -> float:
    """Participation ratio ``(Σλ)² / Σλ²`` of covariance eigenvalues ``λ``.

    Equals d for isotropic variance in d dimensions and 1 when one direction carries all of it.

    Parameters
    ----------
    data : one of
        - xarray.DataArray with a ``unit`` dim, or ndarray of shape (sample, unit): rates, whose
          covariance eigenvalues are computed (all non-``unit`` dims pooled, as in fit_pca);
        - ndarray of shape (component,): eigenvalues (variances) themselves;
        - the Dataset from :func:`fit_pca`: its ``explained_variance`` (only the kept
          components, so fit with all components for the full ratio).

    Returns
    -------
    float

    Raises
    ------
    DataError
        NaN input, negative eigenvalues, or no variance at all.

    Examples
    --------
    >>> participation_ratio(np.array([1.0, 1.0, 1.0]))
    3.0
    """
    if isinstance(data, xr.Dataset):
        _check_pca("participation_ratio: data", data)
        lam = data["explained_variance"].values
    elif isinstance(data, xr.DataArray) or np.ndim(data) == 2:
        x, _, _ = _as_samples("participation_ratio: data", data)
        _check_finite("participation_ratio: data", x)
        if x.shape[0] < 2:
            raise DataError("participation_ratio: need at least 2 samples to estimate variance.")
        s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
        lam = s**2 / (x.shape[0] - 1)
    else:
        lam = np.asarray(data, dtype=float)
        if lam.ndim != 1:
            raise DataError(
                "participation_ratio: expected rates (sample, unit), a DataArray with a 'unit' "
                f"dim, eigenvalues (component,) or a fit_pca Dataset; got shape {lam.shape}."
            )
        if np.any(lam < 0):
            raise DataError(
                "participation_ratio: eigenvalues of a covariance must be ≥ 0, got "
                f"min {lam.min():g}."
            )
    _check_finite("participation_ratio: data", lam)
    total = float(lam.sum())
    if total <= 0:
        raise DataError("participation_ratio: the data have no variance (all eigenvalues 0).")
    return total**2 / float(np.sum(lam**2))
