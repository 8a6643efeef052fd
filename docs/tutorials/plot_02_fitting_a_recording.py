"""
Fitting a recording
===================

The conditions of a spike recording become the contexts: one bias and one initial state per
condition, the same fixed random network for all. The data here are
``datasets/ground_truth.nwb``, Poisson spikes of a *known* teacher network (100 neurons,
4 conditions, 20 trials each), read with Neo and binned and smoothed with Elephant.

The configuration is ``analyses/configs/recording_tiny.toml`` (two conditions, a 0.3 s
window, 32 units, 20 iterations); ``recording_demo.toml`` is the full run of
:doc:`../recordings`.
"""

# %%
import tempfile
from pathlib import Path

import jax

import brainbias as bb
from brainbias import plotting
from brainbias.experiment.pipeline import summary_table

jax.config.update("jax_enable_x64", True)

CONFIG = Path("../../analyses/configs/recording_tiny.toml")
print(CONFIG.read_text())
# a relative [recording] path is resolved against the config file's folder
config = bb.ExperimentConfig.from_toml(CONFIG)

# %%
# Fit and evaluate
# ----------------
# The fit sees only the training trials' PSTHs of the held-in neurons. It is judged on
# held-out trials (PSTH R², pVar) and held-out neurons (co-smoothing bits per spike), each
# beside the smoothed-PSTH baseline.
out = Path(tempfile.mkdtemp(prefix="brainbias-tutorial-"))
ds = bb.run(config, out_dir=out, progress=False, figures=False)
print(summary_table(ds))

# %%
# A recording run carries the recording variables of the schema (``psth_data``,
# ``psth_model``, the split of trials and neurons, the scores).
print({name: ds[name].dims for name in ("psth_data", "psth_model", "neuron_held_out")})

# %%
# PSTHs
# -----
# Held-in and held-out neurons of one condition: data (held-out trials), the model and the
# baseline.
plotting.plot_recording_psths(ds, "limit_cycle")

# %%
# The held-out scores per condition, and the network's latent trajectories.
plotting.plot_heldout_metrics(ds)

# %%
plotting.plot_latents_pca(ds)
