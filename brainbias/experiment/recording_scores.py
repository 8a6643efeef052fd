"""Scores of a recording fit: the held-out-neuron readout, held-out evaluation, the
results variables and the per-condition table (the flow is in
:mod:`brainbias.experiment.recording`)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np

from .._errors import ConfigError

if TYPE_CHECKING:
    from .recording import PopulationData

__all__ = ["RECORDING_SCORES", "evaluate", "fit_heldout_readout", "make_dataset",
           "summary_table"]

#: score name → description; each is stored per condition (``context``), for the baseline
#: (``<name>_baseline``) and overall (``<name>_overall``, ``<name>_baseline_overall``).
RECORDING_SCORES = {
    "psth_r2": "PSTH R² of the held-out trials' PSTH, held-in neurons (NLB convention)",
    "pvar": "CURBD pVar of the held-out trials' PSTH, held-in neurons",
    "co_bps": "co-smoothing bits/spike of the held-out neurons on the held-out trials (NLB)",
}
# Relative ridge penalties tried for the co-smoothing readout (× mean eigenvalue of XᵀX).
_RIDGE_GRID = 10.0 ** np.arange(-6.0, 2.5, 0.5)
# Floor of the co-smoothing readout's rates, as a fraction of the neuron's mean training rate.
_RATE_FLOOR_FRACTION = 0.01

# --------------------------------------------------------------------------- co-smoothing


def _poisson_loglik(counts, rates_hz, bin_size):
    lam = rates_hz * bin_size
    return float(np.sum(counts * np.log(lam) - lam))


def fit_heldout_readout(unit_rates, data: PopulationData, *, seed: int = 0):
    """Ridge readout from the network's unit rates to the held-out neurons (co-smoothing).

    Parameters
    ----------
    unit_rates : array, shape (context, time, unit)
        φ(x) of the fitted network per condition (the same for every trial of a condition:
        the fit is autonomous).
    data : PopulationData
    seed : int
        Seeds the two-fold split of the training trials that chooses the penalty (a condition
        with a single training trial cannot be split: then the middle of the grid, 10⁻², is
        used).

    Returns
    -------
    dict
        ``weights`` (held-out neuron, unit), ``intercept`` (held-out neuron,) in Hz,
        ``penalty`` (the chosen relative penalty), ``floor`` (held-out neuron,) Hz, and
        ``predict``: a function (context, time, unit) → (context, time, held-out neuron) Hz.
    """
    x = np.asarray(unit_rates, dtype=float)
    n_ctx, n_time, n_units = x.shape
    xf = x.reshape(-1, n_units)
    x_mean = xf.mean(axis=0)
    xc = xf - x_mean
    # one eigendecomposition serves every penalty: W(λ) = V diag(1/(s² + λ)) Vᵀ Xᵀ y
    evals, evecs = np.linalg.eigh(xc.T @ xc)
    evals = np.clip(evals, 0.0, None)
    mean_eval = max(float(evals.mean()), 1e-300)
    cond = data.trial_conditions
    rates = data.binned["rates"].transpose("trial", "time", "neuron").values[..., data.held_out]
    counts = data.binned["counts"].transpose("trial", "time", "neuron").values[..., data.held_out]
    train = data.train_trials
    floor = np.maximum(_RATE_FLOOR_FRACTION * rates[train].mean(axis=(0, 1)), 1e-3)

    def psth(trials):
        return np.stack([rates[trials[cond[trials] == c]].mean(axis=0)
                         for c in data.conditions]).reshape(-1, rates.shape[-1])

    def solve(y, lam):
        y_mean = y.mean(axis=0)
        proj = evecs.T @ (xc.T @ (y - y_mean))
        w = evecs @ (proj / (evals + lam * mean_eval)[:, None])  # (unit, neuron)
        return w, y_mean - x_mean @ w

    def predict_flat(w, b):
        return np.maximum(xf @ w + b, floor)

    # two halves of every condition's training trials
    rng = np.random.default_rng([seed, 1])
    halves = [[], []]
    for c in data.conditions:
        idx = rng.permutation(train[cond[train] == c])
        halves[0].extend(idx[: len(idx) // 2].tolist())
        halves[1].extend(idx[len(idx) // 2:].tolist())
    halves = [np.sort(np.array(h, dtype=int)) for h in halves]
    penalty = float(_RIDGE_GRID[len(_RIDGE_GRID) // 2])
    if all(len(h) for h in halves) and all(
            set(cond[h]) == set(data.conditions) for h in halves):
        scores = []
        for lam in _RIDGE_GRID:
            total = 0.0
            for fit_half, score_half in (halves, halves[::-1]):
                w, icpt = solve(psth(fit_half), lam)
                pred = predict_flat(w, icpt).reshape(n_ctx, n_time, -1)
                ctx = [data.conditions.index(c) for c in cond[score_half]]
                total += _poisson_loglik(counts[score_half], pred[ctx], data.bin_size)
            scores.append(total)
        penalty = float(_RIDGE_GRID[int(np.argmax(scores))])
    w, icpt = solve(psth(train), penalty)

    def predict(r):
        r = np.asarray(r, dtype=float)
        return np.maximum(r.reshape(-1, n_units) @ w + icpt, floor).reshape(
            r.shape[:-1] + (w.shape[1],))

    return {"weights": w.T, "intercept": icpt, "penalty": penalty, "floor": floor,
            "predict": predict}


# --------------------------------------------------------------------------- evaluation


def evaluate(network, controller, data: PopulationData, *, split_seed: int = 0) -> dict:
    """Simulate every condition from its trained initial state and score it on held-out data.

    Parameters
    ----------
    network : Network
    controller : Controller
        Trained; ``controller.contexts`` equal ``data.conditions``.
    data : PopulationData
    split_seed : int
        Seeds the penalty choice of the co-smoothing readout.

    Returns
    -------
    dict
        ``observed`` (context, time, output) the network's output in fit units; ``states``,
        ``rates`` (context, time, unit); ``model_psth`` (context, time, neuron) Hz (held-in
        neurons from the network, held-out from the co-smoothing readout); ``scores``
        {name: (per_condition ndarray, overall float)} for every name in
        :data:`RECORDING_SCORES` and its ``_baseline``; ``nrmse`` (context,);
        ``readout`` (see :func:`fit_heldout_readout`).

    Raises
    ------
    ConfigError
        Controller contexts that are not the recording's conditions.
    """
    import jax.numpy as jnp

    from ..analysis.metrics import nrmse as _nrmse
    from ..data.scores import co_smoothing_bits_per_spike, psth_r2, pvar
    from ..models.base import rates as unit_rates
    from ..models.base import simulate
    from ..training.control import effective_leak, effective_readout
    from ..training.loop import observe

    if tuple(controller.contexts) != tuple(data.conditions):
        raise ConfigError(f"controller: contexts {list(controller.contexts)} must equal the "
                          f"recording's conditions {list(data.conditions)}, in order.")
    readout = effective_readout(network, controller)
    leak = effective_leak(network, controller)
    n = data.n_bins
    states, observed = [], []
    for c in range(len(data.conditions)):
        x, y = simulate(network, controller.bias[c], controller.initial_state[c], n_steps=n,
                        readout=readout, leak=leak)
        states.append(np.asarray(x, dtype=float))
        observed.append(np.asarray(observe(y, data.loss), dtype=float))
    states, observed = np.stack(states), np.stack(observed)
    rates_u = np.asarray(unit_rates(network, jnp.asarray(states)), dtype=float)

    hin, hout = data.held_in, data.held_out
    model_psth = np.empty_like(data.test_psth)
    model_psth[..., hin] = data.to_hz(observed)
    ro = fit_heldout_readout(rates_u, data, seed=split_seed)
    model_psth[..., hout] = ro["predict"](rates_u)

    labels = data.conditions
    data_in, train_in, model_in = (p[..., hin] for p in (data.test_psth, data.train_psth,
                                                         model_psth))
    scores = {}
    for suffix, pred in (("", model_in), ("_baseline", train_in)):
        r2 = psth_r2(data_in, pred, conditions=labels)
        scores["psth_r2" + suffix] = (r2.per_condition, r2.overall)
        scores["pvar" + suffix] = (np.array([pvar(data_in[c], pred[c])
                                             for c in range(len(labels))]),
                                   pvar(data_in, pred))
    cond = data.trial_conditions
    test = data.test_trials
    ctx = np.array([labels.index(c) for c in cond[test]])
    k = data.binned["counts"].transpose("trial", "time", "neuron").values[test][..., hout]
    for suffix, pred in (("", model_psth[..., hout]), ("_baseline", data.train_psth[..., hout])):
        s = co_smoothing_bits_per_spike(k, pred[ctx], bin_size=data.bin_size,
                                        conditions=cond[test])
        per = dict(zip(s.conditions, s.per_condition, strict=True))
        scores["co_bps" + suffix] = (np.array([per.get(c, np.nan) for c in labels]), s.overall)
    target = data.to_fit_units(data.test_psth[..., hin], _mean_counts(data, test)[..., hin])
    nrmse = np.array([_nrmse(target[c], observed[c]) for c in range(len(labels))])
    return {"observed": observed, "target": target, "states": states, "rates": rates_u,
            "model_psth": model_psth, "scores": scores, "nrmse": nrmse, "readout": ro}


def _mean_counts(data: PopulationData, trials):
    cond = data.trial_conditions
    counts = data.binned["counts"].transpose("trial", "time", "neuron").values.astype(float)
    return np.stack([counts[trials[cond[trials] == c]].mean(axis=0) for c in data.conditions])



# --------------------------------------------------------------------------- results


def make_dataset(config, data: PopulationData, targets, train_result, ev, *, load_time):
    """The results Dataset of a recording fit: schema v1 (the network's output against the
    held-out trials' PSTH) plus the recording variables
    (:data:`brainbias.results.RECORDING_VARIABLES`) and attributes."""
    from .. import results as _results
    from ..training.loop import stack_targets

    arrays = stack_targets(targets, n_outputs=train_result.network.n_outputs, n_inputs=0)
    ds = _results.make_dataset(
        network=train_result.network, controller=train_result.controller,
        train_result=train_result, evaluation=_schema_evaluation(data, ev),
        target_arrays=arrays, targets=targets, config_dict=config.to_dict(), seed=config.seed)
    ds = _describe_schema_variables(ds, data)
    ds = ds.assign(_recording_variables(data, ev, n_units=ds.sizes["unit"]))
    b = data.binned
    ds = ds.assign_coords(neuron=("neuron", np.array(data.neuron_names)),
                          trial=("trial", b["trial"].values))
    ds.attrs.update(_recording_attrs(config, data, ev, load_time=load_time))
    return _results.validate(ds)


def _schema_evaluation(data: PopulationData, ev: dict) -> dict:
    """:func:`evaluate`'s output in the shape :func:`brainbias.results.make_dataset` takes."""
    from .. import results as _results

    n_ctx, n_time = len(data.conditions), data.n_bins
    nan = np.full(n_ctx, np.nan)
    metrics = {name: nan.copy() for name in _results.METRICS}
    metrics["nrmse"] = ev["nrmse"]
    return {
        "target": ev["target"], "prediction": ev["observed"], "rates": ev["rates"],
        "states": ev["states"], "inputs": np.zeros((n_ctx, n_time, 0)), "metrics": metrics,
        "attrs": dict(eval_washout=0, nrmse_horizon=n_time, vpt_threshold=float("nan"),
                      test_fraction=0.0),
    }


def _describe_schema_variables(ds, data: PopulationData):
    """Trial-clock time and what target, prediction and NRMSE mean for a recording."""
    b = data.binned
    ds = ds.assign_coords(time=("time", b["time"].values,
                                {"units": "s", "description": "bin centre, trial clock"}))
    ds["target"].attrs["description"] = ("held-out trials' PSTH of the held-in neurons, in the "
                                         "fit's units (normalised rate or counts per bin)")
    ds["prediction"].attrs["description"] = ("the network's output from its trained initial "
                                             "state, same units")
    ds["nrmse"].attrs["description"] = ("NRMSE of prediction vs the held-out trials' PSTH "
                                        "(held-in neurons, fit units, whole window)")
    return ds


def _recording_variables(data: PopulationData, ev: dict, *, n_units: int) -> dict:
    """PSTHs, splits, normalisation, co-smoothing readout and the held-out scores."""
    b = data.binned
    names = np.array(data.neuron_names)
    held_out = np.zeros(len(names), dtype=bool)
    held_out[data.held_out] = True
    test = np.zeros(b.sizes["trial"], dtype=bool)
    test[data.test_trials] = True
    ro = ev["readout"]
    co_w = np.full((len(names), n_units), np.nan)
    co_w[data.held_out] = ro["weights"]
    co_b = np.full(len(names), np.nan)
    co_b[data.held_out] = ro["intercept"]
    new = {
        "psth_data": (("context", "time", "neuron"), data.test_psth,
                      {"units": "Hz", "description": "held-out trials' PSTH (smoothed rates)"}),
        "psth_baseline": (("context", "time", "neuron"), data.train_psth,
                          {"units": "Hz", "description": "training trials' PSTH: the "
                           "smoothed-PSTH baseline"}),
        "psth_model": (("context", "time", "neuron"), ev["model_psth"],
                       {"units": "Hz", "description": "network (held-in neurons) and "
                        "co-smoothing readout (held-out neurons)"}),
        "neuron_held_out": (("neuron",), held_out,
                            {"description": "held out of the fit, scored by co-smoothing"}),
        "normalisation_offset": (("neuron",), data.offset, {"units": "Hz"}),
        "normalisation_scale": (("neuron",), data.scale,
                                {"units": "Hz", "description": "fit units = (rate - offset) / "
                                 "scale (mse); expected count per bin = scale * softplus(output) "
                                 "(poisson)"}),
        "co_smoothing_weights": (("neuron", "unit"), co_w,
                                 {"units": "Hz", "description": "ridge readout unit rates -> "
                                  "held-out neuron (NaN rows: held-in)"}),
        "co_smoothing_intercept": (("neuron",), co_b, {"units": "Hz"}),
        "trial_test": (("trial",), test, {"description": "held out of the fit"}),
        "trial_condition": (("trial",), np.asarray(data.trial_conditions, dtype=object)),
    }
    for name, text in RECORDING_SCORES.items():
        for suffix in ("", "_baseline"):
            per, overall = ev["scores"][name + suffix]
            what = text + (" — baseline (training-trial PSTH)" if suffix else "")
            new[name + suffix] = (("context",), np.asarray(per, dtype=float),
                                  {"description": what})
            new[name + suffix + "_overall"] = ((), float(overall),
                                               {"description": what + ", all conditions"})
    return new


def _recording_attrs(config, data: PopulationData, ev: dict, *, load_time: float) -> dict:
    """How the recording was read, binned, split and normalised."""
    b, ro = data.binned, ev["readout"]
    return dict(
        recording_source=str(b.attrs.get("source", "")),
        recording_bin_size=data.bin_size,
        recording_kernel=str(b.attrs["kernel"]),
        recording_kernel_width=float(b.attrs["kernel_width"]),
        recording_t_start=float(b.attrs["t_start"]),
        recording_t_stop=float(b.attrs["t_stop"]),
        recording_align_event=str(b.attrs.get("align_event", "")),
        recording_dropped_neurons=str(b.attrs.get("dropped_neurons", "")),
        recording_split_seed=int(config.recording.split_seed),
        recording_test_trial_fraction=float(config.recording.test_trial_fraction),
        recording_test_neuron_fraction=float(config.recording.test_neuron_fraction),
        recording_soft_normalisation_constant=float(data.soft_normalisation_constant),
        recording_loss=data.loss,
        recording_load_time=float(load_time),
        co_smoothing_penalty=float(ro["penalty"]),
    )


# --------------------------------------------------------------------------- summary


def summary_table(ds) -> str:
    """Per-condition held-out scores of a recording run next to the baseline (plain text)."""
    def fmt(v, spec=".3f"):
        v = float(v)
        return "—" if not np.isfinite(v) else format(v, spec)

    def pair(name, sel):
        return f"{fmt(sel(name))} / {fmt(sel(name + '_baseline'))}"

    rows = [("condition", "NRMSE", "PSTH R² (model / base)", "pVar (model / base)",
             "co-bps (model / base)")]
    for c in ds["context"].values:
        d = ds.sel(context=c)
        rows.append((str(c), fmt(d["nrmse"]),
                     *(pair(n, lambda v, d=d: d[v]) for n in RECORDING_SCORES)))
    rows.append(("overall", "",
                 *(pair(n, lambda v: ds[v + "_overall"]) for n in RECORDING_SCORES)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    a = ds.attrs
    n_test = int(ds["trial_test"].sum())
    n_out = int(ds["neuron_held_out"].sum())
    notes = (f"held-out trials: {n_test} of {ds.sizes['trial']}; held-in neurons "
             f"{ds.sizes['neuron'] - n_out} (NRMSE, PSTH R², pVar), held-out neurons {n_out} "
             f"(co-smoothing bits/spike); base = smoothed PSTH of the training trials; split "
             f"seed {a['recording_split_seed']}; {a['recording_bin_size'] * 1e3:g} ms bins, "
             f"{a['recording_kernel']} σ = {a['recording_kernel_width'] * 1e3:g} ms, window "
             f"[{a['recording_t_start']:g}, {a['recording_t_stop']:g}] s; mode={a['mode']}, "
             f"loss={a['recording_loss']}, training {a['training_stopped']} in "
             f"{a['training_wall_time']:.0f} s.")
    from .timescale import tau_summary

    text = "\n".join(lines) + "\n" + textwrap.fill(notes, width=100, break_on_hyphens=False)
    text += "\n\n" + tau_summary(ds)
    if "teacher_attractor_kind" in ds:
        from .groundtruth import comparison_table

        text += "\n\nattractors against the teacher (" + str(a.get("teacher_source", "")) + \
            ")\n" + comparison_table(ds)
    return text
