"""The view of Lemmel & Grosu (2023) on an LTC network: ``dv/dt = A(v, I) v + c(v, I)``.

An LTC network (:mod:`brainbias.models.ltc`) is linear in its potentials with coefficients that
depend on the state: ``A`` is diagonal, ``A_i = −1 / τ_i(v)`` with ``τ_i`` the unit's *liquid*
time constant, and ``c`` the conductance-weighted pull towards the reversal potentials plus the
tonic current. Frozen at a fixed point, ``A`` alone always looks stable (every ``A_i < 0``);
the true Jacobian ``A + (∂A/∂v) v + ∂c/∂v`` is what decides, and the synaptic terms can make
it unstable. :func:`coefficient_trajectory` gives ``τ_i(v_t)`` and ``c(v_t)`` along a trajectory;
:func:`fixed_point_coefficients` both spectra at each fixed point.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .._errors import ConfigError

__all__ = ["coefficient_trajectory", "fixed_point_coefficients"]


def _check_ltc(network):
    if getattr(network, "family", None) != "ltc":
        raise ConfigError("the A(v, u) v + c(v, u) view is that of LTC networks (model = "
                          f"\"ltc\"), not of the {getattr(network, 'family', '?')!r} family.")


def _currents(network, states, bias, *, closed_loop, readout, output_mask):
    """The current ``I_t = b + F f_t`` at each state (time, unit) (fed-back output in closed
    loop, as :func:`brainbias.models.base.autonomous_map` feeds it)."""
    current = jnp.broadcast_to(jnp.asarray(bias), states.shape)
    if closed_loop:
        c = network.readout_weights if readout is None else readout
        fb = network.rates(states) @ jnp.asarray(c).T
        if output_mask is not None:
            fb = fb * jnp.asarray(output_mask)
        current = current + fb @ network.feedback_weights.T
    return current


def coefficient_trajectory(network, states, bias, *, closed_loop=False, readout=None,
                           output_mask=None, tau=None) -> xr.Dataset:
    """``A`` (as liquid time constants) and ``c`` along a trajectory of an LTC network.

    Parameters
    ----------
    network : brainbias.models.ltc.LTCNetwork
    states : array, shape (time, unit)
        Potentials, e.g. the ``states`` of one context of a run.
    bias : array, shape (unit,)
    closed_loop, readout, output_mask
        As in :func:`brainbias.models.base.autonomous_map`.
    tau : float, optional
        The membrane time constant in use (a trained one; default ``network.tau``).

    Returns
    -------
    xarray.Dataset
        ``liquid_time_constant`` (time, unit) ``= −1 / A_i``, ``drive`` (time, unit) ``= c``.
    """
    from ..models.ltc import coefficients

    _check_ltc(network)
    v = jnp.asarray(states)
    current = _currents(network, v, bias, closed_loop=closed_loop, readout=readout,
                        output_mask=output_mask)
    a, c = jax.vmap(lambda x, i: coefficients(network, x, i, tau=tau))(v, current)
    return xr.Dataset({"liquid_time_constant": (("time", "unit"), np.asarray(-1.0 / a)),
                       "drive": (("time", "unit"), np.asarray(c))})


def fixed_point_coefficients(network, points, bias, *, closed_loop=False, readout=None,
                             output_mask=None, tau=None) -> xr.Dataset:
    """At each fixed point: the largest real part of ``A`` alone and of the true Jacobian.

    Returns
    -------
    xarray.Dataset
        ``frozen_max_real`` (fixed_point) — ``max_i A_i`` (always < 0) — and
        ``jacobian_max_real`` (fixed_point) — the largest real part of the eigenvalues of
        ``A + (∂A/∂v) v + ∂c/∂v`` (the closed-loop feedback included), per unit time; the
        point is stable iff the latter is < 0.
    """
    from ..models.ltc import coefficients, jacobian

    _check_ltc(network)
    v = jnp.asarray(points).reshape(-1, network.n_units)
    current = _currents(network, v, bias, closed_loop=closed_loop, readout=readout,
                        output_mask=output_mask)
    dcur = None
    if closed_loop:
        c = jnp.asarray(network.readout_weights if readout is None else readout)
        mask = jnp.ones(c.shape[0]) if output_mask is None else jnp.asarray(output_mask)
        dcur = network.feedback_weights @ (mask[:, None] * c)  # rates(v) = v for LTC
    frozen = [float(jnp.max(coefficients(network, x, i, tau=tau)[0]))
              for x, i in zip(v, current, strict=True)]
    true = [float(np.max(np.linalg.eigvals(np.asarray(
        jacobian(network, x, i, dcurrent_dv=dcur, tau=tau))).real))
        for x, i in zip(v, current, strict=True)]
    return xr.Dataset({"frozen_max_real": ("fixed_point", np.array(frozen)),
                       "jacobian_max_real": ("fixed_point", np.array(true))})


def run_coefficients(ds: xr.Dataset, contexts, fixed: xr.Dataset) -> xr.Dataset:
    """The LTC view of an analysed run (used by :func:`brainbias.analysis.report.analyze_run`).

    Returns ``ltc_liquid_time_constant`` and ``ltc_drive`` (context, time, unit) along each
    context's stored free run, and ``ltc_frozen_max_real`` / ``ltc_jacobian_max_real``
    (fixed_point) for the fixed points in ``fixed`` (coordinate ``fixed_point_context``).
    """
    from .. import results as _results
    from ..training.control import effective_readout, effective_tau

    network = _results.network_from_dataset(ds)
    controller = _results.controller_from_dataset(ds)
    tau = effective_tau(network, controller)
    kw = {"closed_loop": ds.attrs["run_mode"] == "closed_loop",
          "readout": effective_readout(network, controller), "tau": tau}
    taus, drives = [], []
    n_fp = fixed.sizes.get("fixed_point", 0)
    frozen, true = np.full(n_fp, np.nan), np.full(n_fp, np.nan)
    for c in contexts:
        i = controller.context_index(c)
        kw["output_mask"] = ds["output_mask"].values[i]
        states = ds["states"].sel(context=c).values
        ok = np.all(np.isfinite(states), axis=1)
        traj = coefficient_trajectory(network, np.where(ok[:, None], states, 0.0),
                                      controller.bias[i], **kw)
        taus.append(np.where(ok[:, None], traj["liquid_time_constant"].values, np.nan))
        drives.append(np.where(ok[:, None], traj["drive"].values, np.nan))
        if n_fp:
            here = np.flatnonzero(fixed["fixed_point_context"].values == c)
            if len(here):
                fp = fixed_point_coefficients(network, fixed["state"].values[here],
                                              controller.bias[i], **kw)
                frozen[here] = fp["frozen_max_real"].values
                true[here] = fp["jacobian_max_real"].values
    out = xr.Dataset({"ltc_liquid_time_constant": (("context", "time", "unit"), np.stack(taus)),
                      "ltc_drive": (("context", "time", "unit"), np.stack(drives))})
    if n_fp:
        out["ltc_frozen_max_real"] = ("fixed_point", frozen)
        out["ltc_jacobian_max_real"] = ("fixed_point", true)
    return out


def coefficient_lines(an: xr.Dataset) -> list[str]:
    """Printed lines of the LTC view in an analysis (none for other families)."""
    if "ltc_liquid_time_constant" not in an:
        return []
    lines = ["LTC view, dv/dt = A(v,u) v + c(v,u) (liquid time constants along the free run; "
             "fixed points: max Re of A alone vs of the true Jacobian):"]
    for c in an["context"].values:
        tau = an["ltc_liquid_time_constant"].sel(context=c).values
        line = (f"  {c}: liquid τ median {np.nanmedian(tau):.3g}, 5–95% "
                f"{np.nanpercentile(tau, 5):.3g}–{np.nanpercentile(tau, 95):.3g}")
        if "ltc_jacobian_max_real" in an:
            sel = an["fixed_point_context"].values == c
            for fr, tr in zip(an["ltc_frozen_max_real"].values[sel],
                              an["ltc_jacobian_max_real"].values[sel], strict=True):
                verdict = "stable" if tr < 0 else "UNSTABLE although A alone is stable"
                line += f"; fixed point: A {fr:.3g}, Jacobian {tr:.3g} ({verdict})"
        lines.append(line)
    return lines
