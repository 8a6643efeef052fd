"""Every model family through the one protocol: the same generic functions, the same analysis,
Jacobians from JAX equal to finite differences, results files that rebuild the family."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainbias import ConfigError
from brainbias.analysis.fixed_points import find_fixed_points
from brainbias.analysis.linearisation import linearise
from brainbias.models import FAMILIES, Model, autonomous_map, make_model, simulate
from brainbias.models.ltc import LTCConfig

N = 16


def _family(name, **kw):
    options = {"rate": {}, "ltc": {"config": LTCConfig()}}[name]
    return make_model(name, N, options=options, n_outputs=2, dt=0.05, tau=0.25,
                      key=jax.random.PRNGKey(3), **kw)


@pytest.fixture(params=sorted(FAMILIES))
def network(request):
    return _family(request.param)


def test_every_family_implements_the_protocol(network):
    assert isinstance(network, Model)
    assert network.family in FAMILIES and FAMILIES[network.family] is type(network)
    assert network.n_units == N and network.n_outputs == 2
    states, outputs = simulate(network, jnp.zeros(N), jnp.zeros(N), n_steps=7)
    assert states.shape == (7, N) and outputs.shape == (7, 2)
    np.testing.assert_allclose(outputs, network.rates(states) @ network.readout_weights.T)


def test_map_jacobian_from_jax_equals_finite_differences(network):
    bias = jax.random.normal(jax.random.PRNGKey(1), (N,)) * 0.3
    for closed in (False, True):
        f = autonomous_map(network, bias, closed_loop=closed)
        x = jax.random.normal(jax.random.PRNGKey(2), (N,)) * 0.4
        jac = np.asarray(jax.jacfwd(f)(x))
        eps = 1e-6
        fd = np.stack([(f(x.at[k].add(eps)) - f(x.at[k].add(-eps))) / (2 * eps)
                       for k in range(N)], axis=1)
        np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8)


def test_the_same_fixed_point_analysis_runs_on_each_family(network):
    bias = jax.random.normal(jax.random.PRNGKey(4), (N,)) * 0.5
    f = autonomous_map(network, bias)
    states, _ = simulate(network, bias, jax.random.normal(jax.random.PRNGKey(5), (N,)),
                         n_steps=400)
    fps = find_fixed_points(f, states, key=jax.random.PRNGKey(6), n_starts=16, dt=network.dt)
    assert fps.sizes["fixed_point"] >= 1
    x = jnp.asarray(fps["state"].values[0])
    np.testing.assert_allclose(f(x), x, atol=1e-9)
    lin = linearise(f, fps["state"].values[:1], dt=network.dt)
    # the trajectory settled, so the point it settled on is stable
    np.testing.assert_allclose(states[-1], x, atol=1e-5)
    assert str(lin["stability_map"].values[0]) == "stable"
    assert str(lin["stability_field"].values[0]) == "stable"


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"network.model.*'ltc'"):
        make_model("ltcc", 4, n_outputs=1, key=jax.random.PRNGKey(0))
