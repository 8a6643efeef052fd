"""The step map against closed forms, and simulation properties."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainbias import ConfigError, ConnectivityConfig, Network, make_network, simulate
from brainbias.models.base import autonomous_map, step, vector_field

KEY = jax.random.PRNGKey(0)


def linear_net(n=20, gain=0.5, dt=0.1, tau=1.0, n_outputs=2, n_inputs=0, form="continuous"):
    return make_network(n, n_outputs=n_outputs, n_inputs=n_inputs, dt=dt, tau=tau,
                        nonlinearity="identity", form=form,
                        connectivity=ConnectivityConfig(gain=gain), key=KEY)


def test_euler_step_matches_closed_form_of_linear_network():
    # identity φ: x_{t+1} = A x_t + a b with A = (1-a) I + a W, so
    # x_T = A^T x0 + (I - A)^{-1} (I - A^T) a b
    net = linear_net()
    n, a, T = net.n_units, net.leak, 50
    w = np.asarray(net.recurrent_weights)
    rng = np.random.default_rng(1)
    b, x0 = rng.normal(size=n), rng.normal(size=n)
    states, _ = simulate(net, jnp.asarray(b), jnp.asarray(x0), n_steps=T)
    A = (1 - a) * np.eye(n) + a * w
    AT = np.linalg.matrix_power(A, T)
    expected = AT @ x0 + np.linalg.solve(np.eye(n) - A, (np.eye(n) - AT) @ (a * b))
    np.testing.assert_allclose(states[-1], expected, rtol=1e-10, atol=1e-12)  # float64 round-off


def test_linear_network_converges_to_analytic_fixed_point():
    # contracting W (g = 0.5): the fixed point solves (I - W) x = b
    net = linear_net(gain=0.5, dt=0.5)
    b = jnp.asarray(np.random.default_rng(2).normal(size=net.n_units))
    states, _ = simulate(net, b, jnp.zeros(net.n_units), n_steps=2000)
    x_star = np.linalg.solve(np.eye(net.n_units) - np.asarray(net.recurrent_weights), b)
    np.testing.assert_allclose(states[-1], x_star, atol=1e-10)  # geometric convergence, 2000 steps


def test_discrete_form_step_by_hand():
    net = make_network(10, n_outputs=1, n_inputs=2, dt=0.3, tau=1.0, form="discrete",
                       nonlinearity="tanh", key=KEY)
    rng = np.random.default_rng(3)
    r, b, u = rng.normal(size=10), rng.normal(size=10), rng.normal(size=2)
    W, B = np.asarray(net.recurrent_weights), np.asarray(net.input_weights)
    expected = 0.7 * r + 0.3 * np.tanh(W @ r + B @ u + b)
    got = step(net, jnp.asarray(r), jnp.asarray(b), inputs=jnp.asarray(u))
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_vmap_over_contexts_equals_python_loop():
    net = make_network(30, n_outputs=2, dt=0.2, tau=1.0, key=KEY)
    biases = jax.random.normal(jax.random.PRNGKey(1), (4, 30))
    x0 = jax.random.normal(jax.random.PRNGKey(2), (4, 30))
    teacher = jax.random.normal(jax.random.PRNGKey(3), (25, 2))

    def run(b, x):
        return simulate(net, b, x, mode="closed_loop", teacher=teacher, teacher_strength=0.5)[1]

    batched = jax.vmap(run)(biases, x0)
    looped = jnp.stack([run(biases[i], x0[i]) for i in range(4)])
    np.testing.assert_allclose(batched, looped, rtol=1e-12)


def test_permuting_units_commutes_with_simulation():
    net = make_network(25, n_outputs=2, n_inputs=1, dt=0.2, tau=1.0, key=KEY)
    perm = np.random.default_rng(4).permutation(25)
    P = lambda a, axis=0: jnp.take(a, perm, axis=axis)  # noqa: E731
    pnet = Network(P(P(net.recurrent_weights), 1), P(net.input_weights), P(net.feedback_weights),
                   P(net.readout_weights, 1), dt=net.dt, tau=net.tau)
    b, x0 = jax.random.normal(KEY, (25,)), jax.random.normal(jax.random.PRNGKey(5), (25,))
    u = jax.random.normal(jax.random.PRNGKey(6), (40, 1))
    s, y = simulate(net, b, x0, mode="closed_loop", inputs=u)
    ps, py = simulate(pnet, P(b), P(x0), mode="closed_loop", inputs=u)
    np.testing.assert_allclose(ps, s[:, perm], rtol=1e-12)
    np.testing.assert_allclose(py, y, rtol=1e-10)


def test_full_teacher_forcing_equals_driving_with_the_teacher():
    net = make_network(20, n_outputs=2, dt=0.2, tau=1.0, key=KEY)
    teacher = jax.random.normal(KEY, (30, 2))
    b, x0 = jnp.zeros(20), jnp.zeros(20)
    s1, _ = simulate(net, b, x0, mode="closed_loop", teacher=teacher, teacher_strength=1.0)
    driven = Network(net.recurrent_weights, net.feedback_weights, net.feedback_weights,
                     net.readout_weights, dt=net.dt, tau=net.tau)
    s2, _ = simulate(driven, b, x0, mode="driven", inputs=teacher)
    np.testing.assert_allclose(s1, s2, rtol=1e-12)


def test_closed_loop_map_uses_effective_weights_w_plus_fc():
    net = linear_net(n_outputs=3)
    x = jax.random.normal(KEY, (net.n_units,))
    b = jnp.ones(net.n_units)
    W_eff = net.recurrent_weights + net.feedback_weights @ net.readout_weights
    expected = (1 - net.leak) * x + net.leak * (W_eff @ x + b)
    np.testing.assert_allclose(autonomous_map(net, b, closed_loop=True)(x), expected, rtol=1e-12)
    f = vector_field(net, b)
    np.testing.assert_allclose(f(x), (-x + net.recurrent_weights @ x + b) / net.tau, rtol=1e-10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(dt=0.0), "dt"),
        (dict(dt=-1.0), "dt"),
        (dict(tau=0.0), "tau"),
        (dict(dt=2.0, tau=1.0), "dt=2.0 > tau=1.0"),
        (dict(nonlinearity="tahn"), "Did you mean 'tanh'"),
        (dict(form="continous"), "Did you mean 'continuous'"),
    ],
)
def test_bad_network_parameters(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_network(5, key=KEY, **kwargs)


def test_bad_simulate_arguments():
    net = make_network(5, n_outputs=1, key=KEY)
    z = jnp.zeros(5)
    with pytest.raises(ConfigError, match="Did you mean 'closed_loop'"):
        simulate(net, z, z, mode="closedloop", n_steps=3)
    with pytest.raises(ConfigError, match="needs `inputs`"):
        simulate(net, z, z, mode="driven", n_steps=3)
    with pytest.raises(ConfigError, match="lengths"):
        simulate(net, z, z, mode="closed_loop", teacher=jnp.zeros((4, 1)), n_steps=3)
