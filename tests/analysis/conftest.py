"""Fixtures shared by the analysis tests."""

from pathlib import Path

import pytest

from brainbias.config import ExperimentConfig
from brainbias.experiment.pipeline import run

TINY = Path(__file__).parents[2] / "analyses" / "configs" / "demo_tiny.toml"


@pytest.fixture(scope="session")
def fitted():
    """The demo's tiny fit (Lorenz + Van der Pol, 32 units, 20 iterations); tests that change
    it work on ``fitted.copy(deep=True)``."""
    return run(ExperimentConfig.from_toml(TINY), progress=False)
