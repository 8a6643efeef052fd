"""
Fitting Lorenz and a limit cycle
================================

One network with **fixed random weights** and two contexts: the biases of one context are
trained to make the network generate the chaotic Lorenz-63 attractor in closed loop, those of
the other the Van der Pol limit cycle. Nothing else is trained: the recurrent, feedback and
readout weights are drawn once and kept.

This is ``make demo`` (``analyses/configs/demo.toml``) at the sizes CI smoke-runs
(``analyses/configs/demo_tiny.toml``: 32 units, 20 iterations), so the fit is poor; run the
same code with ``demo.toml`` for the real thing.
"""

# %%
# The configuration
# -----------------
# A run is described by one TOML file, read into a frozen, validated
# :class:`~brainbias.config.ExperimentConfig` (every key is in the
# :ref:`configuration reference <config-reference>`).
import tempfile
from pathlib import Path

import jax

import brainbias as bb
from brainbias import plotting
from brainbias.experiment.pipeline import summary_table

jax.config.update("jax_enable_x64", True)  # as the ``brainbias`` command does

CONFIGS = Path("../../analyses/configs")
print((CONFIGS / "demo_tiny.toml").read_text())
config = bb.ExperimentConfig.from_toml(CONFIGS / "demo_tiny.toml")
print(config.network.n_units, config.training.mode, [t["name"] for t in config.targets])

# %%
# Fit
# ---
# :func:`brainbias.run` builds the targets and the network, fits the biases and evaluates
# each context free-running on the held-out end of its target. It returns the results as an
# :class:`xarray.Dataset` (see :ref:`the results schema <results-schema>`) and, with
# ``out_dir``, writes it as ``run.nc`` beside a checkpoint and the figures.
# (The third tutorial analyses this run: it looks for it in this folder.)
out = Path(tempfile.gettempdir()) / "brainbias-tutorials" / "demo_tiny"
ds = bb.run(config, out_dir=out, force=True, progress=False, figures=False)
print(summary_table(ds))

# %%
# The results file holds everything needed to rebuild the network: the fixed weights, the
# trained biases (one row per context) and the config.
print(ds["bias"].dims, ds["bias"].shape)
print(ds["recurrent_weights"].dims, ds["recurrent_weights"].shape)
again = bb.load(out / "run.nc")
print("contexts:", [str(c) for c in again["context"].values])

# %%
# Target and free-running output
# ------------------------------
# After a teacher-forced warm-up the network runs on its own output. The dotted line marks
# where its error passes the valid-prediction threshold.
plotting.plot_trajectories(ds, "lorenz")

# %%
plotting.plot_trajectories(ds, "van_der_pol")

# %%
# The attractors in state space, and the training loss of both contexts.
plotting.plot_attractor(ds, "lorenz")

# %%
plotting.plot_loss(ds)
