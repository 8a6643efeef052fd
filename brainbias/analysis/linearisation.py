"""Linearisation of a discrete map at fixed (or slow) points: Jacobians, spectra, stability.

For the map ``x_{t+1} = F(x_t)`` with time step ``dt`` the Jacobian ``J = dF/dx`` at a point has
eigenvalues ``λ`` (the *map* spectrum). The continuous-time field whose Euler step is the map,
``dx/dt = (F(x) − x) / dt``, has Jacobian ``(J − I) / dt`` and eigenvalues ``μ = (λ − 1) / dt``
(the *field* spectrum). Stability is classified for both, because they differ when ``dt·|μ|`` is
not small:

- map: stable when every ``|λ| < 1``;
- field: stable when every ``Re μ < 0`` (⇔ ``Re λ < 1``).

Each point is also *classified* (``classification``, one of ``CLASSIFICATIONS``) by its map
spectrum: stable node / stable focus (all ``|λ| < 1``), saddle (some but not all ``|λ| > 1``; the
number of unstable directions is ``unstable_dimension_map``), unstable node / unstable focus (all
``|λ| > 1``), marginal (none unstable, some ``|λ| = 1``). Node or focus is decided by the
*dominant* mode, the eigenvalue of largest ``|λ|`` (the slowest-decaying mode of a stable point,
the fastest-growing of an unstable one): a focus when it is complex, or real and negative (a flip,
an oscillation of period two steps). Its time scales are given in both conventions: per step of
the map (``decay_rate_per_step = −log|λ|``, ``oscillation_frequency_per_step = |arg λ| / 2π``
cycles per step) and per unit of time through the *exact* continuous-time eigenvalue
``log(λ) / dt`` (``continuous_eigenvalue``; ``decay_rate = −Re log(λ) / dt``,
``oscillation_frequency = |Im log(λ)| / (2π dt)``). The logarithm, unlike ``μ`` above, is the
eigenvalue of the flow whose time-``dt`` map is linearised, so a decay rate or frequency read
from it does not depend on ``dt`` (``μ`` agrees with it to first order in ``dt·|μ|``).

For the rate network ``x ← x + a(−x + W φ(x) + b)`` (``a = dt/τ``) the map Jacobian is
``J = I + a (W D − I)`` with ``D = diag(φ'(x))``, so ``μ = eig(W D − I) / τ``; for the discrete form
``r ← (1 − a) r + a φ(W r + b)`` it is ``J = (1 − a) I + a D W``. For ReLU networks ``D`` is the 0/1
mask of active units (:func:`active_units`); Williams et al. (2024) use it to explain why bias-only
training cannot raise the spectral radius above ``g``.

Complex numbers are stored as separate real and imaginary variables (``eigenvalue_real``,
``eigenvalue_imag``, …) so the result can be written to plain NetCDF4 (h5netcdf would need
``invalid_netcdf=True`` for complex dtypes).

Where things live: this module checks the input, computes the Jacobians and assembles the
Dataset; the eigen-decomposition and every label and time scale read off the spectrum are in
:mod:`._spectrum`.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .._errors import ConfigError, DataError, did_you_mean
from ._spectrum import eigendecompose, summarise

__all__ = ["linearise", "active_units", "SORT_ORDERS", "STABILITY_LABELS", "CLASSIFICATIONS"]

SORT_ORDERS = ("magnitude", "real")
STABILITY_LABELS = ("stable", "marginal", "saddle", "unstable")
CLASSIFICATIONS = ("stable_node", "stable_focus", "saddle", "unstable_node", "unstable_focus",
                   "marginal")

FIXED_POINT_DIM, UNIT_DIM = "fixed_point", "unit"
# The Jacobian's column axis: dF_unit / dx_source_unit (two axes cannot share the name "unit").
SOURCE_UNIT_DIM = "source_unit"
# Index of eigenvalues / eigenvectors (linear modes of the map at a point).
MODE_DIM = "mode"
# Jacobians of one batch may take about this many bytes.
_BATCH_BYTES = 2**28


def _working_dtype():
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def _points_from(points):
    """Return (array (fixed_point, unit), base Dataset or None)."""
    base = None
    if isinstance(points, xr.Dataset):
        if "state" not in points:
            raise DataError(
                "points: a Dataset must hold a 'state' variable with dims (fixed_point, unit) "
                f"(as returned by find_fixed_points); it has {sorted(points.data_vars)}."
            )
        base = points
        points = points["state"]
    if isinstance(points, xr.DataArray):
        if points.dims != (FIXED_POINT_DIM, UNIT_DIM):
            raise DataError(
                f"points: expected dims ({FIXED_POINT_DIM!r}, {UNIT_DIM!r}), got {points.dims}. "
                f"Use .transpose({FIXED_POINT_DIM!r}, {UNIT_DIM!r})."
            )
        points = points.values
    arr = np.asarray(points)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise DataError(f"points: expected a real numeric array, got dtype {arr.dtype}.")
    if arr.ndim != 2:
        hint = " For a single point use point[None, :]." if arr.ndim == 1 else ""
        raise DataError(f"points: expected shape (fixed_point, unit), got {arr.shape}.{hint}")
    if arr.shape[1] == 0:
        raise DataError(f"points: expected at least one unit, got shape {arr.shape}.")
    bad = arr.size - int(np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise DataError(
            f"points: contains {bad} NaN or infinite value(s); drop those points first."
        )
    return arr, base


def _check_step_fn(step_fn, n_units, dtype):
    if not callable(step_fn):
        raise ConfigError(
            f"step_fn: expected a callable state (unit,) → state (unit,), got {type(step_fn)}."
        )
    try:
        out = jax.eval_shape(step_fn, jax.ShapeDtypeStruct((n_units,), dtype))
    except (TypeError, ValueError, IndexError) as exc:
        raise ConfigError(
            f"step_fn: failed on a state of shape ({n_units},) (the unit axis of points): {exc}"
        ) from exc
    if getattr(out, "shape", None) != (n_units,):
        raise ConfigError(
            f"step_fn: expected it to return shape ({n_units},) like its input, got "
            f"{getattr(out, 'shape', out)}."
        )


@functools.partial(jax.jit, static_argnames=("step_fn", "batch_size"))
def _jacobians(step_fn, x, *, batch_size):
    return jax.lax.map(jax.jacfwd(step_fn), x, batch_size=batch_size)


def linearise(
    step_fn,
    points,
    *,
    dt,
    sort_by="magnitude",
    eigenvectors=True,
    marginal_tolerance=1e-8,
    slow_tolerance=1e-3,
    active_units=None,
    batch_size=None,
):
    """Jacobian, spectrum and stability of the map ``step_fn`` at each point.

    Parameters
    ----------
    step_fn : callable, (unit,) → (unit,)
        The discrete map ``F`` (e.g. ``brainbias.autonomous_map(network, bias)``).
    points : array (fixed_point, unit), DataArray or Dataset
        Points to linearise at. A Dataset from :func:`find_fixed_points` is extended: its
        variables and attributes are kept and the ones below added.
    dt : float
        Time step of the map (for the field spectrum ``μ = (λ − 1)/dt`` and periods).
    sort_by : {"magnitude", "real"}
        Eigenvalue order per point: ``|λ|`` descending, or ``Re λ`` descending (the same order
        as ``Re μ``). Within a complex-conjugate pair the one with ``Im λ > 0`` comes first.
    eigenvectors : bool
        Compute right and left eigenvectors (``unit × mode`` per point; skip for many large
        points).
    marginal_tolerance : float
        ``|λ|`` within this of 1 (map), or ``Re λ`` within this of 1 (field, i.e.
        ``|Re μ| ≤ marginal_tolerance / dt``), counts as marginal: neither stable nor unstable.
    slow_tolerance : float
        Modes with ``|λ − 1| < slow_tolerance`` are slow (time constant longer than
        ``dt / slow_tolerance``); their number is the slow-manifold dimension.
    active_units : array or DataArray (fixed_point, unit) of bool, optional
        Active-unit mask to store alongside (see :func:`active_units`).
    batch_size : int, optional
        Points whose Jacobians are computed together; default fits about 256 MiB.

    Returns
    -------
    xarray.Dataset
        With dims ``fixed_point``, ``unit``, ``source_unit`` (Jacobian columns) and ``mode``
        (eigen-index), variables:

        - ``state`` (fixed_point, unit) — unless ``points`` was a Dataset that has it;
        - ``jacobian`` (fixed_point, unit, source_unit): ``dF_unit / dx_source_unit``;
        - ``eigenvalue_real``, ``eigenvalue_imag`` (fixed_point, mode): map eigenvalues ``λ``;
        - ``field_eigenvalue_real``, ``field_eigenvalue_imag`` (fixed_point, mode): ``μ``;
        - ``right_eigenvector_real/_imag``, ``left_eigenvector_real/_imag``
          (fixed_point, unit, mode), if ``eigenvectors``: right vectors of unit norm, left
          vectors ``w`` scaled so that ``w_kᴴ r_k = 1``;
        - ``stability_map``, ``stability_field`` (fixed_point): one of ``STABILITY_LABELS``
          ("stable": all modes stable; "marginal": none unstable, some marginal; "saddle": some
          but not all unstable; "unstable": all unstable);
        - ``stable_map``, ``stable_field`` (fixed_point): bool;
        - ``unstable_dimension_map`` / ``_field`` (fixed_point): number of unstable modes
          (``|λ| > 1 + tol`` / ``Re μ > tol/dt``), the dimension of the unstable manifold;
        - ``oscillatory`` (fixed_point): the leading (first-sorted) eigenvalue is complex;
        - ``oscillation_period`` (fixed_point): ``2π dt / |arg λ|`` of the first complex
          eigenvalue in sort order (the leading complex pair), NaN if all are real; time units
          of ``dt``;
        - ``slow_dimension`` (fixed_point): number of modes with ``|λ − 1| < slow_tolerance``;
        - ``slowest_mode`` (fixed_point): index of the eigenvalue nearest 1;
        - ``line_attractor`` (fixed_point): exactly one slow mode and every other mode stable —
          the point lies on a (locally) one-dimensional attractor;
        - ``classification`` (fixed_point): one of ``CLASSIFICATIONS`` (module docstring), from
          the map spectrum and the dominant mode;
        - ``dominant_mode`` (fixed_point): index of the largest ``|λ|``;
        - ``continuous_eigenvalue_real/_imag`` (fixed_point, mode): ``log(λ) / dt`` (principal
          branch; ``−inf`` for ``λ = 0``), 1/time;
        - ``decay_rate`` (fixed_point): ``−Re log(λ) / dt`` of the dominant mode, 1/time
          (negative: its growth rate); ``decay_rate_per_step``: ``−log|λ|``, per step;
        - ``oscillation_frequency`` (fixed_point): ``|Im log(λ)| / (2π dt)`` of the dominant
          mode, cycles per unit time, NaN when it is real and positive (a node);
          ``oscillation_frequency_per_step``: ``|arg λ| / 2π``, cycles per step;
        - ``active_units`` (fixed_point, unit), if given.

    Raises
    ------
    DataError
        ``points`` not (fixed_point, unit), non-finite, or ``active_units`` of another shape.
    ConfigError
        ``step_fn`` not callable or not (unit,) → (unit,); non-positive ``dt`` or tolerances;
        unknown ``sort_by``; ``dt`` disagreeing with the ``dt`` stored in a ``points`` Dataset.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from brainbias.analysis.linearisation import linearise
    >>> lin = linearise(lambda x: 0.5 * x, jnp.zeros((1, 3)), dt=0.1)
    >>> lin["stability_map"].values.tolist(), float(lin["field_eigenvalue_real"][0, 0])
    (['stable'], -5.0)
    >>> lin["classification"].values.tolist(), round(float(lin["decay_rate"][0]), 4)  # log 2/dt
    (['stable_node'], 6.9315)
    """
    dt = _check_settings(sort_by, dt, marginal_tolerance, slow_tolerance)
    x, base = _points_from(points)
    if base is not None and "dt" in base.attrs and not np.isclose(base.attrs["dt"], dt):
        raise ConfigError(
            f"dt={dt} disagrees with dt={base.attrs['dt']} stored with the points; pass the "
            "time step of the map that produced them."
        )
    dtype = _working_dtype()
    n_units = x.shape[1]
    _check_step_fn(step_fn, n_units, dtype)
    batch_size = _batch_size(batch_size, n_units, dtype)
    mask = _active_mask(active_units, x.shape)

    jac = _jacobians_at(step_fn, x, dtype, batch_size)
    lam, right, left = eigendecompose(jac, sort_by, eigenvectors)
    variables = {"jacobian": ((FIXED_POINT_DIM, UNIT_DIM, SOURCE_UNIT_DIM), jac)}
    summary = summarise(lam, dt=dt, marginal_tolerance=marginal_tolerance,
                        slow_tolerance=slow_tolerance)
    for name, values in summary.items():
        variables[name] = ((FIXED_POINT_DIM, MODE_DIM) if values.ndim == 2 else (FIXED_POINT_DIM,),
                           values)
    if eigenvectors:
        pmu = (FIXED_POINT_DIM, UNIT_DIM, MODE_DIM)
        variables.update({
            "right_eigenvector_real": (pmu, right.real),
            "right_eigenvector_imag": (pmu, right.imag),
            "left_eigenvector_real": (pmu, left.real),
            "left_eigenvector_imag": (pmu, left.imag),
        })
    if mask is not None:
        variables["active_units"] = ((FIXED_POINT_DIM, UNIT_DIM), mask)

    attrs = _attrs(dt, sort_by, marginal_tolerance, slow_tolerance)
    coords = {FIXED_POINT_DIM: np.arange(x.shape[0])}
    if base is None:
        variables["state"] = ((FIXED_POINT_DIM, UNIT_DIM), x)
        return xr.Dataset(variables, coords=coords, attrs=attrs)
    out = base.copy()
    for name, (dims, values) in variables.items():
        out[name] = (dims, values)
    out.attrs.update(attrs)
    return out


def _check_settings(sort_by, dt, marginal_tolerance, slow_tolerance):
    """Check the sort order and the positive settings of :func:`linearise`; return ``dt``."""
    if sort_by not in SORT_ORDERS:
        raise ConfigError(
            f"sort_by: expected one of {SORT_ORDERS}, got {sort_by!r}."
            + did_you_mean(sort_by, SORT_ORDERS)
        )
    for name, value in (("dt", dt), ("marginal_tolerance", marginal_tolerance),
                        ("slow_tolerance", slow_tolerance)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name}: expected a positive finite number, got {value!r}.")
    return float(dt)


def _batch_size(batch_size, n_units, dtype):
    """Points per Jacobian batch: the given count, or as many as fit in ``_BATCH_BYTES``."""
    if batch_size is None:
        return max(1, _BATCH_BYTES // (n_units * n_units * np.dtype(dtype).itemsize))
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ConfigError(f"batch_size: expected an integer ≥ 1, got {batch_size!r}.")
    return batch_size


def _active_mask(active_units, shape):
    """The active-unit mask as a bool array of the points' shape, or None when not given."""
    if active_units is None:
        return None
    mask = np.asarray(active_units.values if isinstance(active_units, xr.DataArray)
                      else active_units)
    if mask.shape != shape or mask.dtype != bool:
        raise DataError(
            f"active_units: expected a bool array of shape {shape} (fixed_point, unit), "
            f"got {mask.dtype} {mask.shape}."
        )
    return mask


def _jacobians_at(step_fn, x, dtype, batch_size):
    """Jacobians (fixed_point, unit, source_unit) of ``step_fn`` at the rows of ``x``."""
    n_points, n_units = x.shape
    if not n_points:
        return np.zeros((0, n_units, n_units), dtype)
    from ._fixed_points_solvers import _AsInputDtype

    return np.asarray(_jacobians(_AsInputDtype(step_fn), jnp.asarray(x, dtype),
                                 batch_size=min(batch_size, n_points)))


def _attrs(dt, sort_by, marginal_tolerance, slow_tolerance):
    """The result's attributes: every convention and rule, and the tolerances."""
    return {
        "dt": dt,
        "eigenvalue_convention": (
            "eigenvalue: lambda of the map Jacobian dF/dx; field_eigenvalue: "
            "mu = (lambda - 1) / dt of the field (F(x) - x) / dt"
        ),
        "sort_order": (
            "per point by |lambda| descending" if sort_by == "magnitude"
            else "per point by Re(lambda) descending"
        ) + "; in a conjugate pair Im > 0 first",
        "complex_storage": "real and imaginary parts in separate variables (plain NetCDF4)",
        "eigenvector_normalisation": "right: unit Euclidean norm; left w: w^H r = 1 per mode",
        "stability_rule_map": "stable iff all |lambda| < 1 - marginal_tolerance",
        "stability_rule_field": "stable iff all Re(mu) < -marginal_tolerance / dt",
        "marginal_tolerance": float(marginal_tolerance),
        "slow_tolerance": float(slow_tolerance),
        "slow_rule": "slow mode: |lambda - 1| < slow_tolerance; line_attractor: one slow mode, "
                     "all others with |lambda| < 1 - marginal_tolerance",
        "period_rule": "2*pi*dt/|arg(lambda)| of the first complex eigenvalue in sort order",
        "classification_rule": (
            "map spectrum: stable_* all |lambda| < 1, unstable_* all > 1, saddle some > 1, "
            "marginal none > 1 and some = 1; focus when the dominant (largest |lambda|) "
            "eigenvalue is complex or negative, else node"
        ),
        "continuous_eigenvalue_convention": (
            "log(lambda) / dt (exact flow eigenvalue of the time-dt map); decay_rate = "
            "-Re, oscillation_frequency = |Im| / (2 pi) of the dominant mode, per unit time; "
            "*_per_step: the same per step of the map"
        ),
    }


def active_units(network, states, bias, *, inputs=None, closed_loop=False, readout=None,
                 output_mask=None):
    """Which units are active (preactivation > 0) at each state — ReLU's ``D`` mask.

    The preactivation is what the nonlinearity receives: the state ``x`` itself for
    ``form="continuous"`` (``φ(x)``), and ``W r + b`` (+ inputs, + fed-back output in closed
    loop) for ``form="discrete"``. For ReLU, ``φ' = 1`` exactly on this set and 0 off it, so the
    map Jacobian is ``I + a(W D − I)`` (continuous) or ``(1 − a) I + a D W`` (discrete) with
    ``D = diag(active)``.

    Parameters
    ----------
    network : brainbias.Network
    states : array (fixed_point, unit), DataArray or Dataset with ``state``
    bias : array, shape (unit,)
        The tonic input of one context.
    inputs : array, shape (input,), optional
        Constant inputs, as in :func:`brainbias.autonomous_map`.
    closed_loop, readout, output_mask
        As in :func:`brainbias.autonomous_map`.

    Returns
    -------
    xarray.DataArray, dims (fixed_point, unit), bool, named ``active_units``.

    Raises
    ------
    DataError
        States or bias of the wrong shape or non-finite.
    """
    from ..models.base import rates

    if getattr(network, "family", None) != "rate":
        raise ConfigError(f"active_units: defined for rate networks (ReLU's D mask), not for the "
                          f"{getattr(network, 'family', type(network).__name__)!r} family.")
    x, _ = _points_from(states)
    n = network.n_units
    if x.shape[1] != n:
        raise DataError(f"states: expected {n} units (the network's), got shape {x.shape}.")
    b = np.asarray(bias)
    if b.shape != (n,):
        raise DataError(
            f"bias: expected shape ({n},) (one context), got {b.shape}. For a (context, unit) "
            "bias pass bias[context_index]."
        )
    if not np.all(np.isfinite(b)):
        raise DataError("bias: contains NaN or infinite values.")
    if network.form == "continuous":
        pre = x
    else:
        x_j = jnp.asarray(x)
        pre = x_j @ network.recurrent_weights.T + jnp.asarray(b)
        if inputs is not None:
            pre = pre + network.input_weights @ jnp.asarray(inputs)
        if closed_loop:
            c = network.readout_weights if readout is None else readout
            fb = rates(network, x_j) @ c.T
            if output_mask is not None:
                fb = fb * output_mask
            pre = pre + fb @ network.feedback_weights.T
        pre = np.asarray(pre)
    return xr.DataArray(pre > 0, dims=(FIXED_POINT_DIM, UNIT_DIM), name="active_units")
