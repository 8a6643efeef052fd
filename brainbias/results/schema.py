"""Every dimension, variable and attribute name of a results Dataset, and :func:`validate`."""

from __future__ import annotations

import dataclasses
import platform

import xarray as xr

from .._errors import SchemaError
from ..models.registry import FAMILIES

SCHEMA_VERSION = 1

#: dimension names (the same words as in docstrings and code annotations)
DIMS = ("context", "time", "unit", "source_unit", "output", "input", "iteration", "neuron",
        "trial", "tau_candidate", "selection_check", "synapse")

#: extra dimensions of an analysis Dataset (``brainbias analyze``): fixed points, eigen-modes of
#: their Jacobians, principal components, the second context of pairwise comparisons, and the
#: census (attractors, free-run starts, Floquet modes of cycles, steps along an orbit)
ANALYSIS_DIMS = ("fixed_point", "mode", "component", "other_context", "attractor", "start",
                 "floquet_mode", "orbit_step")

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
    "input_weights": ("unit", "input"),
    "feedback_weights": ("unit", "output"),
    "readout_weights": ("output", "unit"),
    "loss": ("iteration", "context"),
    "teacher_forcing": ("iteration",),
    "target_kind": ("context",),
    "lyapunov_exponent": ("context",),
}
#: ``trained_leak_logit``: θ of a trained global time constant (``mode="bias+tau"``), leak
#: ``dt / τ = sigmoid(θ)``; the ``tau`` attribute is then that fitted τ, ``initial_tau`` its start;
#: ``polish_loss``: the teacher-forced residual of each Levenberg–Marquardt step
#: (``training.polish``, :mod:`brainbias.training.polish`; step 0 is before the first)
OPTIONAL_VARIABLES = {"trained_readout_weights": ("output", "unit"), "trained_leak_logit": (),
                      "polish_loss": ("polish_step", "context")}

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

#: Variables of a run whose model was selected on a validation segment
#: (``training.select_every``, :class:`brainbias.experiment.selection.ValidationSelector`): all
#: or none. Coordinate ``selection_check`` = the iteration of each check; attribute
#: ``selected_iteration``.
MODEL_SELECTION_VARIABLES = {
    "selection_state_space_divergence": ("selection_check",),
    "selection_valid_prediction": ("selection_check",),
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
                  "mode", "run_mode")

#: The model family of a run is its attribute ``model`` ("rate" when absent: files written
#: before the LTC family). Each family adds its fixed arrays (family → variable → dimensions;
#: the weights every family shares are in :data:`VARIABLES`) and its static settings as
#: attributes (family → names), e.g. ``nonlinearity`` and ``form`` of a rate network, ``solver``
#: and ``unfolds`` of an LTC network.
MODEL_VARIABLES = {name: {k: v for k, v in cls.array_dims.items() if k not in VARIABLES}
                   for name, cls in FAMILIES.items()}
MODEL_ATTRS = {name: tuple(f.name for f in dataclasses.fields(cls)
                           if f.metadata.get("static") and f.name not in ("dt", "tau"))
               for name, cls in FAMILIES.items()}
#: A network whose recurrent weights are sparse (``[network.connectivity] sparse = true``,
#: :class:`~brainbias.models.sparse.SparseWeights`) stores them as COO triplets on dimension
#: ``synapse`` INSTEAD of the dense ``recurrent_weights`` (unit, source_unit):
#: ``recurrent_weights_row`` (int32, the postsynaptic unit ``i``), ``recurrent_weights_column``
#: (int32, the presynaptic unit ``j``) and ``recurrent_weights_value`` (``W_ij``), sorted by row,
#: then column; all three or none, and never together with ``recurrent_weights``.
#: :func:`~brainbias.results.network_from_dataset` rebuilds the sparse network from them.
SPARSE_VARIABLES = {f"recurrent_weights_{part}": ("synapse",)
                    for part in ("row", "column", "value")}
#: family settings that files written before they were recorded lack, and their value there
#: (``sign_constraint``: what a fit training the rate weights kept; older files: "none")
OPTIONAL_MODEL_ATTRS = {"sign_constraint": "none"}


def _triplet(name: str) -> tuple:
    """The three variables of a sparse-stored fixed array ``name``."""
    return tuple(f"{name}_{part}" for part in ("row", "column", "value"))


def stored_sparse(ds: xr.Dataset, name: str) -> bool:
    """True if the fixed array ``name`` of ``ds`` is stored as COO triplets
    (:data:`SPARSE_VARIABLES`)."""
    return any(v in ds for v in _triplet(name))


def network_variables(network) -> dict:
    """The fixed arrays of ``network`` as Dataset variables ``{name: (dims, array)}``: float64
    arrays on their ``array_dims``, and a sparse one as its triplets (:data:`SPARSE_VARIABLES`,
    int32 indices)."""
    import numpy as np

    from ..models.sparse import is_sparse

    out = {}
    for name, dims in network.array_dims.items():
        value = getattr(network, name)
        if not is_sparse(value):
            out[name] = (dims, np.asarray(value, dtype=np.float64))
            continue
        if name != "recurrent_weights":
            raise SchemaError(f"{name}: only recurrent_weights can be stored sparse.")
        rows, columns, values = _triplet(name)
        out[rows] = (SPARSE_VARIABLES[rows], np.asarray(value.rows, dtype=np.int32))
        out[columns] = (SPARSE_VARIABLES[columns], np.asarray(value.columns, dtype=np.int32))
        out[values] = (SPARSE_VARIABLES[values], np.asarray(value.values, dtype=np.float64))
    return out


def _model_variables(ds: xr.Dataset, family: str) -> dict:
    """The fixed-array variables ``ds`` must hold: its family's, with a sparse-stored
    ``recurrent_weights`` replaced by its triplets (all three, and not the dense array)."""
    wanted = dict(MODEL_VARIABLES[family])
    if stored_sparse(ds, "recurrent_weights"):
        if "recurrent_weights" in ds:
            raise SchemaError("results file holds both recurrent_weights and its sparse "
                              "triplets (recurrent_weights_row, ...); keep one of them.")
        del wanted["recurrent_weights"]
        wanted.update(SPARSE_VARIABLES)
    return wanted


def model_family(ds: xr.Dataset) -> str:
    """The model family of a results Dataset."""
    return str(ds.attrs.get("model", "rate"))


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
    family = model_family(ds)
    if family not in FAMILIES:
        raise SchemaError(f"results file: unknown model family {family!r} (attribute 'model'); "
                          f"this brainbias knows {tuple(FAMILIES)}.")
    missing = [a for a in REQUIRED_ATTRS + MODEL_ATTRS[family]
               if a not in ds.attrs and a not in OPTIONAL_MODEL_ATTRS]
    if missing:
        raise SchemaError(f"results file is missing attributes {missing}.")
    for name, dims in {**VARIABLES, **_model_variables(ds, family),
                       **{m: ("context",) for m in METRICS}}.items():
        if name not in ds:
            raise SchemaError(f"results file is missing variable {name!r}.")
        if ds[name].dims != dims:
            raise SchemaError(f"variable {name!r} has dims {ds[name].dims}, expected {dims}.")
    groups = {"recording": RECORDING_VARIABLES, "tau selection": TAU_SELECTION_VARIABLES,
              "teacher comparison": TEACHER_COMPARISON_VARIABLES,
              "model selection": MODEL_SELECTION_VARIABLES}
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
