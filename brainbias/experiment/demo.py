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
        "tau": 0.1,  # leak dt/tau = 0.2: REFERENCES §5, a ≤ 0.2 is what works for Lorenz
        "nonlinearity": "tanh",
        "form": "continuous",
        "connectivity": {"kind": "gaussian", "gain": 1.2},
    },
    "training": {
        "mode": "bias",
        "run_mode": "closed_loop",
        "n_iterations": 3000,
        "learning_rate": 0.01,
        "batch_size": 16,
        "window": 100,
        "washout": 50,
    },
    "evaluation": {"washout": 50, "horizon": 100},
    "targets": [
        {"kind": "lorenz", "name": "lorenz", "n_steps": 10000, "dt": 0.02},
        {"kind": "van_der_pol", "name": "van_der_pol", "mu": 1.5, "n_steps": 10000, "dt": 0.02},
    ],
}

DEMO_CONFIG: ExperimentConfig = from_dict(ExperimentConfig, DEMO_DICT, where="demo")
