"""Test configuration: float64 everywhere (tolerances below 1e-6 need it), headless matplotlib."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)


@pytest.fixture(autouse=True)
def _x64_stays_on():
    # brainpy 2.8 (brainstate 0.5) switches x64 off when imported directly; every brainpy import
    # must go through brainbias.interop.brainpy.import_brainpy(), which restores it
    yield
    assert jax.config.jax_enable_x64, (
        "JAX x64 was switched off (a direct `import brainpy`/`brainstate`?); use "
        "brainbias.interop.brainpy.import_brainpy()")
