"""Figures (matplotlib imported lazily, inside each function; Agg when headless).

===============  ==============================================================================
``runs``         a fitted run: trajectories, loss, attractors and their comparison
``analysis``     an analysis: fixed points in PCA space, spectra, phase portraits, the LTC
                 coefficients along a trajectory
``recordings``   a run fitted to a recording: PSTHs, held-out scores, latents
===============  ==============================================================================
"""

from .analysis import (
    plot_eigenvalue_spectra,
    plot_fixed_points_pca,
    plot_ltc_coefficients,
    plot_phase_portraits,
    save_analysis_figures,
)
from .recordings import (
    plot_heldout_metrics,
    plot_latents_pca,
    plot_recording_psths,
    save_recording_figures,
)
from .runs import (
    plot_attractor,
    plot_attractor_comparison,
    plot_loss,
    plot_trajectories,
    save_run_figures,
)

__all__ = ["plot_trajectories", "plot_loss", "plot_attractor", "plot_attractor_comparison",
           "save_run_figures", "plot_fixed_points_pca", "plot_eigenvalue_spectra",
           "plot_phase_portraits", "plot_ltc_coefficients", "save_analysis_figures",
           "plot_recording_psths", "plot_heldout_metrics", "plot_latents_pca",
           "save_recording_figures"]
