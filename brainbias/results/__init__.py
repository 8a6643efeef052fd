"""The results schema: every dimension, variable and attribute name of a run, in one place.

A run is an :class:`xarray.Dataset` holding what is needed to rebuild and re-simulate the trained
network (its model family and all its fixed parameters, biases, initial states, config, seed,
versions) plus the target, the free-running prediction, unit rates, loss history and
per-context metrics. It is saved as NetCDF (h5netcdf engine; never pickle). :func:`load`
validates and refuses unknown schema versions.

Modules: ``schema`` (every name, :func:`validate`), ``io`` (:func:`save`, :func:`load`),
``assemble`` (:func:`make_dataset` and the optional groups), ``rebuild`` (network and
controller from a Dataset).
"""

from .assemble import (
    make_dataset,
    with_model_selection,
    with_tau_selection,
    with_teacher_comparison,
)
from .io import config_of, load, prepare_output, save, select_context, write_netcdf
from .rebuild import controller_from_dataset, network_from_dataset
from .schema import (
    ANALYSIS_DIMS,
    DIMS,
    METRICS,
    MODEL_ATTRS,
    MODEL_SELECTION_VARIABLES,
    MODEL_VARIABLES,
    OPTIONAL_VARIABLES,
    RECORDING_VARIABLES,
    REQUIRED_ATTRS,
    SCHEMA_VERSION,
    SPARSE_VARIABLES,
    TAU_SELECTION_VARIABLES,
    TEACHER_COMPARISON_VARIABLES,
    VARIABLES,
    is_recording_run,
    model_family,
    package_versions,
    validate,
)

__all__ = [
    "ANALYSIS_DIMS",
    "OPTIONAL_VARIABLES",
    "REQUIRED_ATTRS",
    "config_of",
    "make_dataset",
    "prepare_output",
    "write_netcdf",
    "SCHEMA_VERSION",
    "DIMS",
    "VARIABLES",
    "MODEL_VARIABLES",
    "MODEL_ATTRS",
    "SPARSE_VARIABLES",
    "model_family",
    "METRICS",
    "RECORDING_VARIABLES",
    "TAU_SELECTION_VARIABLES",
    "MODEL_SELECTION_VARIABLES",
    "TEACHER_COMPARISON_VARIABLES",
    "is_recording_run",
    "with_tau_selection",
    "with_model_selection",
    "with_teacher_comparison",
    "save",
    "load",
    "validate",
    "network_from_dataset",
    "controller_from_dataset",
    "package_versions",
    "select_context",
]
