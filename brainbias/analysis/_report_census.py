"""The attractor census inside :func:`brainbias.analysis.report.analyze_run`.

Its starts, the census ends that seed the fixed-point search, the stacking of the contexts'
censuses into the analysis Dataset, and the census and fixed-point lines of the printed
summary (:func:`brainbias.analysis.report.analysis_summary`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..models.base import rates
from .census import census_summary
from .pca import project


def _generator(key):
    """A NumPy generator seeded by a JAX key (cheap host-side sampling, still keyed)."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def _census_starts(states, n, key):
    """Starts of the census: half samples of the stored states, half random states.

    The random half is Gaussian around the stored states' centroid with twice their RMS spread
    per unit (at least 0.5, the scale of a tanh unit), so that basins the stored run never
    visited are sampled too.
    """
    rng = _generator(key)
    n_stored = min(n - n // 2, len(states))
    pick = rng.choice(len(states), n_stored, replace=False)
    spread = max(2.0 * float(np.sqrt(np.mean(np.var(states, axis=0)))), 0.5)
    noise = rng.standard_normal((n - n_stored, states.shape[1]))
    return np.concatenate([states[pick], states.mean(axis=0) + spread * noise])


def _distinct_ends(cen, per_attractor: int = 8):
    """Census end points to seed the fixed-point search: at most ``per_attractor`` per
    attractor (ends at one fixed point are all the same start) and every unresolved one."""
    ends, index = cen["start_end_state"].values, cen["start_attractor"].values
    keep = np.zeros(len(ends), bool)
    for a in np.unique(index[index >= 0]):
        keep[np.flatnonzero(index == a)[:per_attractor]] = True
    keep |= index < 0
    return ends[keep & np.all(np.isfinite(ends), axis=1)]


def _project_rates(pca, network, states):
    """PCs of the rates φ(x) of states (..., unit); NaN rows stay NaN."""
    flat = states.reshape(-1, states.shape[-1])
    out = np.full((len(flat), pca.sizes["component"]), np.nan)
    ok = np.all(np.isfinite(flat), axis=1)
    if ok.any():
        out[ok] = np.asarray(project(pca, np.asarray(rates(network, jnp.asarray(flat[ok])))))
    return out.reshape(*states.shape[:-1], pca.sizes["component"])


def _stack_censuses(censuses, contexts, network, pca) -> xr.Dataset:
    """One Dataset of every context's census: dims ``attractor`` and ``start`` with
    ``attractor_context`` / ``start_context`` coordinates, ``start_attractor`` indexing the
    stacked ``attractor`` dim, complex values split into ``_real`` / ``_imag``, and the orbits
    replaced by their PCs (``attractor_orbit_pcs``; the states would be N numbers per step)."""
    n_mult = max(c.sizes["floquet_mode"] for c in censuses)
    n_orbit = max(c.sizes["orbit_step"] for c in censuses)
    parts, offset = [], 0
    for c, cen in zip(contexts, censuses, strict=True):
        cen = cen.pad(floquet_mode=(0, n_mult - cen.sizes["floquet_mode"]),
                      orbit_step=(0, n_orbit - cen.sizes["orbit_step"]))
        cen["attractor_pcs"] = (("attractor", "component"),
                                _project_rates(pca, network, cen["attractor_state"].values))
        cen["attractor_orbit_pcs"] = (("attractor", "orbit_step", "component"),
                                      _project_rates(pca, network, cen["attractor_orbit"].values))
        index = cen["start_attractor"].values
        cen["start_attractor"] = ("start", np.where(index >= 0, index + offset, -1))
        offset += cen.sizes["attractor"]
        for name in ("attractor_slowest_eigenvalue", "floquet_multipliers"):
            stem = name.replace("multipliers", "multiplier")
            cen[f"{stem}_real"] = cen[name].real
            cen[f"{stem}_imag"] = cen[name].imag
        cen = cen.drop_vars(["attractor_orbit", "attractor_slowest_eigenvalue",
                             "floquet_multipliers", "attractor", "start"])
        parts.append(cen.assign_coords(
            attractor_context=("attractor", [c] * cen.sizes["attractor"]),
            start_context=("start", [c] * cen.sizes["start"])))
    by_attractor = [p[[v for v in p.data_vars if "attractor" in p[v].dims]] for p in parts]
    by_start = [p[[v for v in p.data_vars if "start" in p[v].dims]] for p in parts]
    out = xr.merge([xr.concat(by_attractor, dim="attractor", coords="minimal"),
                    xr.concat(by_start, dim="start", coords="minimal")],
                   combine_attrs="drop")
    out = out.drop_vars([v for v in out.coords if v not in ("attractor_context",
                                                            "start_context")], errors="ignore")
    return out.drop_attrs() if hasattr(out, "drop_attrs") else out


def _census_lines(an):
    """One line per context: its attractors and how many runs reached each (schema ≥ 2)."""
    if "attractor_kind" not in an:
        return []
    lines = ["", f"attractor census ({int(an.attrs['census_starts'])} free runs per context; "
             f"times in the run's time unit, written s; dt = {float(an.attrs['dt']):g}):"]
    for c in map(str, an["context"].values):
        part = an.isel(attractor=np.flatnonzero(an["attractor_context"].values == c),
                       start=np.flatnonzero(an["start_context"].values == c))
        lines.append("  " + census_summary(part, label=f"context {c}",
                                           n_steps=int(an["census_steps"].sel(context=c))))
    return lines


def _fixed_point_lines(an):
    """One line per context: its fixed points by classification (schema ≥ 2)."""
    if "fixed_point_classification" not in an:
        return []
    lines = ["fixed points by kind (decay and frequency of the slowest mode, log(λ)/dt):"]
    for c in map(str, an["context"].values):
        sel = np.flatnonzero((an["fixed_point_context"].values == c)
                             & (an["fixed_point_kind"].values == "fixed"))
        words = []
        for i in sel:
            d = an.isel(fixed_point=i)
            kind = str(d["fixed_point_classification"].values)
            if kind == "stable_focus":
                words.append(f"stable focus ({float(d['fixed_point_oscillation_frequency']):.4g}"
                             f" Hz, decay {float(d['fixed_point_decay_rate']):.4g} /s)")
            elif kind == "stable_node":
                words.append(f"stable node (decay {float(d['fixed_point_decay_rate']):.4g} /s)")
            elif kind == "saddle":
                words.append(f"saddle ({int(d['fixed_point_unstable_dimension_map'])} unstable)")
            else:
                words.append(kind.replace("_", " "))
        n_slow = int(an["n_slow"].sel(context=c))
        words += [f"{n_slow} slow point{'s' if n_slow != 1 else ''}"] if n_slow else []
        lines.append(f"  {c}: " + (", ".join(words) if words else "none found"))
    return lines
