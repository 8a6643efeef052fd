"""The A(v, u) v + c(v, u) view of LTC networks: along a trajectory, at fixed points (a case
where A alone is stable and the true Jacobian is not), and inside `analyze_run`."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainbias import ConfigError
from brainbias.analysis.conductance import coefficient_trajectory, fixed_point_coefficients
from brainbias.analysis.report import analysis_summary, analyze_run
from brainbias.config import ExperimentConfig
from brainbias.experiment.pipeline import run
from brainbias.models import make_network, simulate
from brainbias.models.ltc import LTCConfig, LTCNetwork, field, make_ltc_network

TINY = Path(__file__).parents[2] / "analyses" / "configs" / "ltc_tiny.toml"


def _self_exciting(bias):
    """One unit with a steep excitatory autapse: w = 10, γ = 20, μ = 0.5, E = 1, g = 1."""
    one = lambda x: jnp.full((1, 1), x)  # noqa: E731
    return LTCNetwork(synapse_weight=one(10.0), synapse_gain=one(20.0),
                      synapse_midpoint=one(0.5), synapse_reversal=one(1.0),
                      leak_conductance=jnp.ones(1), leak_reversal=jnp.zeros(1),
                      input_weights=jnp.zeros((1, 0)), feedback_weights=jnp.zeros((1, 1)),
                      readout_weights=jnp.zeros((1, 1)), dt=0.01, tau=1.0).validate()


def test_frozen_coefficients_miss_an_instability_the_jacobian_finds():
    # bias -2 puts a fixed point at v = 0.5, the synapse's midpoint:
    # field = -0.5 - 10 * 0.5 * (0.5 - 1) - 2 = 0
    net = _self_exciting(None)
    bias = jnp.array([-2.0])
    v = jnp.array([0.5])
    np.testing.assert_allclose(field(net, v, bias), 0.0, atol=1e-12)
    fp = fixed_point_coefficients(net, v[None], bias)
    # A = -(1 + 10 * 0.5) = -6; Jacobian = -6 + 10 * 20 * 0.25 * (1 - 0.5) = 19
    np.testing.assert_allclose(fp["frozen_max_real"].values, [-6.0], rtol=1e-12)
    np.testing.assert_allclose(fp["jacobian_max_real"].values, [19.0], rtol=1e-12)


def test_trajectory_coefficients_rebuild_the_field():
    net = make_ltc_network(12, n_outputs=2, config=LTCConfig(), dt=0.05, tau=0.5,
                           key=jax.random.PRNGKey(0))
    bias = jax.random.normal(jax.random.PRNGKey(1), (12,)) * 0.5
    states, _ = simulate(net, bias, jnp.zeros(12), mode="closed_loop", n_steps=50)
    mask = np.array([1.0, 0.0])
    co = coefficient_trajectory(net, states, bias, closed_loop=True, output_mask=mask)
    current = bias + (states @ net.readout_weights.T * mask) @ net.feedback_weights.T
    want = jax.vmap(lambda v, i: field(net, v, i))(states, current)
    got = -states / co["liquid_time_constant"].values + co["drive"].values
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    # at a point, the closed-loop Jacobian's spectrum (feedback F C included) from autodiff
    x = states[-1]
    fc = net.feedback_weights @ (mask[:, None] * net.readout_weights)
    jac = jax.jacfwd(lambda v: field(net, v, bias + fc @ v))(x)
    fp = fixed_point_coefficients(net, x[None], bias, closed_loop=True, output_mask=mask)
    np.testing.assert_allclose(fp["jacobian_max_real"].values[0],
                               np.max(np.linalg.eigvals(np.asarray(jac)).real), rtol=1e-10)


def test_the_view_refuses_other_families():
    net = make_network(5, key=jax.random.PRNGKey(0))
    with pytest.raises(ConfigError, match="LTC"):
        coefficient_trajectory(net, jnp.zeros((3, 5)), jnp.zeros(5))


def test_analyze_run_of_an_ltc_fit_reports_fixed_points_and_the_view():
    ds = run(ExperimentConfig.from_toml(TINY), progress=False)
    assert ds.attrs["model"] == "ltc" and ds.attrs["solver"] == "fused"
    an = analyze_run(ds, key=jax.random.PRNGKey(0), n_starts=16, lyapunov_steps=300,
                     census_starts=8, long_run_time=0.0, progress=False)
    assert an.sizes["fixed_point"] >= 1
    # every fixed point of this contracting tiny network: A stable and the Jacobian too, and
    # the Jacobian's verdict agrees with the linearisation of the map
    assert np.all(an["ltc_frozen_max_real"].values < 0)
    stable_true = an["ltc_jacobian_max_real"].values < 0
    np.testing.assert_array_equal(stable_true, an["fixed_point_stable_map"].values == 1)
    tau = an["ltc_liquid_time_constant"]
    assert tau.dims == ("context", "time", "unit") and float(tau.min()) > 0
    # the liquid time constant is below the membrane's (conductances only add)
    assert float(tau.max()) < float(ds.attrs["tau"])
    assert "LTC view" in analysis_summary(an)
