"""Attractor-level quality of a generated (free-running) trajectory.

The dynamical-systems-reconstruction measures of the Durstewitz lab (Koppe et al. 2019, PLOS
Comput. Biol.; Brenner et al. 2022, ICML; Hess et al. 2023, ICML), plus Lyapunov exponents and
valid prediction time:

- :func:`state_space_divergence` ``D_stsp``: KL divergence between the state-space occupancy of
  the true and the generated trajectory (binned, or a Gaussian-mixture variant for many
  dimensions);
- :func:`power_spectrum_distance` ``D_H``: Hellinger distance between smoothed power spectra,
  averaged over dimensions;
- :func:`lyapunov_exponent` / :func:`lyapunov_exponent_ode`: top Lyapunov exponents of a map or
  an ODE by the QR (Benettin) method, in a jitted ``lax.scan`` (they live in :mod:`.lyapunov`
  and are re-exported here);
- :func:`valid_prediction_time`: how long a forecast stays within a normalised error threshold
  (Pathak et al. 2018), in time units and Lyapunov times (from :mod:`.metrics`, re-exported);
- :func:`attractor_report`: ``D_stsp`` and ``D_H`` side by side with their noise floor (the same
  measures for an independent true trajectory).

A trajectory here is an array (time, output) (or (time, unit)); a DataArray with a ``time``
dimension and one other dimension is accepted too.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import scipy.ndimage
import scipy.special
import xarray as xr

from .._errors import ConfigError, DataError
from ._validate import check_series, choice, count, positive, series_values
from .lyapunov import lyapunov_exponent, lyapunov_exponent_ode  # re-exported: one home each
from .metrics import valid_prediction_time  # re-exported: one implementation, in metrics

__all__ = [
    "state_space_divergence",
    "power_spectrum_distance",
    "lyapunov_exponent",
    "lyapunov_exponent_ode",
    "valid_prediction_time",
    "attractor_report",
]

STSP_METHODS = ("bins", "gmm")
# Histograms of more than 3 dimensions have too many cells to fill with any realistic
# trajectory (30^4 = 810,000); use the Gaussian-mixture variant there.
_MAX_BIN_DIMS = 3


def _as_series(name: str, x) -> np.ndarray:
    """Validate a trajectory (time, dim) and return it as a float ndarray."""
    if isinstance(x, xr.DataArray):
        if x.ndim != 2 or "time" not in x.dims:
            raise DataError(
                f"{name}: expected a DataArray with dims ('time', <output or unit>), got "
                f"{x.dims}. Select one context/trial first."
            )
        other = next(d for d in x.dims if d != "time")
        x = x.transpose("time", other).values
    values = series_values(name, x, second="output")
    return check_series(name, values, width="dimension", nonfinite_hint=(
        ". A generated trajectory that diverged has no meaningful occupancy or spectrum; "
        "report it as diverged instead."))


def _same_dims(fn: str, x_true: np.ndarray, x_gen: np.ndarray) -> None:
    if x_true.shape[1] != x_gen.shape[1]:
        raise DataError(
            f"{fn}: x_true has {x_true.shape[1]} dimension(s) and x_gen has "
            f"{x_gen.shape[1]}; compare the same observables (e.g. the network's outputs "
            "against the target's outputs)."
        )


# ----------------------------------------------------------------------------- D_stsp


def _binned_occupancy(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_bins: int,
                      alpha: float) -> np.ndarray:
    """Laplace-smoothed occupancy over n_bins^dim cells plus one overflow cell."""
    inside = np.all((x >= lo) & (x <= hi), axis=1)
    # The upper bound belongs to the last bin (matters for margin=0, where it is the true max).
    idx = np.clip(np.floor((x - lo) / (hi - lo) * n_bins), 0, n_bins - 1).astype(np.int64)
    n_cells = n_bins ** x.shape[1]
    flat = np.full(x.shape[0], n_cells, dtype=np.int64)  # overflow cell by default
    flat[inside] = np.ravel_multi_index(tuple(idx[inside].T), (n_bins,) * x.shape[1])
    counts = np.bincount(flat, minlength=n_cells + 1).astype(float)
    return (counts + alpha) / (counts.sum() + alpha * counts.size)


def _gmm_divergence(x_true, x_gen, *, sigma, n_centres, n_mc, key) -> float:
    mean = x_true.mean(axis=0)
    std = x_true.std(axis=0)
    zt = (x_true - mean) / std
    zg = (x_gen - mean) / std

    def centres(z):
        # Evenly spaced in time: deterministic and covers the whole trajectory.
        take = np.unique(np.linspace(0, len(z) - 1, min(n_centres, len(z))).astype(int))
        return z[take]

    ct, cg = centres(zt), centres(zg)
    k_pick, k_noise = jax.random.split(key)
    pick = np.asarray(jax.random.randint(k_pick, (n_mc,), 0, len(ct)))
    noise = np.asarray(jax.random.normal(k_noise, (n_mc, zt.shape[1])), dtype=float)
    samples = ct[pick] + sigma * noise

    def log_mixture(c):
        # log (1/M) Σ_m N(s; c_m, σ² I) without the normalising constant (it cancels).
        sq = (np.sum(samples**2, axis=1)[:, None] + np.sum(c**2, axis=1)[None, :]
              - 2.0 * samples @ c.T)
        return scipy.special.logsumexp(-0.5 * np.maximum(sq, 0.0) / sigma**2, axis=1) - np.log(
            len(c))

    return float(np.mean(log_mixture(ct) - log_mixture(cg)))


def state_space_divergence(x_true, x_gen, *, n_bins: int = 30, margin: float = 0.1,
                           alpha: float = 1e-5, method: str = "bins", sigma: float = 1.0,
                           n_centres: int = 2000, n_mc: int = 2000, key=None) -> float:
    """``D_stsp``: KL divergence ``KL(p_true ‖ p_gen)`` between state-space occupancies (nats).

    ``method="bins"`` (Brenner et al. 2022; Hess et al. 2023), for at most 3 dimensions:

    - ``n_bins`` equal bins per dimension between the true data's minimum and maximum widened
      by ``margin`` × range on each side (bounds from ``x_true`` only);
    - generated samples outside those bounds are counted in one extra overflow cell (the
      reference code drops them, which would hide a generated trajectory that leaves the
      attractor);
    - Laplace smoothing: ``p = (count + alpha) / (T + alpha · n_cells)`` for both histograms,
      ``alpha = 1e-5`` as in the reference Julia code, so that empty generated cells cost a
      finite, large penalty (a collapse onto a fixed point scores ≈ 16 at T = 10^5).

    ``method="gmm"`` (Koppe et al. 2019), for any number of dimensions: both trajectories are
    standardised with the true mean and standard deviation; a Gaussian of standard deviation
    ``sigma`` (in those units, default 1.0 as in Koppe et al.) is placed on each of up to
    ``n_centres`` samples evenly spaced in time; the KL divergence between the two mixtures is
    estimated by Monte Carlo with ``n_mc`` draws from the true mixture (needs ``key``).

    Parameters
    ----------
    x_true, x_gen : array (time, output)
        Same number of dimensions; lengths may differ (occupancies are normalised).
    n_bins : int
        Bins per dimension. Each trajectory needs at least ``n_bins ** dim`` samples (one per
        cell on average) so the histogram is not mostly sampling noise.
    margin : float
        Fraction of the true range added on each side of the bin bounds.
    alpha : float
        Laplace pseudo-count per cell.
    method : {"bins", "gmm"}
    sigma, n_centres, n_mc, key
        Gaussian-mixture variant only; ``key`` is a jax.random.PRNGKey.

    Returns
    -------
    float
        ``D_stsp`` ≥ 0 (0 for identical occupancies).

    Raises
    ------
    DataError
        NaN/inf, different dimensions, too few samples for the number of bins, more than 3
        dimensions with ``method="bins"``, a constant true dimension.
    ConfigError
        Unknown method, bad parameters, ``method="gmm"`` without ``key``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(20000, 2))
    >>> state_space_divergence(x, rng.normal(size=(20000, 2)), n_bins=10) < 0.01
    True
    """
    fn = "state_space_divergence"
    choice(fn, "method", method, STSP_METHODS)
    xt = _as_series(f"{fn}: x_true", x_true)
    xg = _as_series(f"{fn}: x_gen", x_gen)
    _same_dims(fn, xt, xg)
    span = xt.max(axis=0) - xt.min(axis=0)
    if np.any(span == 0):
        raise DataError(
            f"{fn}: x_true is constant along dimension(s) {np.flatnonzero(span == 0).tolist()}; "
            "occupancy bounds (and standardisation) need a varying reference trajectory."
        )
    dim = xt.shape[1]
    if method == "gmm":
        if key is None:
            raise ConfigError(f"{fn}: method='gmm' draws Monte-Carlo samples and needs "
                              "key=jax.random.PRNGKey(seed).")
        sigma = positive(fn, "sigma", sigma)
        n_centres = count(fn, "n_centres", n_centres, 1)
        n_mc = count(fn, "n_mc", n_mc, 1)
        return _gmm_divergence(xt, xg, sigma=sigma, n_centres=n_centres, n_mc=n_mc, key=key)

    n_bins = count(fn, "n_bins", n_bins, 1)
    margin = float(margin)
    if not (math.isfinite(margin) and margin >= 0):
        raise ConfigError(f"{fn}: margin must be a finite number ≥ 0, got {margin!r}.")
    alpha = positive(fn, "alpha", alpha)
    if dim > _MAX_BIN_DIMS:
        raise DataError(
            f"{fn}: method='bins' handles at most {_MAX_BIN_DIMS} dimensions ({n_bins}^{dim} "
            f"cells cannot be filled), got {dim}. Use method='gmm' (with key=...) or compare "
            "a ≤3-dimensional projection (e.g. the leading principal components)."
        )
    n_cells = n_bins**dim
    for name, x in (("x_true", xt), ("x_gen", xg)):
        if x.shape[0] < n_cells:
            raise DataError(
                f"{fn}: {name} has {x.shape[0]} samples for {n_bins}^{dim} = {n_cells} bins; "
                f"need at least one sample per bin on average. Use n_bins ≤ "
                f"{int(x.shape[0] ** (1 / dim))} or a longer trajectory."
            )
    lo = xt.min(axis=0) - margin * span
    hi = xt.max(axis=0) + margin * span
    p = _binned_occupancy(xt, lo, hi, n_bins, alpha)
    q = _binned_occupancy(xg, lo, hi, n_bins, alpha)
    return float(np.sum(p * np.log(p / q)))


# ----------------------------------------------------------------------------- D_H


def _normalised_spectra(x: np.ndarray, smoothing: float) -> np.ndarray:
    """Per-dimension smoothed power spectra (frequency, dim) summing to 1; 0 if constant."""
    std = x.std(axis=0)
    varying = std > 0
    z = np.zeros_like(x)
    z[:, varying] = (x[:, varying] - x[:, varying].mean(axis=0)) / std[varying]
    power = np.abs(np.fft.rfft(z, axis=0)) ** 2
    power = scipy.ndimage.gaussian_filter1d(power, smoothing, axis=0)
    total = power.sum(axis=0)
    return np.divide(power, total, out=np.zeros_like(power), where=total > 0)


def power_spectrum_distance(x_true, x_gen, *, smoothing: float = 20.0) -> float:
    """``D_H``: Hellinger distance between smoothed power spectra, averaged over dimensions.

    Per dimension (Mikhaeil et al. 2022; Hess et al. 2023): standardise the series (zero
    mean, unit variance), power ``|rfft|²``, Gaussian smoothing with standard deviation
    ``smoothing`` frequency bins (``scipy.ndimage.gaussian_filter1d``, reflecting edges),
    normalise to sum 1, then ``H = sqrt(1 − Σ_f sqrt(p_f q_f))``. A generated dimension that is
    constant (e.g. collapsed onto a fixed point) has no spectrum and scores ``H = 1``.

    Parameters
    ----------
    x_true, x_gen : array (time, output)
        Same shape: both spectra must live on the same frequency grid (truncate to a common
        length first).
    smoothing : float
        Gaussian kernel standard deviation in frequency bins (σ = 20 in the references).

    Returns
    -------
    float
        Mean Hellinger distance in [0, 1].

    Raises
    ------
    DataError
        NaN/inf, different shapes, fewer than 2 samples, a constant true dimension.
    ConfigError
        Non-positive ``smoothing``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(4096) * 0.01
    >>> x = np.sin(2 * np.pi * t)[:, None]
    >>> round(power_spectrum_distance(x, x), 6)
    0.0
    """
    fn = "power_spectrum_distance"
    xt = _as_series(f"{fn}: x_true", x_true)
    xg = _as_series(f"{fn}: x_gen", x_gen)
    _same_dims(fn, xt, xg)
    if xt.shape[0] != xg.shape[0]:
        raise DataError(
            f"{fn}: x_true has {xt.shape[0]} time steps and x_gen {xg.shape[0]}; the spectra "
            "must share a frequency grid. Truncate both to the shorter length."
        )
    smoothing = positive(fn, "smoothing", smoothing)
    if np.any(xt.std(axis=0) == 0):
        raise DataError(f"{fn}: x_true has a constant dimension; its spectrum is undefined.")
    p = _normalised_spectra(xt, smoothing)
    q = _normalised_spectra(xg, smoothing)
    bc = np.sum(np.sqrt(p * q), axis=0)
    return float(np.mean(np.sqrt(np.clip(1.0 - bc, 0.0, None))))


# ----------------------------------------------------------------------------- report


def attractor_report(x_true, x_gen, *, dt, noise_floor_trajectory=None, n_bins: int = 30,
                     smoothing: float = 20.0, method: str = "bins", key=None,
                     **stsp_kwargs) -> xr.Dataset:
    """``D_stsp`` and ``D_H`` of a generated trajectory, side by side with their noise floor.

    The noise floor is the same two measures for ``noise_floor_trajectory`` — an independent
    trajectory of the true system (another initial condition), of the same length as
    ``x_true`` — against ``x_true``: the smallest values a perfect model could expect at this
    length and sampling. A generated trajectory is good when its values are near the floor.

    Parameters
    ----------
    x_true, x_gen : array (time, output)
        True and generated (free-running) trajectories; same dimensions and, for ``D_H``, the
        same length.
    dt : float
        Sampling interval (stored as an attribute).
    noise_floor_trajectory : array (time, output), optional
        Independent true trajectory, same shape as ``x_true``; without it the floor variables
        are NaN.
    n_bins, smoothing, method, key, **stsp_kwargs
        Passed to :func:`state_space_divergence` / :func:`power_spectrum_distance`.

    Returns
    -------
    xarray.Dataset
        Scalars ``state_space_divergence``, ``state_space_divergence_noise_floor``,
        ``power_spectrum_distance``, ``power_spectrum_distance_noise_floor``; the settings as
        attributes.

    Raises
    ------
    DataError, ConfigError
        As the two measures; a noise-floor trajectory of a different shape than ``x_true``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(5000, 2))
    >>> ds = attractor_report(x, x, dt=0.01, n_bins=10)
    >>> float(ds.state_space_divergence), float(ds.power_spectrum_distance_noise_floor)
    (0.0, nan)
    """
    fn = "attractor_report"
    dt = positive(fn, "dt", dt)
    xt = _as_series(f"{fn}: x_true", x_true)
    xg = _as_series(f"{fn}: x_gen", x_gen)
    stsp = dict(n_bins=n_bins, method=method, key=key, **stsp_kwargs)
    d_stsp = state_space_divergence(xt, xg, **stsp)
    d_h = power_spectrum_distance(xt, xg, smoothing=smoothing)
    floor_stsp = floor_h = float("nan")
    if noise_floor_trajectory is not None:
        xf = _as_series(f"{fn}: noise_floor_trajectory", noise_floor_trajectory)
        if xf.shape != xt.shape:
            raise DataError(
                f"{fn}: noise_floor_trajectory has shape {xf.shape} but x_true {xt.shape}; the "
                "floor depends on length, so give an independent true trajectory of the same "
                "length and dimensions."
            )
        floor_stsp = state_space_divergence(xt, xf, **stsp)
        floor_h = power_spectrum_distance(xt, xf, smoothing=smoothing)
    return xr.Dataset(
        {
            "state_space_divergence": ((), d_stsp),
            "state_space_divergence_noise_floor": ((), floor_stsp),
            "power_spectrum_distance": ((), d_h),
            "power_spectrum_distance_noise_floor": ((), floor_h),
        },
        attrs={
            "dt": dt,
            "n_time": int(xt.shape[0]),
            "n_time_generated": int(xg.shape[0]),
            "state_space_method": method,
            "n_bins": int(n_bins),
            "spectrum_smoothing": float(smoothing),
            "noise_floor": "independent true trajectory" if noise_floor_trajectory is not None
            else "not computed",
        },
    )
