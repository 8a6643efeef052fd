"""Building a results Dataset: the schema-v1 core of a run and the optional groups (τ
selection, model selection, teacher comparison)."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .._errors import SchemaError
from ..models.base import static_settings
from .schema import (
    METRICS,
    OPTIONAL_VARIABLES,
    SCHEMA_VERSION,
    TEACHER_COMPARISON_VARIABLES,
    VARIABLES,
    network_variables,
    package_versions,
    validate,
)


def make_dataset(*, network, controller, train_result, evaluation, target_arrays, targets,
                 config_dict: dict, seed: int) -> xr.Dataset:
    """Assemble the schema-v1 Dataset of a run (used by
    :func:`brainbias.experiment.pipeline.run`)."""
    from .._version import __version__
    from ..training.control import effective_tau

    contexts = list(controller.contexts)
    n_time = evaluation["prediction"].shape[1]
    coords = {
        "context": contexts,
        "time": np.arange(n_time) * network.dt,
        "unit": np.arange(network.n_units),
        "source_unit": np.arange(network.n_units),
        "output": list(target_arrays.output_names),
        "input": list(target_arrays.input_names),
        "iteration": np.arange(train_result.loss.shape[0]),
    }
    f = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731
    data = {
        "target": (VARIABLES["target"], f(evaluation["target"])),
        "prediction": (VARIABLES["prediction"], f(evaluation["prediction"])),
        "rates": (VARIABLES["rates"], np.asarray(evaluation["rates"], dtype=np.float32)),
        # states in float64: they seed the fixed-point search and must re-simulate exactly
        "states": (VARIABLES["states"], f(evaluation["states"])),
        "inputs": (VARIABLES["inputs"], f(evaluation["inputs"])),
        "output_mask": (VARIABLES["output_mask"], f(target_arrays.output_mask)),
        "bias": (VARIABLES["bias"], f(controller.bias)),
        "initial_state": (VARIABLES["initial_state"], f(controller.initial_state)),
        **network_variables(network),  # dense arrays, or a sparse one's COO triplets
        "loss": (VARIABLES["loss"], f(train_result.loss)),
        "teacher_forcing": (VARIABLES["teacher_forcing"], f(train_result.teacher_forcing)),
        "target_kind": (("context",), np.array([t.kind for t in targets], dtype=object)),
        "lyapunov_exponent": (("context",), f([t.lyapunov_exponent or np.nan for t in targets])),
    }
    if controller.readout_weights is not None:
        data["trained_readout_weights"] = (OPTIONAL_VARIABLES["trained_readout_weights"],
                                           f(controller.readout_weights))
    if controller.leak_logit is not None:
        data["trained_leak_logit"] = ((), f(controller.leak_logit), {
            "description": "theta of the trained time constant: leak dt/tau = sigmoid(theta)"})
    if getattr(train_result, "polish_loss", None) is not None:
        data["polish_loss"] = (OPTIONAL_VARIABLES["polish_loss"], f(train_result.polish_loss), {
            "description": "mean squared teacher-forced residual before (step 0) and after each "
                           "Levenberg-Marquardt step on the biases (training.polish)"})
    for name in METRICS:
        data[name] = (("context",), f(evaluation["metrics"][name]))
    ds = xr.Dataset(data, coords=coords)
    for name, text in METRICS.items():
        ds[name].attrs["description"] = text
    ds["time"].attrs["description"] = "time since the start of the free-running evaluation"
    ds["target"].attrs["description"] = "held-out target after the evaluation washout"
    ds["prediction"].attrs["description"] = "free-running network output, aligned with target"
    ds.attrs.update(
        schema_version=SCHEMA_VERSION,
        brainbias_version=__version__,
        config=json.dumps(config_dict, sort_keys=True),
        seed=int(seed),
        versions=json.dumps(package_versions(), sort_keys=True),
        dt=float(network.dt),
        tau=effective_tau(network, controller),
        initial_tau=float(network.tau),
        tau_selection="fixed",
        model=network.family,
        **static_settings(network),
        mode=train_result.config.mode,
        run_mode=train_result.config.run_mode,
        training_stopped=train_result.stopped,
        training_wall_time=float(train_result.wall_time),
        target_attrs=json.dumps({t.name: _jsonable(t.attrs) for t in targets}, sort_keys=True),
        **{k: v for k, v in evaluation["attrs"].items()},
    )
    return validate(ds)


def _jsonable(d):
    out = {}
    for k, v in dict(d).items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        try:
            json.dumps(v)
        except TypeError:
            v = repr(v)
        out[str(k)] = v
    return out


def with_tau_selection(ds: xr.Dataset, selection) -> xr.Dataset:
    """``ds`` with what ``tau = "auto"`` tried and chose
    (:class:`~brainbias.experiment.timescale.TauSelection`): the grid as coordinate
    ``tau_candidate``, :data:`TAU_SELECTION_VARIABLES` and the ``tau_selection*`` attributes."""
    f = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731
    ds = ds.assign_coords(tau_candidate=("tau_candidate", f(selection.candidates),
                                         {"description": "time constants tried (unit of dt)"}))
    ds = ds.assign(
        tau_selection_score=("tau_candidate", f(selection.scores),
                             {"description": selection.criterion,
                              "better": selection.better}),
        tau_selection_training_loss=("tau_candidate", f(selection.training_loss),
                                     {"description": "final training loss of each candidate"}),
        tau_selection_fitted_tau=("tau_candidate", f(selection.fitted_tau),
                                  {"description": "tau at the end of each candidate's fit"}),
    )
    ds.attrs.update(tau_selection="auto", tau_selection_criterion=selection.criterion,
                    tau_selection_better=selection.better,
                    tau_selection_chosen=float(selection.chosen_tau))
    return validate(ds)


def with_model_selection(ds: xr.Dataset, selector) -> xr.Dataset:
    """``ds`` with the validation scores of every check of a
    :class:`~brainbias.experiment.selection.ValidationSelector` and the iteration it kept."""
    h = selector.history
    f = lambda key: np.array([row[key] for row in h], dtype=np.float64)  # noqa: E731
    ds = ds.assign_coords(selection_check=("selection_check",
                                           np.array([row["iteration"] for row in h], dtype=int),
                                           {"description": "iteration of each validation check"}))
    ds = ds.assign(
        selection_state_space_divergence=(
            "selection_check", f("state_space_divergence"),
            {"description": "D_stsp of the free run vs the validation segment (mean over "
             "contexts); the lowest is kept"}),
        selection_valid_prediction=(
            "selection_check", f("valid_prediction"),
            {"description": "median valid prediction on the validation segment (Lyapunov "
             "times, or steps without an exponent); breaks ties"}),
    )
    ds.attrs.update(selected_iteration=int(selector.best.iteration))
    return validate(ds)


def with_teacher_comparison(ds: xr.Dataset, comparison: xr.Dataset) -> xr.Dataset:
    """``ds`` with the :data:`TEACHER_COMPARISON_VARIABLES` of ``comparison`` (a Dataset over
    the same contexts, from :func:`brainbias.experiment.groundtruth.compare_run_with_teacher`) and
    its
    attributes prefixed ``teacher_``.

    Raises
    ------
    SchemaError
        Missing variables or other contexts.
    """
    missing = [name for name in TEACHER_COMPARISON_VARIABLES if name not in comparison]
    if missing:
        raise SchemaError(f"teacher comparison: missing variables {missing}.")
    if list(comparison["context"].values) != list(ds["context"].values):
        raise SchemaError(f"teacher comparison: contexts {list(comparison.context.values)} are "
                          f"not the run's {list(ds.context.values)}.")
    ds = ds.assign({name: comparison[name] for name in TEACHER_COMPARISON_VARIABLES})
    ds.attrs.update({k if k.startswith("teacher_") else f"teacher_{k}": v
                     for k, v in comparison.attrs.items()})
    return validate(ds)


def with_defaulted_sections(ds: xr.Dataset, sections) -> xr.Dataset:
    """``ds`` with attribute ``defaulted_sections``: the config tables that the TOML file left
    out and that took their documented defaults, comma-separated (``""``: none)."""
    ds.attrs["defaulted_sections"] = ", ".join(sections)
    return ds
