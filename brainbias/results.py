"""The results schema: every dimension, variable and attribute name of a run, in one place.

A run is an :class:`xarray.Dataset` holding what is needed to rebuild and re-simulate the trained
network (all weights, biases, initial states, config, seed, versions) plus the target, the
free-running prediction, unit rates, loss history and per-context metrics. It is saved as NetCDF
(h5netcdf engine; never pickle). :func:`load` validates and refuses unknown schema versions.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import xarray as xr

from ._errors import ConfigError, DataError, SchemaError, did_you_mean

__all__ = [
    "SCHEMA_VERSION",
    "DIMS",
    "VARIABLES",
    "METRICS",
    "RECORDING_VARIABLES",
    "TAU_SELECTION_VARIABLES",
    "TEACHER_COMPARISON_VARIABLES",
    "is_recording_run",
    "with_tau_selection",
    "with_teacher_comparison",
    "save",
    "load",
    "validate",
    "network_from_dataset",
    "controller_from_dataset",
    "package_versions",
    "select_context",
]

SCHEMA_VERSION = 1

#: dimension names (the same words as in docstrings and code annotations)
DIMS = ("context", "time", "unit", "source_unit", "output", "input", "iteration", "neuron",
        "trial", "tau_candidate")

#: extra dimensions of an analysis Dataset (``brainbias analyze``): fixed points, eigen-modes of
#: their Jacobians, principal components, and the second context of pairwise comparisons
ANALYSIS_DIMS = ("fixed_point", "mode", "component", "other_context")

#: variable → dimensions; ``None`` marks optional variables
VARIABLES = {
    "target": ("context", "time", "output"),
    "prediction": ("context", "time", "output"),
    "rates": ("context", "time", "unit"),
    "states": ("context", "time", "unit"),
    "inputs": ("context", "time", "input"),
    "output_mask": ("context", "output"),
    "bias": ("context", "unit"),
    "initial_state": ("context", "unit"),
    "recurrent_weights": ("unit", "source_unit"),
    "input_weights": ("unit", "input"),
    "feedback_weights": ("unit", "output"),
    "readout_weights": ("output", "unit"),
    "loss": ("iteration", "context"),
    "teacher_forcing": ("iteration",),
    "target_kind": ("context",),
    "lyapunov_exponent": ("context",),
}
#: ``trained_leak_logit``: θ of a trained global time constant (``mode="bias+tau"``), leak
#: ``dt / τ = sigmoid(θ)``; the ``tau`` attribute is then that fitted τ, ``initial_tau`` its start
OPTIONAL_VARIABLES = {"trained_readout_weights": ("output", "unit"), "trained_leak_logit": ()}

#: Variables of a run whose τ was chosen by ``tau = "auto"``
#: (:mod:`brainbias.experiment.timescale`): all
#: or none. Coordinate ``tau_candidate`` = the grid; attributes ``tau_selection = "auto"``,
#: ``tau_selection_criterion``, ``tau_selection_better`` ("higher"/"lower"),
#: ``tau_selection_chosen`` (the chosen grid value).
TAU_SELECTION_VARIABLES = {
    "tau_selection_score": ("tau_candidate",),
    "tau_selection_training_loss": ("tau_candidate",),
    "tau_selection_fitted_tau": ("tau_candidate",),
}

#: Variables comparing a fitted recording run with the teacher that made the recording
#: (:func:`brainbias.experiment.groundtruth.compare_run_with_teacher`): all or none, dims
#: (context,).
#: Kinds are "stable_node", "stable_focus", "limit_cycle" or "unresolved"; period (s),
#: frequency (Hz), decay rate (1/s) of the attractor each condition's trajectory goes to.
TEACHER_COMPARISON_VARIABLES = {
    f"{who}_attractor_{what}": ("context",)
    for who in ("teacher", "model") for what in ("kind", "period", "frequency", "decay_rate")
}

#: Variables of a run fitted to a recording (:mod:`brainbias.experiment.recording`): all or none.
#: ``context`` = condition; ``output`` = the held-in neurons (``target``/``prediction`` hold
#: the held-out trials' PSTH and the network's output in the fit's units); ``neuron`` = all
#: recorded neurons kept after binning; ``trial`` = the recording's trials.
RECORDING_VARIABLES = {
    "psth_data": ("context", "time", "neuron"),
    "psth_baseline": ("context", "time", "neuron"),
    "psth_model": ("context", "time", "neuron"),
    "neuron_held_out": ("neuron",),
    "normalisation_offset": ("neuron",),
    "normalisation_scale": ("neuron",),
    "co_smoothing_weights": ("neuron", "unit"),
    "co_smoothing_intercept": ("neuron",),
    "trial_test": ("trial",),
    "trial_condition": ("trial",),
    **{f"{score}{suffix}": dims
       for score in ("psth_r2", "pvar", "co_bps")
       for suffix, dims in (("", ("context",)), ("_baseline", ("context",)),
                            ("_overall", ()), ("_baseline_overall", ()))},
}

#: per-context metric variables, dims ("context",)
METRICS = {
    "nrmse": "normalised RMS error of the free-running output over the first `nrmse_horizon` steps",
    "valid_prediction_steps": "steps until the normalised error exceeds `vpt_threshold`",
    "valid_prediction_time": "the same in time units",
    "valid_prediction_lyapunov_times": "the same in Lyapunov times (chaotic targets)",
    "period": "period of the free-running output (limit cycles), time units",
    "target_period": "period of the target, time units",
    "period_error": "|period - target_period| / target_period",
    "amplitude_error": "relative amplitude error (limit cycles)",
}

REQUIRED_ATTRS = ("schema_version", "brainbias_version", "config", "seed", "versions", "dt", "tau",
                  "nonlinearity", "form", "mode", "run_mode")


def package_versions() -> dict:
    """Versions of the packages a run depends on (stored in every results file)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("brainbias", "jax", "jaxlib", "optax", "numpy", "scipy", "xarray", "brainpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def validate(ds: xr.Dataset) -> xr.Dataset:
    """Check schema version, required variables, their dimensions and attributes; return ``ds``.

    Raises
    ------
    SchemaError
        Unknown or missing schema version, missing variables/attributes, wrong dimensions.
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"expected an xarray.Dataset, got {type(ds).__name__}.")
    version = ds.attrs.get("schema_version")
    if version is None:
        raise SchemaError("not a brainbias results file: attribute 'schema_version' is missing.")
    if int(version) != SCHEMA_VERSION:
        raise SchemaError(
            f"results schema version {version} is not supported by this brainbias "
            f"(understands version {SCHEMA_VERSION}); use the brainbias version that wrote it "
            f"({ds.attrs.get('brainbias_version', 'unknown')})."
        )
    missing = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise SchemaError(f"results file is missing attributes {missing}.")
    for name, dims in {**VARIABLES, **{m: ("context",) for m in METRICS}}.items():
        if name not in ds:
            raise SchemaError(f"results file is missing variable {name!r}.")
        if ds[name].dims != dims:
            raise SchemaError(f"variable {name!r} has dims {ds[name].dims}, expected {dims}.")
    groups = {"recording": RECORDING_VARIABLES, "tau selection": TAU_SELECTION_VARIABLES,
              "teacher comparison": TEACHER_COMPARISON_VARIABLES}
    for name, dims in {**OPTIONAL_VARIABLES, **{k: v for g in groups.values()
                                                for k, v in g.items()}}.items():
        if name in ds and ds[name].dims != dims:
            raise SchemaError(f"variable {name!r} has dims {ds[name].dims}, expected {dims}.")
    for what, group in groups.items():
        present = [name for name in group if name in ds]
        if present and len(present) != len(group):
            missing = [name for name in group if name not in ds]
            raise SchemaError(f"results file has {what} variables but is missing {missing}.")
    return ds


def is_recording_run(ds: xr.Dataset) -> bool:
    """True for a run fitted to a recording (it holds :data:`RECORDING_VARIABLES`)."""
    return "psth_data" in ds


def save(ds: xr.Dataset, path, *, force: bool = False) -> Path:
    """Write a validated results Dataset to NetCDF.

    Refuses to overwrite an existing file unless ``force``; writes to a temporary file first so
    that a failure never leaves a half-written result.

    Raises
    ------
    ConfigError
        The file exists (without ``force``) or the folder is not writable.
    """
    validate(ds)
    return write_netcdf(ds, path, force=force)


def prepare_output(path, *, force: bool = False) -> Path:
    """Check that ``path`` may be written (before any work is done): refuse an existing file
    unless ``force``, create the folder, check it is writable.

    Raises
    ------
    ConfigError
        The file exists (without ``force``), the folder cannot be created or is not writable.
    """
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; refusing to overwrite it (use --force / force=True).")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {folder}: {exc.strerror}.") from None
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"output folder {folder} is not writable.")
    return path


def write_netcdf(ds: xr.Dataset, path, *, force: bool = False) -> Path:
    """Write ``ds`` through a temporary file, so a failure never leaves a half-written file."""
    path = prepare_output(path, force=force)
    tmp = path.with_name(path.name + ".tmp")
    ds.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, path)
    return path


def load(path) -> xr.Dataset:
    """Read a results file and validate it (the data are loaded into memory, file closed).

    Raises
    ------
    DataError
        Missing or unreadable file.
    SchemaError
        Not a brainbias results file, or an unknown schema version.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"results file not found: {path}")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as f:
            ds = f.load()
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable NetCDF file ({exc}).") from None
    return validate(ds)


def config_of(ds: xr.Dataset) -> dict:
    """The run's configuration dict (stored as JSON in the attrs)."""
    return json.loads(ds.attrs["config"])


def select_context(ds: xr.Dataset, context: str) -> xr.Dataset:
    """``ds.sel(context=context)`` with a clear error for unknown names."""
    names = [str(c) for c in ds["context"].values]
    if context not in names:
        raise ConfigError(f"context: no context named {context!r} in this run; it has {names}."
                          + did_you_mean(context, names))
    return ds.sel(context=context)


def network_from_dataset(ds: xr.Dataset):
    """Rebuild the fixed :class:`~brainbias.models.rate.Network` of a run (float64 arrays).

    Its ``tau`` is the run's τ (attribute ``tau``): for a ``bias+tau`` run the fitted one, so
    that any step function built from this network alone has the fitted dynamics; the
    controller (:func:`controller_from_dataset`) holds the exact trained leak as well.
    """
    import jax.numpy as jnp

    from .models.rate import Network

    arr = lambda name: jnp.asarray(ds[name].values)  # noqa: E731
    return Network(
        recurrent_weights=arr("recurrent_weights"),
        input_weights=arr("input_weights"),
        feedback_weights=arr("feedback_weights"),
        readout_weights=arr("readout_weights"),
        dt=float(ds.attrs["dt"]),
        tau=float(ds.attrs["tau"]),
        nonlinearity=str(ds.attrs["nonlinearity"]),
        form=str(ds.attrs["form"]),
    )


def controller_from_dataset(ds: xr.Dataset):
    """Rebuild the trained :class:`~brainbias.training.control.Controller` of a run."""
    import jax.numpy as jnp

    from .training.control import Controller

    readout = ds.get("trained_readout_weights")
    logit = ds.get("trained_leak_logit")
    return Controller(
        bias=jnp.asarray(ds["bias"].values),
        initial_state=jnp.asarray(ds["initial_state"].values),
        readout_weights=None if readout is None else jnp.asarray(readout.values),
        leak_logit=None if logit is None else jnp.asarray(logit.values),
        contexts=tuple(str(c) for c in ds["context"].values),
    )


def make_dataset(*, network, controller, train_result, evaluation, target_arrays, targets,
                 config_dict: dict, seed: int) -> xr.Dataset:
    """Assemble the schema-v1 Dataset of a run (used by
    :func:`brainbias.experiment.pipeline.run`)."""
    from ._version import __version__
    from .training.control import effective_tau

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
        "recurrent_weights": (VARIABLES["recurrent_weights"], f(network.recurrent_weights)),
        "input_weights": (VARIABLES["input_weights"], f(network.input_weights)),
        "feedback_weights": (VARIABLES["feedback_weights"], f(network.feedback_weights)),
        "readout_weights": (VARIABLES["readout_weights"], f(network.readout_weights)),
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
        nonlinearity=network.nonlinearity,
        form=network.form,
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
    """``ds`` with what ``tau = "auto"`` tried and chose (:class:`~brainbias.experiment.timescale.
    TauSelection`): the grid as coordinate ``tau_candidate``, :data:`TAU_SELECTION_VARIABLES`
    and the ``tau_selection*`` attributes."""
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
