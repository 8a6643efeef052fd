"""Standard attractor measures of a trained closed-loop generator, on long free runs.

How faithful a chaotic generator is cannot be read off a short held-out segment: two chaotic
trajectories part within a few Lyapunov times whatever the model. The measures of the
dynamical-systems reconstruction literature (Koppe et al. 2019; Hess et al. 2023; Pathak et al.
2018) compare a long free run with an *independent* trajectory of the true system:

* ``D_stsp``: KL divergence of the occupancy histograms, 30 bins per dimension over the
  reference's range (:func:`~brainbias.analysis.attractor_metrics.state_space_divergence`,
  margin 0), next to its sampling floor (a second independent trajectory of the same length);
* ``D_H``: Hellinger distance of the power spectra smoothed with σ = 20 frequency bins
  (:func:`~brainbias.analysis.attractor_metrics.power_spectrum_distance`), with its floor;
* valid prediction time (normalised error 0.4) as median and mean over many held-out starts.

The largest Lyapunov exponent of the trained network itself is computed by the analysis report
(:func:`~brainbias.analysis.lyapunov.lyapunov_exponent`, QR method along a free run).
"""

from __future__ import annotations

import numpy as np

from .._errors import ConfigError
from .attractor_metrics import power_spectrum_distance, state_space_divergence
from .forecast import forecast_errors, free_run, valid_prediction_steps

__all__ = ["LONG_RUN_VARIABLES", "independent_reference", "long_run_lines", "long_run_scores",
           "long_run_variables"]


def independent_reference(spec, n_steps: int, *, seed: int, fitted=None) -> np.ndarray:
    """A fresh trajectory (time, output) of the target ``spec`` (a ``[[targets]]`` table):
    ``n_steps`` long, from the random initial state of ``seed``, in the units of the fitted
    target (standardised with *its* mean and standard deviation when it was standardised).

    Raises
    ------
    ConfigError
        ``spec`` cannot be rebuilt (see :func:`~brainbias.data.targets.make_target`) or its
        generator takes no ``seed``.

    ``fitted`` (the target ``spec`` builds) saves rebuilding it when the caller has it.
    """
    from ..data.targets import make_target

    spec = dict(spec)
    fitted = make_target(spec) if fitted is None else fitted
    fresh = dict(spec, n_steps=int(n_steps), seed=int(seed))
    if fitted.attrs.get("standardised"):
        fresh["standardise"] = False
    y = make_target(fresh).outputs
    if fitted.attrs.get("standardised"):
        y = (y - np.asarray(fitted.attrs["mean"])) / np.asarray(fitted.attrs["std"])
    return y


def long_run_scores(network, controller, context: int, *, reference, floor, dt: float,
                    lyapunov_exponent: float | None = None, washout: int = 200,
                    n_vpt_starts: int = 24, horizon: int | None = None,
                    threshold: float = 0.4, n_bins: int = 30) -> dict:
    """``D_stsp``, ``D_H`` (with floors) and valid prediction times of one context.

    The network is warmed up on the first ``washout`` steps of ``reference`` with the true
    output fed back and then runs free for ``len(reference)`` steps; the forecasts start at
    ``n_vpt_starts`` evenly spaced points of ``reference`` (each after its own warm-up).

    Parameters
    ----------
    network, controller
        A trained closed-loop generator.
    context : int
        Index of the context.
    reference, floor : ndarray, shape (time, output)
        Two independent trajectories of the true system, of equal length (e.g. from
        :func:`independent_reference`); ``floor`` measures the sampling floor of each measure.
    dt : float
    lyapunov_exponent : float, optional
        λ of the true system: valid prediction in Lyapunov times (else in steps).
    washout, n_vpt_starts, horizon, threshold, n_bins
        Warm-up steps; forecast starts; forecast length (default 10 Lyapunov times, or 500
        steps); error threshold; bins per dimension of ``D_stsp``.

    Returns
    -------
    dict
        ``state_space_divergence`` and ``_floor``, ``power_spectrum_distance`` and ``_floor``,
        ``valid_prediction_median``, ``valid_prediction_mean`` (Lyapunov times or steps),
        ``free_run`` (time, output) and ``forecast_errors`` (start, time). A free run that
        diverges (non-finite) gets NaN divergences.

    Raises
    ------
    ConfigError
        ``reference`` and ``floor`` of different shapes, too short for the forecasts.
    """
    reference, floor = np.asarray(reference, float), np.asarray(floor, float)
    if reference.shape != floor.shape:
        raise ConfigError(f"long_run_scores: reference {reference.shape} and floor "
                          f"{floor.shape} must have the same shape.")
    if horizon is None:
        horizon = int(round(10 / (lyapunov_exponent * dt))) if lyapunov_exponent else 500
    gen = free_run(network, controller, context, reference[:washout], len(reference))
    gen = gen[:, : reference.shape[1]]
    out = {"free_run": gen}
    finite = bool(np.all(np.isfinite(gen)))
    out["state_space_divergence"] = (state_space_divergence(reference, gen, n_bins=n_bins,
                                                            margin=0.0)
                                     if finite else float("nan"))
    out["state_space_divergence_floor"] = state_space_divergence(reference, floor,
                                                                 n_bins=n_bins, margin=0.0)
    out["power_spectrum_distance"] = (power_spectrum_distance(reference, gen, smoothing=20.0)
                                      if finite else float("nan"))
    out["power_spectrum_distance_floor"] = power_spectrum_distance(reference, floor,
                                                                   smoothing=20.0)
    errors = forecast_errors(network, controller, context, reference, washout=washout,
                             horizon=horizon, n_starts=n_vpt_starts)
    vpt = valid_prediction_steps(errors, threshold) * (dt * lyapunov_exponent
                                                       if lyapunov_exponent else 1.0)
    out.update(valid_prediction_median=float(np.median(vpt)),
               valid_prediction_mean=float(np.mean(vpt)), forecast_errors=errors)
    return out


#: per-context variables of an analysis Dataset (NaN for contexts that are not chaotic)
LONG_RUN_VARIABLES = {
    "long_run_state_space_divergence": "state_space_divergence",
    "long_run_state_space_divergence_floor": "state_space_divergence_floor",
    "long_run_power_spectrum_distance": "power_spectrum_distance",
    "long_run_power_spectrum_distance_floor": "power_spectrum_distance_floor",
    "valid_prediction_median": "valid_prediction_median",
    "valid_prediction_mean": "valid_prediction_mean",
}


def long_run_variables(ds, contexts, per_context, *, long_run_time: float,
                       n_vpt_starts: int = 24) -> dict:
    """:func:`long_run_scores` of every chaotic context of a results Dataset whose target the
    stored config can rebuild, against independent references of ``long_run_time`` (time
    units); ``{name: (("context",), values)}`` with NaN elsewhere. Skipped contexts get a note
    in ``per_context[c]["notes"]``."""
    import json

    from .. import results as _results
    from .._errors import BrainbiasError
    from ..data.targets import make_target

    values = {name: np.full(len(contexts), np.nan) for name in LONG_RUN_VARIABLES}
    specs = {s.get("name", s.get("kind")): s
             for s in json.loads(ds.attrs["config"]).get("targets", [])}
    chaotic = [c for c in contexts if str(ds["target_kind"].sel(context=c).values) == "chaotic"]
    if long_run_time > 0 and chaotic:
        network = _results.network_from_dataset(ds)
        controller = _results.controller_from_dataset(ds)
        dt, names = float(ds.attrs["dt"]), [str(c) for c in ds["context"].values]
        n = int(round(long_run_time / dt))
        for c in chaotic:
            if c not in specs:
                per_context[c]["notes"].append("long-run attractor measures skipped: the "
                                               "target is not in the stored config")
                continue
            seed = int(specs[c].get("seed") or 0)
            lam = float(ds["lyapunov_exponent"].sel(context=c))
            try:
                fitted = make_target(dict(specs[c]))
                r = long_run_scores(
                    network, controller, names.index(c), dt=dt,
                    reference=independent_reference(specs[c], n, seed=seed + 1001,
                                                    fitted=fitted),
                    floor=independent_reference(specs[c], n, seed=seed + 2002, fitted=fitted),
                    lyapunov_exponent=lam if np.isfinite(lam) and lam > 0 else None,
                    washout=int(ds.attrs["eval_washout"]), n_vpt_starts=n_vpt_starts)
            except BrainbiasError as exc:
                per_context[c]["notes"].append(f"long-run attractor measures skipped: {exc}")
                continue
            for name, key in LONG_RUN_VARIABLES.items():
                values[name][contexts.index(c)] = r[key]
    return {name: (("context",), v) for name, v in values.items()}


def long_run_lines(an) -> list:
    """Printed lines of the long-run measures of an analysis Dataset (chaotic contexts)."""
    if "long_run_state_space_divergence" not in an:
        return []
    lines = []
    for c in an["context"].values:
        d = an.sel(context=c)
        if not np.isfinite(float(d["long_run_state_space_divergence_floor"])):
            continue
        lines.append(
            f"{c}: free run of {an.attrs.get('long_run_time', float('nan')):g} time units vs "
            f"independent trajectories: D_stsp {float(d['long_run_state_space_divergence']):.3f}"
            f" (floor {float(d['long_run_state_space_divergence_floor']):.3f}, 30 bins), "
            f"D_H {float(d['long_run_power_spectrum_distance']):.3f} (floor "
            f"{float(d['long_run_power_spectrum_distance_floor']):.3f}), valid prediction "
            f"median {float(d['valid_prediction_median']):.2f} / mean "
            f"{float(d['valid_prediction_mean']):.2f} Lyapunov times")
    return ([""] + lines) if lines else []
