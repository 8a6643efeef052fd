"""Eigen-decomposition of map Jacobians and what :func:`~.linearisation.linearise` reads off
the spectrum: stability labels (map and field), slow modes and line attractors, the leading
oscillation, and the node/focus classification with its time scales (conventions in the
:mod:`.linearisation` docstring).

Results are plain arrays keyed by variable name: (fixed_point, mode) when 2-D, (fixed_point,)
when 1-D; :func:`~.linearisation.linearise` names the dimensions.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg


def eigendecompose(jac, sort_by, eigenvectors):
    """Sorted eigenvalues (fixed_point, mode) of each Jacobian and, if ``eigenvectors``, the
    right and left eigenvectors (fixed_point, unit, mode); None otherwise."""
    n_points, n_units = jac.shape[:2]
    lam = np.zeros((n_points, n_units), complex)
    right = np.zeros((n_points, n_units, n_units), complex) if eigenvectors else None
    left = np.zeros_like(right) if eigenvectors else None
    for i in range(n_points):
        lam[i], r, w = _eig(jac[i], sort_by, eigenvectors)
        if eigenvectors:
            right[i], left[i] = r, w
    return lam, right, left


def summarise(lam, *, dt, marginal_tolerance, slow_tolerance):
    """Every per-point variable read off the map eigenvalues ``lam`` (fixed_point, mode), in the
    order :func:`~.linearisation.linearise` documents them."""
    mu = (lam - 1) / dt
    out = {
        "eigenvalue_real": lam.real,
        "eigenvalue_imag": lam.imag,
        "field_eigenvalue_real": mu.real,
        "field_eigenvalue_imag": mu.imag,
    }
    stability, label_map = _stability(lam, marginal_tolerance)
    modes, is_complex = _slow_and_oscillating(lam, dt, marginal_tolerance, slow_tolerance)
    return {**out, **stability, **modes, **_classify(lam, is_complex, label_map, dt)}


def _stability(lam, tol):
    """Stability labels, flags and unstable dimensions for the map and the field; and the map
    labels (a list) for :func:`_classify`."""
    n_points, n_units = lam.shape
    modulus = np.abs(lam)
    unstable_map = np.sum(modulus > 1 + tol, axis=1)
    marginal_map = np.sum(np.abs(modulus - 1) <= tol, axis=1)
    unstable_field = np.sum(lam.real - 1 > tol, axis=1)
    marginal_field = np.sum(np.abs(lam.real - 1) <= tol, axis=1)
    label_map = [_label(u, m, n_units)
                 for u, m in zip(unstable_map, marginal_map, strict=True)]
    label_field = [_label(u, m, n_units)
                   for u, m in zip(unstable_field, marginal_field, strict=True)]
    return {
        "stability_map": np.asarray(label_map, dtype=str).reshape(n_points),
        "stability_field": np.asarray(label_field, dtype=str).reshape(n_points),
        "stable_map": (unstable_map == 0) & (marginal_map == 0),
        "stable_field": (unstable_field == 0) & (marginal_field == 0),
        "unstable_dimension_map": unstable_map.astype(np.int64),
        "unstable_dimension_field": unstable_field.astype(np.int64),
    }, label_map


def _slow_and_oscillating(lam, dt, tol, slow_tolerance):
    """The leading oscillation, the slow modes and the line-attractor flag of each point; and
    which modes are complex (for :func:`_classify`)."""
    n_points = lam.shape[0]
    modulus = np.abs(lam)
    # A mode is complex when its imaginary part is not rounding noise of a real eigenvalue.
    is_complex = np.abs(lam.imag) > 1e3 * np.finfo(float).eps * np.maximum(modulus, 1.0)
    first_complex = np.argmax(is_complex, axis=1)
    has_complex = is_complex.any(axis=1)
    phase = np.abs(np.angle(lam[np.arange(n_points), first_complex]))
    period = np.where(has_complex, 2 * np.pi * dt / np.where(has_complex, phase, 1.0), np.nan)

    distance_to_one = np.abs(lam - 1)
    slow = distance_to_one < slow_tolerance
    slow_dimension = slow.sum(axis=1)
    others_stable = np.all(slow | (modulus < 1 - tol), axis=1)
    line_attractor = (slow_dimension == 1) & others_stable
    slowest = np.argmin(distance_to_one, axis=1) if n_points else np.zeros(0, int)
    return {
        "oscillatory": is_complex[:, 0] if n_points else np.zeros(0, bool),
        "oscillation_period": period,
        "slow_dimension": slow_dimension.astype(np.int64),
        "slowest_mode": slowest.astype(np.int64),
        "line_attractor": line_attractor,
    }, is_complex


def _sort_order(lam, sort_by):
    primary = np.abs(lam) if sort_by == "magnitude" else lam.real
    # lexsort: last key first. Descending primary; within a conjugate pair, Im > 0 first.
    return np.lexsort((-lam.imag, -primary))


def _eig(jac, sort_by, eigenvectors):
    """Sorted eigenvalues, right and left eigenvectors (w^H r = 1) of one matrix."""
    if eigenvectors:
        lam, left, right = scipy.linalg.eig(jac, left=True, right=True)
    else:
        lam, left, right = scipy.linalg.eigvals(jac), None, None
    order = _sort_order(lam, sort_by)
    lam = lam[order]
    if eigenvectors:
        right = right[:, order]
        left = left[:, order]
        # scipy gives unit-norm left and right vectors; rescale the left ones so that
        # w_k^H r_k = 1 (biorthogonal pair: the projection onto mode k is w_k^H x).
        overlap = np.einsum("ik,ik->k", left.conj(), right)
        left = left / overlap.conj()
    return lam, right, left


def _label(n_unstable, n_marginal, n_modes):
    if n_unstable == 0:
        return "stable" if n_marginal == 0 else "marginal"
    return "unstable" if n_unstable == n_modes else "saddle"


def _classify(lam, is_complex, label_map, dt):
    """Classification and time scales of the dominant (largest ``|λ|``) mode of each point.

    ``lam`` (fixed_point, mode) complex map eigenvalues, ``is_complex`` the same shape (not a
    real eigenvalue up to rounding), ``label_map`` the map stability labels. Returns the
    variables documented in :func:`linearise` as ``{name: values}``.
    """
    n_points = lam.shape[0]
    rows = np.arange(n_points)
    # argmax takes the first maximum: in sort order a conjugate pair's Im > 0 member
    dominant = np.argmax(np.abs(lam), axis=1) if n_points else np.zeros(0, int)
    lam_dom = lam[rows, dominant]
    oscillating = is_complex[rows, dominant] | (lam_dom.real < 0)
    labels = []
    for lab, osc in zip(label_map, oscillating, strict=True):
        if lab in ("stable", "unstable"):
            lab = f"{lab}_{'focus' if osc else 'node'}"
        labels.append(lab)
    with np.errstate(divide="ignore"):  # λ = 0 (a dead direction): log → −inf, decay ∞
        log_lam = np.log(lam.astype(complex))
    log_dom = log_lam[rows, dominant]
    per_step_frequency = np.where(oscillating, np.abs(log_dom.imag) / (2 * np.pi), np.nan)
    return {
        "classification": np.asarray(labels, dtype=str).reshape(n_points),
        "dominant_mode": dominant.astype(np.int64),
        "continuous_eigenvalue_real": log_lam.real / dt,
        "continuous_eigenvalue_imag": log_lam.imag / dt,
        "decay_rate_per_step": -log_dom.real,
        "decay_rate": -log_dom.real / dt,
        "oscillation_frequency_per_step": per_step_frequency,
        "oscillation_frequency": per_step_frequency / dt,
    }
