"""Known answers for mask learning and the training partitions of the feedforward family."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainbias._errors import ConfigError
from brainbias.models.feedforward import (
    apply_mask,
    forward,
    init_biases,
    init_mask_scores,
    make_feedforward,
    straight_through_mask,
)
from brainbias.training import feedforward as trf
from brainbias.training.feedforward import fit_feedforward


def _net(sizes=(3, 12, 4), seed=0):
    return make_feedforward(sizes, nonlinearity="relu", gain=1.5, key=jax.random.PRNGKey(seed))


def _data(n_ctx=2, n=20, sizes=(3, 12, 4), seed=1):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    x = jax.random.normal(k1, (n_ctx, n, sizes[0]))
    labels = jax.random.randint(k2, (n_ctx, n), 0, sizes[-1])
    return x, jax.nn.one_hot(labels, sizes[-1])


def _one(tree, c):
    return tuple(b[c] for b in tree)


def test_all_ones_mask_is_the_dense_network():
    net = _net((3, 12, 7, 4))
    x, _ = _data(1, sizes=(3, 12, 7, 4))
    b = _one(init_biases(net, 1, scale=0.3, key=jax.random.PRNGKey(2)), 0)
    ones = tuple(straight_through_mask(s) for s in _one(init_mask_scores(net, 1), 0))
    assert all(np.array_equal(m, np.ones(w.shape)) for m, w in zip(ones, net.weights, strict=True))
    np.testing.assert_array_equal(forward(apply_mask(net, ones), b, x[0]), forward(net, b, x[0]))
    # the mask fit's first loss (before any update) is the dense net's loss
    _, y = _data(1, sizes=(3, 12, 7, 4))
    dense = fit_feedforward(net, init_biases(net, 1), x, y, loss="softmax_cross_entropy",
                            n_steps=1)
    masked = fit_feedforward(net, init_biases(net, 1), x, y, loss="softmax_cross_entropy",
                             n_steps=1, trainable="mask", mask_scores=init_mask_scores(net, 1))
    assert float(masked.losses[0]) == pytest.approx(float(dense.losses[0]), rel=1e-14)


def test_straight_through_gradient_is_weight_times_dense_gradient():
    # ∂L/∂s_ij = ∂L/∂(M⊙W)_ij · W_ij with ∂M/∂s = 1 (identity straight-through estimator)
    net = _net()
    x, y = _data(1)
    b = _one(init_biases(net, 1), 0)
    scores = _one(init_mask_scores(net, 1, value=0.1, scale=0.3, key=jax.random.PRNGKey(3)), 0)

    def loss_scores(s):
        m = tuple(straight_through_mask(v) for v in s)
        return jnp.mean((forward(apply_mask(net, m), b, x[0]) - y[0]) ** 2)

    hard = tuple((s > 0).astype(s.dtype) for s in scores)

    def loss_eff(w_eff):
        n = type(net)(weights=w_eff, nonlinearity=net.nonlinearity)
        return jnp.mean((forward(n, b, x[0]) - y[0]) ** 2)

    g_s = jax.grad(loss_scores)(scores)
    g_w = jax.grad(loss_eff)(tuple(m * w for m, w in zip(hard, net.weights, strict=True)))
    for gs, gw, w in zip(g_s, g_w, net.weights, strict=True):
        np.testing.assert_allclose(gs, gw * w, rtol=1e-12, atol=1e-15)
    assert any(float(np.abs(g).max()) > 1e-6 for g in g_s)


def test_bias_only_leaves_weights_bit_identical_and_has_zero_weight_gradient():
    net = _net()
    x, y = _data()
    fit = fit_feedforward(net, init_biases(net, 2), x, y, loss="softmax_cross_entropy",
                          n_steps=30, learning_rate=0.05)
    for w0, w1 in zip(net.weights, fit.network.weights, strict=True):
        assert np.array_equal(np.asarray(w0), np.asarray(w1))
    assert float(fit.losses[-1]) < float(fit.losses[0])
    assert any(float(np.abs(b).max()) > 1e-3 for b in fit.biases)
    # the partition: the weights are not leaves of what is differentiated
    mask = trf._partition_mask(net, fit.biases, "bias")
    assert mask[0].weights == (False, False) and mask[1] == (True, True)


def test_mask_training_changes_only_the_scores_and_readout_only_the_readout():
    net = _net()
    x, y = _data()
    b0 = init_biases(net, 2, scale=0.2, key=jax.random.PRNGKey(4))
    s0 = init_mask_scores(net, 2, value=0.02, scale=0.02, key=jax.random.PRNGKey(5))
    fit = fit_feedforward(net, b0, x, y, loss="softmax_cross_entropy", n_steps=30,
                          trainable="mask", mask_scores=s0)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, fit.network.weights, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(b0, fit.biases, strict=True))
    flipped = sum(int(np.sum((a > 0) != (b > 0))) for a, b in zip(s0, fit.mask_scores, strict=True))
    assert flipped > 0 and float(fit.losses[-1]) < float(fit.losses[0])
    ro = fit_feedforward(net, b0, x, y, loss="softmax_cross_entropy", n_steps=30,
                         trainable="readout")
    assert np.array_equal(ro.network.weights[0], net.weights[0])
    assert np.array_equal(ro.biases[0], b0[0])
    assert not np.array_equal(ro.network.weights[1], net.weights[1])
    assert not np.array_equal(ro.biases[1], b0[1])


def test_contexts_are_independent():
    net = _net()
    x, y = _data()
    b = init_biases(net, 2, scale=0.3, key=jax.random.PRNGKey(6))
    out = jax.vmap(forward, in_axes=(None, 0, 0))(net, b, x)
    b_changed = tuple(v.at[1].add(1.7) for v in b)
    out2 = jax.vmap(forward, in_axes=(None, 0, 0))(net, b_changed, x)
    np.testing.assert_array_equal(out2[0], out[0])
    assert not np.allclose(out2[1], out[1])


@pytest.mark.parametrize("trainable", ["bias", "mask"])
def test_training_a_with_b_gives_a_what_training_a_alone_gives(trainable):
    net = _net()
    x, y = _data()
    opts = dict(loss="softmax_cross_entropy", n_steps=40, learning_rate=0.03,
                trainable=trainable)

    def fit(xs, ys):
        n = xs.shape[0]
        s = (init_mask_scores(net, n, value=0.02, scale=0.02, key=jax.random.PRNGKey(7))
             if trainable == "mask" else None)
        if s is not None:  # the same initial scores for task A in every call
            s = tuple(jnp.broadcast_to(v[:1], v.shape) for v in s)
        f = fit_feedforward(net, init_biases(net, n), xs, ys, mask_scores=s, **opts)
        return f.mask_scores if trainable == "mask" else f.biases

    with_b = fit(x, y)                                    # tasks A and B
    twice = jnp.array([0, 0])
    with_a_twice = fit(x[twice], y[twice])                # A twice: the same 1/2 weighting
    alone = fit(x[:1], y[:1])                             # A alone (Adam: scale-invariant)
    for p_ab, p_aa, p_a in zip(with_b, with_a_twice, alone, strict=True):
        np.testing.assert_allclose(p_ab[0], p_aa[0], rtol=0, atol=1e-12)
        # alone, A's gradient is twice as large: Adam cancels the scale up to its epsilon
        np.testing.assert_allclose(p_ab[0], p_a[0], rtol=0, atol=1e-4)
        assert np.array_equal(p_ab[0] > 0, p_a[0] > 0) or trainable == "bias"
        assert not np.allclose(p_ab[1], p_ab[0])


def test_mask_options_are_checked_and_second_fit_does_not_recompile():
    net = _net()
    x, y = _data()
    with pytest.raises(ConfigError, match="init_mask_scores"):
        fit_feedforward(net, init_biases(net, 2), x, y, trainable="mask")
    with pytest.raises(ConfigError, match="does not train a mask"):
        fit_feedforward(net, init_biases(net, 2), x, y, mask_scores=init_mask_scores(net, 2))
    with pytest.raises(ConfigError, match="mask_scores: expected shapes"):
        fit_feedforward(net, init_biases(net, 2), x, y, trainable="mask",
                        mask_scores=init_mask_scores(net, 1))
    opts = dict(trainable="mask", n_steps=3, learning_rate=0.01)
    fit_feedforward(net, init_biases(net, 2), x, y, mask_scores=init_mask_scores(net, 2), **opts)
    before = trf._TRACE_COUNT["fit_feedforward"]
    fit_feedforward(net, init_biases(net, 2), x, y, mask_scores=init_mask_scores(net, 2, value=0.3),
                    **opts)
    assert trf._TRACE_COUNT["fit_feedforward"] == before
