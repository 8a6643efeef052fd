"""Dynamics analysis: fixed points, linearisation, PCA, comparison and attractor metrics.

Functions here receive step functions and arrays (or results Datasets), never a trainer.
"""

from .attractor_metrics import (
    attractor_report,
    lyapunov_exponent,
    lyapunov_exponent_ode,
    power_spectrum_distance,
    state_space_divergence,
    valid_prediction_time,
)
from .census import census, census_summary
from .compare import cca_similarity, compare_dynamics, dsa_distance, procrustes_distance
from .fixed_points import find_fixed_points, speed
from .linearisation import active_units, linearise
from .pca import fit_pca, participation_ratio, principal_angles, project

__all__ = [
    "attractor_report",
    "lyapunov_exponent",
    "lyapunov_exponent_ode",
    "power_spectrum_distance",
    "state_space_divergence",
    "valid_prediction_time",
    "census",
    "census_summary",
    "cca_similarity",
    "compare_dynamics",
    "dsa_distance",
    "procrustes_distance",
    "fit_pca",
    "participation_ratio",
    "principal_angles",
    "project",
    "find_fixed_points",
    "speed",
    "linearise",
    "active_units",
]
