"""
Reading the analysis report
===========================

``brainbias analyze RUN.nc`` (and the end of ``make demo``) calls
:func:`brainbias.analysis.report.analyze_run`: per context an attractor census (long free runs
from many states, every end accounted for), the fixed points and their linearisation, one PCA
basis shared by the contexts, a comparison of the contexts, and attractor metrics against the
target. Everything is computed from the results file alone.

Here on the tiny Lorenz + Van der Pol run of the first tutorial, with few starts
(``n_starts``, ``census_starts``) and without the long chaotic free runs
(``long_run_time=0``) so that it takes seconds.
"""

# %%
import tempfile
from pathlib import Path

import jax

import brainbias as bb
from brainbias import plotting
from brainbias.analysis.report import analysis_summary, analyze_run

jax.config.update("jax_enable_x64", True)

# The run of the first tutorial, or the same fit again if it is not there.
out = Path(tempfile.gettempdir()) / "brainbias-tutorials" / "demo_tiny"
if not (out / "run.nc").exists():
    config = bb.ExperimentConfig.from_toml("../../analyses/configs/demo_tiny.toml")
    bb.run(config, out_dir=out, force=True, progress=False, figures=False)
ds = bb.load(out / "run.nc")

an = analyze_run(ds, key=jax.random.PRNGKey(0), n_starts=8, census_starts=8,
                 lyapunov_steps=500, long_run_time=0, progress=False)

# %%
# The printed report
# ------------------
# One row per context: how many fixed points (``q`` below the tolerance) and slow points were
# found and how many are stable, the range of the leading eigenvalue moduli of the map at the
# fixed points, the largest Lyapunov exponent of the network and of the target, and the
# attractor distances of the free run from the target (state-space divergence ``D_stsp`` and
# power-spectrum distance ``D_H``) with their noise floors (an independent segment of the same
# target scores the floor). Then the pairwise comparison of the contexts, the census and the
# fixed points by kind.
print(analysis_summary(an))

# %%
# The analysis Dataset
# --------------------
# The same numbers as labelled arrays: fixed points along ``fixed_point`` (with their
# context as a coordinate), principal components along ``component``, pairwise comparisons
# along ``(context, other_context)``.
fixed_point_variables = [v for v in an.data_vars if an[v].dims[:1] == ("fixed_point",)]
print(fixed_point_variables)
print(an["fixed_point_context"].values, an["fixed_point_classification"].values)
print(an["procrustes_distance"].to_pandas())

# %%
# Figures
# -------
# Fixed points and the free-running trajectories in the shared PCA basis, the eigenvalue
# spectra of the map at the fixed points (the unit circle is the stability boundary), and the
# phase portraits of the census.
plotting.plot_fixed_points_pca(an)

# %%
plotting.plot_eigenvalue_spectra(an)

# %%
plotting.plot_phase_portraits(an)
