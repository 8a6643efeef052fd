"""The demo experiment: ONE fixed random network, two contexts (Lorenz, a limit cycle), biases only.

``DEMO_CONFIG`` is the single definition; ``analyses/configs/demo.toml`` is its TOML twin (a test
keeps them equal). Budget: well under 5 minutes on a 2-core CPU including analysis.
"""

from __future__ import annotations

from ..config import ExperimentConfig, from_dict

__all__ = ["DEMO_CONFIG", "DEMO_DICT"]

DEMO_DICT = {
    "seed": 0,
    "network": {
        "n_units": 300,
        # the regime measured for bias-only Lorenz (docs/lorenz.md): leak dt/tau = 0.4, gain
        # below the edge of chaos, weak feedback, a large fixed readout
        "tau": 0.05,
        "nonlinearity": "tanh",
        "form": "continuous",
        "feedback_scale": 0.3,
        "readout_scale": 6.0,
        "connectivity": {"kind": "gaussian", "gain": 0.9},
    },
    "training": {
        "mode": "bias",
        "run_mode": "closed_loop",
        "n_iterations": 6000,
        "learning_rate": 0.03,
        "batch_size": 16,
        "window": 100,
        "washout": 50,
        # adaptive generalised teacher forcing (Hess et al. 2023) with full forcing every 50
        # steps and a noisy teacher; the model kept is the one that free-runs best on a
        # validation segment, not the last one
        "teacher_forcing": "adaptive",
        "teacher_forcing_end": 0.05,
        "sparse_forcing_interval": 50,
        "teacher_noise": 0.05,
        "select_every": 500,
    },
    "evaluation": {"washout": 200, "horizon": 100},
    "targets": [
        {"kind": "lorenz", "name": "lorenz", "n_steps": 10000, "dt": 0.02},
        {"kind": "van_der_pol", "name": "van_der_pol", "mu": 1.5, "n_steps": 10000, "dt": 0.02},
    ],
}

DEMO_CONFIG: ExperimentConfig = from_dict(ExperimentConfig, DEMO_DICT, where="demo")
