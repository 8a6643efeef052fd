"""Comparing the dynamics of two trajectories: Procrustes, CCA and DSA-style operator distance.

All functions take two trajectories ``a`` and ``b`` of shape (time, unit) — arrays or
DataArrays with dims ``time`` and ``unit`` — whose unit counts may differ (a network and the
system it imitates, two networks of different size).

- :func:`procrustes_distance`: geometry up to translation, rotation/reflection and scale
  (``scipy.spatial.procrustes``). Needs the same number of time steps (point-to-point matching).
- :func:`cca_similarity`: mean canonical correlation of the two PCA-reduced trajectories,
  invariant to any invertible linear map of either trajectory.
- :func:`dsa_distance`: Dynamical Similarity Analysis in the spirit of Ostrow et al. (2023,
  NeurIPS, "Beyond geometry: comparing the temporal structure of computation in neural
  circuits with dynamical similarity analysis"): a linear operator fitted to delay-embedded
  data, compared up to similarity transform. What is implemented and how it departs from the
  paper is written out in :func:`dsa_distance`.
- :func:`compare_dynamics`: all three in one xarray Dataset.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.spatial
import xarray as xr

from .._errors import ConfigError, DataError
from ._validate import check_series, choice, series_values

__all__ = ["procrustes_distance", "cca_similarity", "dsa_distance", "compare_dynamics"]

DSA_METHODS = ("spectral", "procrustes")

# Relative singular-value floor below which a direction is numerically absent (float64 SVD
# error is ~1e-15 of the largest singular value; 1e-10 leaves a wide margin for rounding in
# data that went through an ODE solver or a linear map).
_RANK_TOL = 1e-10


def _as_trajectory(name: str, x, *, second_dim: str = "unit") -> np.ndarray:
    """Validate a (time, unit) trajectory and return it as a float ndarray."""
    if isinstance(x, xr.DataArray):
        if set(x.dims) != {"time", second_dim}:
            raise DataError(
                f"{name}: expected a DataArray with dims ('time', '{second_dim}'), got "
                f"{x.dims}. Select one context/trial first (e.g. x.sel(context=...))."
            )
        values = np.asarray(x.transpose("time", second_dim).values, dtype=float)
    else:
        values = series_values(name, x, second=second_dim)
    return check_series(name, values, width=second_dim, nonfinite_hint=(
        " (a diverged run?); compare finite trajectories only."))


def _same_length(fn: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[0] != b.shape[0]:
        raise DataError(
            f"{fn}: a has {a.shape[0]} time steps and b has {b.shape[0]}; this comparison "
            "matches time points one to one, so give trajectories of equal length "
            "(e.g. truncate both to the shorter one)."
        )


def _check_count(fn: str, name: str, value, lo: int, hi: int, why: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise DataError(f"{fn}: {name} must be an int in [{lo}, {hi}] ({why}), got {value!r}.")
    return int(value)


def _pca_basis(fn: str, name: str, x: np.ndarray, k: int):
    """Orthonormal time-courses (time, k) and singular values of the top-k PCs of x."""
    u, s, _ = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    rank = int(np.sum(s > _RANK_TOL * s[0])) if s[0] > 0 else 0
    if rank < k:
        raise DataError(
            f"{fn}: {name} spans only {rank} dimension(s) numerically, fewer than the "
            f"{k} requested; use n_components ≤ {rank}."
        )
    return u[:, :k], s[:k]


def procrustes_distance(a, b, *, n_components: int | None = None) -> float:
    """Procrustes disparity between two trajectories after optimal alignment.

    Both trajectories are centred and scaled to unit Frobenius norm, then ``b`` is rotated or
    reflected (orthogonal map) and scaled to best match ``a``; the result is the remaining sum
    of squared differences (``scipy.spatial.procrustes``' disparity, ``1 − (Σσ)²`` with σ the
    singular values of ``aᵀb``): 0 for a rotated, scaled and shifted copy, at most 1.

    Different unit counts: by default the narrower trajectory is zero-padded to the wider one's
    width — an isometric embedding that loses nothing. With ``n_components`` both are first
    reduced to their leading ``n_components`` principal-component scores (drops noise
    dimensions; a rotated copy still gives 0, because PCA scores are rotation-equivariant up to
    a sign the Procrustes rotation absorbs, unless eigenvalues are tied).

    Parameters
    ----------
    a, b : array (time, unit) or DataArray with dims (time, unit)
        Same number of time steps; the unit counts may differ.
    n_components : int, optional
        Reduce both to this many PCs first.

    Returns
    -------
    float
        Disparity in [0, 1]; symmetric in ``a`` and ``b``.

    Raises
    ------
    DataError
        NaN, different lengths, a constant trajectory, or ``n_components`` too large.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(100, 3))
    >>> q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    >>> round(procrustes_distance(a, 2.0 * a @ q + 1.0), 12)
    0.0
    """
    fn = "procrustes_distance"
    xa = _as_trajectory(f"{fn}: a", a)
    xb = _as_trajectory(f"{fn}: b", b)
    _same_length(fn, xa, xb)
    for name, x in (("a", xa), ("b", xb)):
        if np.allclose(x, x[0]):
            raise DataError(f"{fn}: {name} is constant over time; Procrustes needs variation.")
    if n_components is not None:
        k_max = min(xa.shape[1], xb.shape[1], xa.shape[0] - 1)
        k = _check_count(fn, "n_components", n_components, 1, k_max,
                         "at most min(units of a, units of b, time − 1)")
        ua, sa = _pca_basis(fn, "a", xa, k)
        ub, sb = _pca_basis(fn, "b", xb, k)
        xa, xb = ua * sa, ub * sb
    width = max(xa.shape[1], xb.shape[1])
    xa = np.pad(xa, ((0, 0), (0, width - xa.shape[1])))
    xb = np.pad(xb, ((0, 0), (0, width - xb.shape[1])))
    _, _, disparity = scipy.spatial.procrustes(xa, xb)
    return float(disparity)


def _cca_inputs(fn: str, a, b, n_components):
    """Validated trajectories of equal length and the number of canonical components."""
    xa = _as_trajectory(f"{fn}: a", a)
    xb = _as_trajectory(f"{fn}: b", b)
    _same_length(fn, xa, xb)
    k_max = min(xa.shape[1], xb.shape[1], xa.shape[0] - 1)
    k = _check_count(fn, "n_components", n_components, 1, k_max,
                     "at most min(units of a, units of b, time − 1)")
    return xa, xb, k


def _canonical_correlations(a: np.ndarray, b: np.ndarray, k: int, fn: str) -> np.ndarray:
    # PCA reduction then CCA: the left singular vectors are already an orthonormal basis of
    # each reduced trajectory's column space (what a QR of the scores would give), so the
    # canonical correlations are the singular values of ua.T @ ub (Björck & Golub 1973).
    ua, _ = _pca_basis(fn, "a", a, k)
    ub, _ = _pca_basis(fn, "b", b, k)
    rho = np.linalg.svd(ua.T @ ub, compute_uv=False)
    return np.clip(rho, 0.0, 1.0)


def cca_similarity(a, b, n_components: int) -> float:
    """Mean canonical correlation of two trajectories after PCA reduction.

    Each trajectory is centred and reduced to its leading ``n_components`` principal
    components; the canonical correlations between the two reduced trajectories are the
    singular values of ``U_aᵀ U_b`` (``U`` the orthonormal PC time courses from
    ``numpy.linalg.svd``). 1 when ``b`` is an invertible linear transform of ``a``.

    Parameters
    ----------
    a, b : array (time, unit) or DataArray with dims (time, unit)
        Same number of time steps; the unit counts may differ.
    n_components : int
        At most ``min(units of a, units of b, time − 1)`` and at most the numerical rank of
        each trajectory.

    Returns
    -------
    float
        Mean of the ``n_components`` canonical correlations, in [0, 1].

    Raises
    ------
    DataError
        NaN, different lengths, ``n_components`` out of range or above a trajectory's rank.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(200, 3))
    >>> round(cca_similarity(a, a @ rng.normal(size=(3, 5)), 3), 10)
    1.0
    """
    fn = "cca_similarity"
    xa, xb, k = _cca_inputs(fn, a, b, n_components)
    return float(np.mean(_canonical_correlations(xa, xb, k, fn)))


def _delay_operator(fn: str, name: str, x: np.ndarray, n_delays: int, rank: int) -> np.ndarray:
    """Least-squares linear operator (rank, rank) on whitened delay coordinates of ``x``."""
    n_time, n_units = x.shape
    n_rows = n_time - n_delays + 1
    if n_rows < rank + 2:
        raise DataError(
            f"{fn}: {name} has {n_time} time steps; with n_delays={n_delays} that leaves "
            f"{n_rows} delay vectors, fewer than rank + 2 = {rank + 2} needed to fit a "
            f"{rank}×{rank} operator. Give a longer trajectory or fewer delays/rank."
        )
    if rank > n_delays * n_units:
        raise DataError(
            f"{fn}: rank={rank} exceeds the delay-embedding dimension of {name} "
            f"(n_delays × units = {n_delays * n_units})."
        )
    # Hankel matrix: row t = [x_t, x_{t+1}, ..., x_{t+n_delays-1}] (n_rows, n_delays·unit).
    hankel = np.lib.stride_tricks.sliding_window_view(x, n_delays, axis=0)
    hankel = hankel.transpose(0, 2, 1).reshape(n_rows, n_delays * n_units)
    hankel = hankel - hankel.mean(axis=0)
    u, s, _ = np.linalg.svd(hankel, full_matrices=False)
    if s[0] == 0 or s[rank - 1] <= _RANK_TOL * s[0]:
        r = int(np.sum(s > _RANK_TOL * s[0])) if s[0] > 0 else 0
        raise DataError(
            f"{fn}: the delay embedding of {name} has numerical rank {r} < rank={rank}; the "
            f"extra directions would be rounding noise. Use rank ≤ {r}."
        )
    # HAVOK-style whitened coordinates: z_t = row t of U_r (time-indexed singular vectors).
    z = u[:, :rank]
    sol, *_ = np.linalg.lstsq(z[:-1], z[1:], rcond=None)
    return sol.T  # z_{t+1} ≈ A z_t


def _spectral_distance(op_a: np.ndarray, op_b: np.ndarray) -> float:
    ev_a = np.linalg.eigvals(op_a)
    ev_b = np.linalg.eigvals(op_b)
    cost = np.abs(ev_a[:, None] - ev_b[None, :])
    rows, cols = scipy.optimize.linear_sum_assignment(cost)
    return float(np.sqrt(np.mean(cost[rows, cols] ** 2)))


def _procrustes_over_orthogonal(op_a, op_b, *, key, n_restarts: int) -> float:
    """``min_{C ∈ O(r)} angle(A, C B Cᵀ)`` by BFGS over ``C = D (I − K)⁻¹ (I + K)``."""
    import jax  # lazily: only this optional method draws random restarts

    r = op_a.shape[0]
    eye = np.eye(r)
    norm_a, norm_b = np.linalg.norm(op_a), np.linalg.norm(op_b)
    if norm_a == 0 or norm_b == 0:
        return 0.0 if norm_a == norm_b else np.pi / 2
    # Unit-norm operators: the loss ‖Â − C B̂ Cᵀ‖² = 4 sin²(θ/2) lies in [0, 4], θ the angle.
    a_hat, b_hat = op_a / norm_a, op_b / norm_b

    def loss_and_grad(params, d):
        s = params.reshape(r, r)
        k = s - s.T
        # Cayley map: rotation = (I − K)⁻¹(I + K); d rotation = (I − K)⁻¹ dK (I + rotation).
        inv = np.linalg.inv(eye - k)
        rot = inv @ (eye + k)
        c = d[:, None] * rot
        err = a_hat - c @ b_hat @ c.T
        grad_c = -2.0 * (err @ c @ b_hat.T + err.T @ c @ b_hat)
        grad_k = inv.T @ (d[:, None] * grad_c) @ (eye + rot).T
        return float(np.sum(err**2)), (grad_k - grad_k.T).ravel()

    starts = [np.zeros(r * r)]
    if n_restarts > 0:
        draws = np.asarray(jax.random.normal(key, (n_restarts, r * r)), dtype=float)
        starts += list(draws)
    best = np.inf
    for d in (np.ones(r), np.concatenate([[-1.0], np.ones(r - 1)])):  # both components of O(r)
        for x0 in starts:
            # BFGS (pure NumPy; the problem has only rank² parameters). gtol far below the
            # default: the loss is ~θ², so its gradient is ~θ and 1e-5 would stop at θ ~ 1e-5.
            res = scipy.optimize.minimize(loss_and_grad, x0, args=(d,), jac=True,
                                          method="BFGS", options={"gtol": 1e-12})
            best = min(best, float(res.fun))
            if best < 1e-24:  # θ < 1e-12: an exact orthogonal similarity, nothing to improve
                return float(2.0 * np.arcsin(np.sqrt(max(best, 0.0)) / 2.0))
    return float(2.0 * np.arcsin(min(1.0, np.sqrt(max(best, 0.0)) / 2.0)))


def dsa_distance(a, b, *, n_delays: int, rank: int, method: str = "spectral", key=None,
                 n_restarts: int = 8) -> float:
    """DSA-style distance between the linear dynamics fitted to two trajectories.

    For each trajectory (time, unit):

    1. Delay embedding: Hankel rows ``h_t = [x_t, …, x_{t+n_delays−1}]``, centred.
    2. Reduced rank: thin SVD ``H = U Σ Vᵀ``; the state is ``z_t`` = row ``t`` of ``U_r``
       (first ``rank`` columns), i.e. whitened delay coordinates (HAVOK; Brunton et al. 2017).
    3. Operator: ``A = argmin Σ_t ‖z_{t+1} − A z_t‖²`` by least squares
       (``numpy.linalg.lstsq``), a (rank, rank) matrix (DMD on the delay coordinates).

    The operators are then compared up to similarity transform:

    - ``method="spectral"`` (default, deterministic): eigenvalues of the two operators matched
      one to one by ``scipy.optimize.linear_sum_assignment`` on ``|λ_a − λ_b|``; the distance
      is the root mean square of the matched differences. Invariant to every invertible
      change of coordinates; blind to eigenvector geometry (non-normality).
    - ``method="procrustes"``: the paper's metric, ``min_{C ∈ O(rank)} arccos(⟨A_a,
      C A_b Cᵀ⟩_F / (‖A_a‖ ‖A_b‖))`` (angular form, radians), minimised by BFGS
      (``scipy.optimize.minimize``) over the Cayley parametrisation ``C = D (I − K)⁻¹(I + K)``,
      ``K = S − Sᵀ``, for both components of O(rank) (``D`` = identity or one reflection),
      from ``K = 0`` and ``n_restarts`` random starts drawn with ``key``.
      Because the coordinates are whitened, the same trajectory seen through any invertible
      linear map gives orthogonally similar operators (distance 0) when ``rank`` equals the
      embedding's rank.

    Departures from Ostrow et al. (2023): the operator is fitted here on whitened delay
    coordinates (time-indexed singular vectors, as in HAVOK), so that an invertible linear
    observation map acts on them as an orthogonal transform, and by plain least squares rather
    than reduced-rank regression; the Procrustes over O(n) is optimised by BFGS on the Cayley
    parametrisation (the paper uses gradient descent on it) over both components of O(n) and
    from several starts; the spectral comparison is an addition (cheap, deterministic,
    invariant under all similarities). The ``dsa-metric`` package is not used.

    Parameters
    ----------
    a, b : array (time, unit) or DataArray with dims (time, unit)
        Sampled with the same ``dt`` (the operator is a one-step map). Lengths and unit counts
        may differ.
    n_delays : int
        Delay-embedding depth (1 = no delays).
    rank : int
        Dimension of the fitted operator; at most the numerical rank of each embedding.
    method : {"spectral", "procrustes"}
    key : jax.random.PRNGKey, optional
        Needed for ``method="procrustes"`` with ``n_restarts > 0``.
    n_restarts : int
        Random starts of the Procrustes optimisation (besides the identity).

    Returns
    -------
    float
        ``spectral``: RMS eigenvalue mismatch (≥ 0). ``procrustes``: angle in [0, π].

    Raises
    ------
    DataError
        NaN, trajectories too short for the embedding, rank above the numerical rank.
    ConfigError
        Unknown method; ``method="procrustes"`` with random restarts but no ``key``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(300) * 0.1
    >>> a = np.stack([np.cos(t), np.sin(t)], axis=1)
    >>> b = np.stack([np.cos(2 * t), np.sin(2 * t)], axis=1)
    >>> dsa_distance(a, a @ [[2.0, 1.0], [0.0, 1.0]], n_delays=2, rank=2) < 1e-8
    True
    >>> dsa_distance(a, b, n_delays=2, rank=2) > 0.05
    True
    """
    fn = "dsa_distance"
    choice(fn, "method", method, DSA_METHODS)
    xa = _as_trajectory(f"{fn}: a", a)
    xb = _as_trajectory(f"{fn}: b", b)
    max_delays = min(xa.shape[0], xb.shape[0]) - 3
    n_delays = _check_count(fn, "n_delays", n_delays, 1, max(1, max_delays),
                            "delay-embedding depth, below the trajectory length")
    rank = _check_count(fn, "rank", rank, 1, n_delays * max(xa.shape[1], xb.shape[1]),
                        "at most n_delays × units")
    op_a = _delay_operator(fn, "a", xa, n_delays, rank)
    op_b = _delay_operator(fn, "b", xb, n_delays, rank)
    if method == "spectral":
        return _spectral_distance(op_a, op_b)
    n_restarts = _check_count(fn, "n_restarts", n_restarts, 0, 10_000, "random starts")
    if n_restarts > 0 and key is None:
        raise ConfigError(
            f"{fn}: method='procrustes' draws {n_restarts} random starts and needs "
            "key=jax.random.PRNGKey(seed) (or n_restarts=0 for the identity start only)."
        )
    return _procrustes_over_orthogonal(op_a, op_b, key=key, n_restarts=n_restarts)


def compare_dynamics(a, b, *, n_components: int, n_delays: int, rank: int,
                     dsa_method: str = "spectral", key=None) -> xr.Dataset:
    """Procrustes, CCA and DSA-style comparison of two trajectories in one Dataset.

    Parameters
    ----------
    a, b : array (time, unit) or DataArray with dims (time, unit)
        Same number of time steps; unit counts may differ.
    n_components : int
        PCs kept for the CCA (Procrustes uses the zero-padded full trajectories).
    n_delays, rank : int
        DSA embedding depth and operator dimension (see :func:`dsa_distance`).
    dsa_method : {"spectral", "procrustes"}
    key : jax.random.PRNGKey, optional
        For ``dsa_method="procrustes"``.

    Returns
    -------
    xarray.Dataset
        Scalars ``procrustes_distance``, ``cca_similarity``, ``dsa_distance`` and
        ``canonical_correlation`` (component); the settings as attributes.

    Raises
    ------
    DataError, ConfigError
        As the three functions.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(300) * 0.1
    >>> a = np.stack([np.cos(t), np.sin(t)], axis=1)
    >>> ds = compare_dynamics(a, a @ [[1.0, 1.0], [0.0, 1.0]], n_components=2, n_delays=2, rank=2)
    >>> float(ds.cca_similarity.round(8))
    1.0
    """
    fn = "compare_dynamics"
    xa, xb, k = _cca_inputs(fn, a, b, n_components)
    rho = _canonical_correlations(xa, xb, k, fn)
    return xr.Dataset(
        {
            "procrustes_distance": ((), procrustes_distance(xa, xb)),
            "cca_similarity": ((), float(np.mean(rho))),
            "dsa_distance": ((), dsa_distance(xa, xb, n_delays=n_delays, rank=rank,
                                              method=dsa_method, key=key)),
            "canonical_correlation": (("component",), rho),
        },
        coords={"component": np.arange(k)},
        attrs={
            "n_components": k,
            "n_delays": int(n_delays),
            "rank": int(rank),
            "dsa_method": dsa_method,
            "procrustes_dimension_matching": "zero-padding",
        },
    )
