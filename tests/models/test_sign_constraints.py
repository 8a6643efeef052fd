"""Sign constraints and their limits (Wang et al. 2023, "Why do networks have
inhibitory/negative connections?").

With every weight ≥ 0 and non-decreasing activations, a network computes an order-preserving map
(x ≤ y ⇒ f(x) ≤ f(y)) whatever its biases. Consequences tested here: no XOR beyond 3 of 4 points
(bias-only or full training under a non-negativity projection), and escape hatches (one negative
readout weight, inverted input copies) that lift the limit; and the recurrent case, a
non-negative rate network's output after a constant input is non-decreasing in that input.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brainbias import ConfigError
from brainbias.models.base import simulate
from brainbias.models.feedforward import (
    Feedforward,
    activations,
    forward,
    init_biases,
    is_nonnegative,
    make_feedforward,
    project_nonnegative,
)
from brainbias.models.rate import Network
from brainbias.training import feedforward as ff_training
from brainbias.training.feedforward import fit_feedforward

MONOTONE = ("tanh", "relu", "sigmoid", "softplus")
# float64 rounding of W(x + d) against W x: a few ulps of the values involved
ROUNDING = 1e-12

XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_LABELS = np.array([0.0, 1.0, 1.0, 0.0])
# The least binary cross-entropy of ANY order-preserving classifier on XOR: isotonic regression
# gives p(0,0) = 0 and p = 2/3 on the upper set {(0,1), (1,0), (1,1)} (labels 1, 1, 0), so
# BCE = (2 ln(3/2) + ln 3) / 4.
MONOTONE_XOR_BCE = (2 * math.log(1.5) + math.log(3.0)) / 4


def _pairs(rng, n_pairs, n_inputs):
    """Random x and y = x + d with d ≥ 0 at mixed scales, some components exactly 0."""
    x = rng.normal(0.0, 2.0, (n_pairs, n_inputs))
    scale = rng.choice([1e-3, 0.1, 1.0, 10.0], size=(n_pairs, 1))
    d = rng.exponential(1.0, (n_pairs, n_inputs)) * scale * (rng.random((n_pairs, n_inputs)) > 0.3)
    return x, x + d


def _worst_violation(net, biases, x, y):
    """max over pairs and outputs of f(x) − f(y), relative to the size of the outputs."""
    fx, fy = np.asarray(forward(net, biases, x)), np.asarray(forward(net, biases, y))
    return float(np.max((fx - fy) / (1.0 + np.abs(fx) + np.abs(fy))))


def _one_context(biases, c=0):
    return tuple(b[c] for b in biases)


# few distinct sizes: every new shape costs JAX a compilation, random values cost nothing
@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    hidden=st.lists(st.sampled_from((1, 5, 12)), min_size=1, max_size=3),
    n_inputs=st.sampled_from((1, 3)),
    n_outputs=st.sampled_from((1, 2)),
    activation=st.sampled_from(MONOTONE),
    output_activation=st.sampled_from(("identity",) + MONOTONE),
    gain=st.floats(0.1, 5.0),
    bias_scale=st.floats(0.0, 5.0),
)
def test_nonnegative_network_is_order_preserving_for_random_biases(
        seed, hidden, n_inputs, n_outputs, activation, output_activation, gain, bias_scale):
    key = jax.random.PRNGKey(seed)
    net = make_feedforward((n_inputs, *hidden, n_outputs), weights="nonnegative", gain=gain,
                           nonlinearity=activation, output_nonlinearity=output_activation,
                           key=key)
    biases = init_biases(net, scale=bias_scale, key=jax.random.fold_in(key, 1))
    x, y = _pairs(np.random.default_rng(seed), 64, n_inputs)
    assert _worst_violation(net, _one_context(biases), x, y) <= ROUNDING


@pytest.mark.parametrize("activation", MONOTONE)
def test_gaussian_network_is_not_order_preserving(activation):
    # the counter-test: the same check fails without the sign constraint (so it can fail)
    rng = np.random.default_rng(0)
    violated = 0
    for seed in range(5):
        net = make_feedforward((3, 8, 8, 2), weights="gaussian", gain=2.0,
                               nonlinearity=activation, key=jax.random.PRNGKey(seed))
        biases = init_biases(net, scale=1.0, key=jax.random.PRNGKey(100 + seed))
        x, y = _pairs(rng, 64, 3)
        violated += _worst_violation(net, _one_context(biases), x, y) > 1e-3
    assert violated == 5


@pytest.mark.parametrize("activation", MONOTONE)
def test_order_preserved_with_biases_trained_on_a_non_monotone_task(activation):
    # two contexts trained towards decreasing / oscillating targets: the biases do their best,
    # the map stays order-preserving in every context
    net = make_feedforward((2, 16, 16, 2), weights="nonnegative", gain=1.5,
                           nonlinearity=activation, key=jax.random.PRNGKey(3))
    rng = np.random.default_rng(3)
    inputs = rng.uniform(-1.0, 1.0, (2, 32, 2))
    targets = np.stack([-inputs[0], np.sin(4 * inputs[1])])
    start = init_biases(net, 2)
    fit = fit_feedforward(net, start, inputs, targets, n_steps=300, learning_rate=0.05)
    assert fit.losses[-1] < fit.losses[0]  # training did move the biases
    assert not np.allclose(np.asarray(fit.biases[0]), np.asarray(start[0]))
    x, y = _pairs(rng, 256, 2)
    for c in range(2):
        assert _worst_violation(net, _one_context(fit.biases, c), x, y) <= ROUNDING


def _xor_fit(net, inputs, *, trainable="bias", constraint=None, n_steps=2000):
    """Bias-centred start (no unit saturated at the mean input), binary cross-entropy, Adam."""
    biases = init_biases(net, centre=inputs.mean(axis=0))
    fit = fit_feedforward(net, biases, inputs[None], XOR_LABELS[None, :, None],
                          loss="binary_cross_entropy", trainable=trainable,
                          constraint=constraint, n_steps=n_steps, learning_rate=0.05)
    logits = np.asarray(forward(fit.network, _one_context(fit.biases), inputs))[:, 0]
    return fit, float(np.mean((logits > 0) == (XOR_LABELS > 0.5)))


def _xor_net(seed, n_inputs=2, weights="nonnegative"):
    return make_feedforward((n_inputs, 16, 1), weights=weights, gain=4.0,
                            key=jax.random.PRNGKey(seed))


@pytest.mark.parametrize("seed", range(3))
def test_xor_bias_only_nonnegative_reaches_three_quarters_and_no_more(seed):
    fit, accuracy = _xor_fit(_xor_net(seed), XOR_INPUTS)
    assert accuracy == 0.75  # ≤ 3/4 is the theorem; = 3/4 says it learned what is learnable
    # no order-preserving classifier has a lower loss (tolerance: rounding only)
    assert float(np.min(fit.losses)) >= MONOTONE_XOR_BCE - 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_xor_full_training_under_projection_stays_at_three_quarters(seed):
    net = _xor_net(seed)
    fit, accuracy = _xor_fit(net, XOR_INPUTS, trainable="all", constraint="nonnegative")
    assert accuracy == 0.75
    assert is_nonnegative(fit.network)
    assert not np.allclose(np.asarray(fit.network.weights[0]), np.asarray(net.weights[0]))
    assert float(np.min(fit.losses)) >= MONOTONE_XOR_BCE - 1e-9
    # the weights are free: training reaches the optimum of the monotone class (within 1e-3)
    assert float(fit.losses[-1]) < MONOTONE_XOR_BCE + 1e-3


def test_xor_full_training_without_projection_leaves_the_orthant_and_solves_it():
    # counter-test: the projection is what holds the limit
    fit, accuracy = _xor_fit(_xor_net(0), XOR_INPUTS, trainable="all")
    assert accuracy == 1.0
    assert not is_nonnegative(fit.network)


@pytest.mark.parametrize("seed", range(3))
def test_xor_one_negative_readout_weight_lifts_the_limit(seed):
    net = _xor_net(seed)
    w_in, w_out = net.weights
    # the hidden unit that sees both inputs most strongly can act as the AND detector
    j = int(np.argmax(np.min(np.asarray(w_in), axis=1)))
    w_out = w_out.at[0, j].set(-0.5 * float(jnp.sum(w_out)))
    net = dataclasses.replace(net, weights=(w_in, w_out))
    assert int(np.sum(np.asarray(w_out) < 0)) == 1
    _, accuracy = _xor_fit(net, XOR_INPUTS)
    assert accuracy == 1.0


@pytest.mark.parametrize("seed", range(3))
def test_xor_inverted_input_copies_lift_the_limit(seed):
    inputs = np.concatenate([XOR_INPUTS, 1.0 - XOR_INPUTS], axis=1)  # (x, 1 − x)
    net = _xor_net(seed, n_inputs=4)
    fit, accuracy = _xor_fit(net, inputs)
    assert is_nonnegative(fit.network)
    assert accuracy == 1.0


def test_gaussian_bias_only_solves_xor():
    _, accuracy = _xor_fit(_xor_net(0, weights="gaussian"), XOR_INPUTS)
    assert accuracy == 1.0


def test_second_fit_with_same_shapes_does_not_recompile():
    net = _xor_net(0)
    _xor_fit(net, XOR_INPUTS, n_steps=10)
    before = ff_training._TRACE_COUNT["fit_feedforward"]
    _xor_fit(_xor_net(1), XOR_INPUTS, n_steps=10)
    assert ff_training._TRACE_COUNT["fit_feedforward"] == before


def test_projection_is_the_euclidean_projection():
    net = make_feedforward((3, 5, 2), key=jax.random.PRNGKey(0))
    projected = project_nonnegative(net)
    for w, p in zip(net.weights, projected.weights, strict=True):
        w, p = np.asarray(w), np.asarray(p)
        np.testing.assert_array_equal(p, np.where(w > 0, w, 0.0))
    assert is_nonnegative(projected) and not is_nonnegative(net)
    again = project_nonnegative(projected)  # a projection is idempotent
    for p, q in zip(projected.weights, again.weights, strict=True):
        np.testing.assert_array_equal(p, q)


def test_forward_matches_explicit_layers():
    net = make_feedforward((3, 4, 5, 2), nonlinearity="tanh", key=jax.random.PRNGKey(1))
    biases = _one_context(init_biases(net, scale=0.5, key=jax.random.PRNGKey(2)))
    x = np.random.default_rng(0).normal(size=(7, 3))
    w1, w2, w3 = (np.asarray(w) for w in net.weights)
    b1, b2, b3 = (np.asarray(b) for b in biases)
    h1 = np.tanh(x @ w1.T + b1)
    h2 = np.tanh(h1 @ w2.T + b2)
    layers = activations(net, biases, x)
    np.testing.assert_allclose(layers[0], h1, rtol=1e-12)
    np.testing.assert_allclose(layers[1], h2, rtol=1e-12)
    np.testing.assert_allclose(forward(net, biases, x), h2 @ w3.T + b3, rtol=1e-12)


def test_vmap_over_contexts_equals_a_loop():
    net = make_feedforward((2, 6, 3), key=jax.random.PRNGKey(4))
    biases = init_biases(net, 4, scale=1.0, key=jax.random.PRNGKey(5))
    x = np.random.default_rng(1).normal(size=(4, 9, 2))
    batched = jax.vmap(forward, in_axes=(None, 0, 0))(net, biases, x)
    for c in range(4):
        np.testing.assert_allclose(batched[c], forward(net, _one_context(biases, c), x[c]),
                                   rtol=1e-12)


def test_bad_input_is_a_clear_error():
    net = _xor_net(0)
    with pytest.raises(ConfigError, match="weights: expected one of"):
        make_feedforward((2, 3, 1), weights="nonnegativ", key=jax.random.PRNGKey(0))
    with pytest.raises(ConfigError, match="at least one hidden"):
        make_feedforward((2, 1), key=jax.random.PRNGKey(0))
    with pytest.raises(ConfigError, match="Did you mean 'mse'"):
        fit_feedforward(net, init_biases(net), XOR_INPUTS[None], XOR_LABELS[None, :, None],
                        loss="mes")
    with pytest.raises(ConfigError, match="targets: expected shape"):
        fit_feedforward(net, init_biases(net), XOR_INPUTS[None], XOR_LABELS[None])
    with pytest.raises(ConfigError, match="project_nonnegative"):
        fit_feedforward(_xor_net(0, weights="gaussian"), init_biases(net), XOR_INPUTS[None],
                        XOR_LABELS[None, :, None], constraint="nonnegative")
    with pytest.raises(ConfigError, match="chain"):
        Feedforward(weights=(jnp.ones((3, 2)), jnp.ones((1, 4)))).validate()


# ---- the recurrent case --------------------------------------------------------------------


def _rate_network(seed, *, nonnegative, form, n_units=30):
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0 / math.sqrt(n_units), (n_units, n_units))
    b_in, c = rng.normal(size=(n_units, 1)), rng.normal(size=(1, n_units)) / math.sqrt(n_units)
    if nonnegative:
        w, b_in, c = np.abs(w), np.abs(b_in), np.abs(c)
        w *= 0.9 / np.max(np.abs(np.linalg.eigvals(w)))  # settles: spectral radius < 1
    return Network(recurrent_weights=jnp.asarray(w), input_weights=jnp.asarray(b_in),
                   feedback_weights=jnp.zeros((n_units, 1)), readout_weights=jnp.asarray(c),
                   dt=0.2, tau=1.0, form=form).validate()


def _settled_output(net, bias, u_values, n_steps=150):
    def one(u):
        inputs = jnp.full((n_steps, 1), u)
        _, outputs = simulate(net, bias, jnp.zeros(net.n_units), mode="driven", inputs=inputs)
        return outputs[-1, 0]

    return np.asarray(jax.vmap(one)(jnp.asarray(u_values)))


@pytest.mark.parametrize("form", ["continuous", "discrete"])
def test_nonnegative_rate_network_output_is_monotone_in_a_constant_input(form):
    # each step x ← (1 − a) x + a (W φ(x) + B u + b) is order-preserving in (x, u) when W, B ≥ 0
    # and a ≤ 1, so by induction x_T, and y_T = C φ(x_T) with C ≥ 0, are non-decreasing in u
    u = np.linspace(-1.0, 1.0, 41)
    rng = np.random.default_rng(7)
    for seed in range(3):
        net = _rate_network(seed, nonnegative=True, form=form)
        for scale in (0.0, 1.0, 3.0):
            y = _settled_output(net, jnp.asarray(rng.normal(0.0, scale, net.n_units)), u)
            assert np.min(np.diff(y)) >= -ROUNDING * (1 + np.max(np.abs(y)))


def test_gaussian_rate_network_output_is_not_monotone():
    # counter-test: with mixed-sign weights the same readout is non-monotone in u
    u = np.linspace(-1.0, 1.0, 41)
    bias = jnp.asarray(np.random.default_rng(0).normal(0.0, 1.0, 30))
    y = _settled_output(_rate_network(0, nonnegative=False, form="continuous"), bias, u)
    assert np.max(np.diff(y)) > 1e-3 and np.min(np.diff(y)) < -1e-3
