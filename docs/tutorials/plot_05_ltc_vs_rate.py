"""
LTC and rate networks side by side
==================================

brainbias runs every model family through one protocol (:mod:`brainbias.models.base`): the
same controller (one bias vector per context), training, analysis and results. Here the study
``analyses/ltc_vs_rate`` fits the same limit cycle bias-only with a rate network and with a
liquid time-constant (LTC) network with conductance-based synapses
(:mod:`brainbias.models.ltc`), and with a rate network that has as many fixed parameters as the
LTC one. Its tiny config (16 units, 20 iterations) is what CI runs; ``config.toml`` gives the
measured table in :doc:`../ltc_vs_rate`.
"""

# %%
import importlib.util
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

STUDY = Path("../../analyses/ltc_vs_rate").resolve()
# The study's run.py is loaded under its own name: every study has a run.py, and the
# tutorials share one interpreter.
sys.path.insert(0, str(STUDY))
_spec = importlib.util.spec_from_file_location("ltc_vs_rate_run", STUDY / "run.py")
ltc_vs_rate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ltc_vs_rate)

print((STUDY / "config_tiny.toml").read_text())

# %%
# Run the study
# -------------
# Each (variant, target) is one ``brainbias.run``; the results table and the figure of the free
# runs are written to the output folder.
out = Path(tempfile.mkdtemp(prefix="brainbias-tutorial-"))
ltc_vs_rate.main([str(STUDY / "config_tiny.toml"), "--out", str(out), "--no-progress"])

# %%
# The fits, rate and LTC side by side
# -----------------------------------
fig, ax = plt.subplots(figsize=(10, 2.8))
ax.imshow(plt.imread(out / "fits.png"))
ax.set_axis_off()

# %%
# The LTC view of the fitted network
# ----------------------------------
# For an LTC run, ``brainbias analyze`` adds the coefficients of ``dv/dt = A(v,u) v + c(v,u)``:
# the liquid time constants ``−1/A`` along the free run.
import jax  # noqa: E402

from brainbias import results  # noqa: E402
from brainbias.analysis.report import analyze_run  # noqa: E402
from brainbias.plotting import plot_ltc_coefficients  # noqa: E402

ds = results.load(out / "ltc" / "van_der_pol" / "run.nc")
an = analyze_run(ds, key=jax.random.PRNGKey(0), n_starts=16, lyapunov_steps=300,
                 census_starts=8, long_run_time=0.0, progress=False)
plot_ltc_coefficients(an)
