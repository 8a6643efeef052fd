"""
The Lorenz study
================

``analyses/lorenz_attractor`` asks how well bias-only control reproduces the Lorenz-63
attractor in closed loop, next to baselines that train more (a ridge readout, bias + readout,
all weights), over several network seeds. Each fit is scored free-running against
independent reference trajectories of the true system: state-space divergence ``D_stsp``,
power-spectrum distance ``D_H``, valid prediction time in Lyapunov times, and the network's
own largest Lyapunov exponent (Lorenz-63: 0.906). :doc:`../lorenz` has the measured table.

Here the study driver runs on its tiny config (``config_tiny.toml``: one seed, 24 units,
20 iterations, bias-only and the ridge readout), as CI smoke-runs it. The numbers are those of
untrained networks; ``config.toml`` gives the real ones.
"""

# %%
import importlib.util
import sys
import tempfile
from pathlib import Path

STUDY = Path("../../analyses/lorenz_attractor").resolve()
# The study's run.py is loaded under its own name: every study has a run.py, and the
# tutorials share one interpreter.
sys.path.insert(0, str(STUDY))
_spec = importlib.util.spec_from_file_location("lorenz_attractor_run", STUDY / "run.py")
lorenz_study = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lorenz_study)

print((STUDY / "config_tiny.toml").read_text())

# %%
# Run the study
# -------------
# ``run.py CONFIG --out OUT`` fits every (variant, seed) of the config, writes one JSON line per
# fit to ``OUT/results.jsonl``, the table of mean ± sd over seeds to ``OUT/table.md`` and one
# attractor figure per fit: the reference attractor against the network's free run, their
# power spectra, the forecast errors from held-out starts and the marginals. The figures the
# study drew appear below the table.
out = Path(tempfile.mkdtemp(prefix="brainbias-tutorial-"))
lorenz_study.main([str(STUDY / "config_tiny.toml"), "--out", str(out)])
print(sorted(p.name for p in out.iterdir()))
