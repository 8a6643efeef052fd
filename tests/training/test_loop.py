"""Training: gradients, determinism, partitions, checkpoints, failure handling."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainbias import (
    ConfigError,
    DataError,
    TrainingError,
    TrainingInterrupted,
    Trajectory,
    make_controller,
    make_network,
)
from brainbias._pytree import partition
from brainbias.config import TrainingConfig
from brainbias.training import loop as tr
from brainbias.training.control import trainable_mask

DT = 0.05


def cycle(name="cycle", n=600, period=1.0, dims=2):
    t = np.arange(n) * DT
    y = np.stack([np.cos(2 * np.pi * t / period + k) for k in range(dims)], axis=1)
    return Trajectory(y, DT, name, kind="limit_cycle", period=period)


def setup(mode="bias", contexts=("a",), n_units=40, n_outputs=2, dtype=None):
    net = make_network(n_units, n_outputs=n_outputs, dt=DT, tau=0.25, key=jax.random.PRNGKey(0),
                       dtype=dtype)
    ctrl = make_controller(net, contexts, mode=mode, bias_scale=0.1, key=jax.random.PRNGKey(1))
    return net, ctrl


SMALL = TrainingConfig(n_iterations=40, chunk_size=10, batch_size=4, window=20, washout=10,
                       learning_rate=0.02, dtype="float64")


def test_gradient_wrt_bias_matches_finite_differences():
    net, ctrl = setup(contexts=("a", "b"))
    targets = [cycle("a"), cycle("b", period=1.5)]
    data = tr._data_arrays(tr.stack_targets(targets, test_fraction=0.2, n_outputs=2), jnp.float64)
    mask = trainable_mask(net, ctrl, "bias")
    trainable, frozen = partition((net, ctrl), mask)
    key = jax.random.PRNGKey(5)
    # washout=0: with a washout the gradient is deliberately truncated there (documented TBPTT),
    # so only the un-truncated loss has an exact finite-difference reference
    cfg = dataclasses.replace(SMALL, washout=0)

    @jax.jit
    def loss(bias):
        t = (trainable[0], dataclasses.replace(trainable[1], bias=bias))
        return tr._loss(t, frozen, data, key, 0.5, cfg)[0]

    grad = jax.grad(loss)(ctrl.bias)
    eps = 1e-6
    rng = np.random.default_rng(0)
    for c, i in zip(rng.integers(0, 2, 6), rng.integers(0, 40, 6), strict=True):
        e = jnp.zeros_like(ctrl.bias).at[c, i].set(eps)
        fd = (loss(ctrl.bias + e) - loss(ctrl.bias - e)) / (2 * eps)
        # central differences: error O(eps^2) plus round-off ~1e-16/eps = 1e-10
        assert float(grad[c, i]) == pytest.approx(float(fd), rel=1e-5, abs=1e-9)


def test_training_reduces_loss_and_keeps_weights_bit_identical():
    net, ctrl = setup()
    # constant teacher forcing so that the loss is one fixed objective (annealing raises it)
    cfg = dataclasses.replace(SMALL, teacher_forcing_start=0.5, teacher_forcing_end=0.5,
                              learning_rate=0.1)
    result = tr.fit(net, ctrl, [cycle("a")], cfg, key=jax.random.PRNGKey(2), progress=False)
    first, last = result.loss[:5].mean(), result.loss[-5:].mean()
    assert last < 0.5 * first
    for name in ("recurrent_weights", "input_weights", "feedback_weights", "readout_weights"):
        np.testing.assert_array_equal(getattr(result.network, name), getattr(net, name))
    assert result.network is net
    assert not np.array_equal(result.controller.bias, ctrl.bias)
    np.testing.assert_array_equal(result.controller.initial_state, ctrl.initial_state)


def test_weights_bit_identical_when_training_in_float32():
    net, ctrl = setup()  # float64 under the test config
    cfg = dataclasses.replace(SMALL, dtype="float32", n_iterations=10)
    result = tr.fit(net, ctrl, [cycle("a")], cfg, key=jax.random.PRNGKey(2), progress=False)
    assert result.network.recurrent_weights.dtype == net.recurrent_weights.dtype
    np.testing.assert_array_equal(result.network.recurrent_weights, net.recurrent_weights)


def test_same_seed_same_result_and_no_recompilation():
    net, ctrl = setup(contexts=("a", "b"))
    targets = [cycle("a"), cycle("b", period=1.5)]
    tr._TRACE_COUNT.clear()
    r1 = tr.fit(net, ctrl, targets, SMALL, key=jax.random.PRNGKey(3), progress=False)
    traced = tr._TRACE_COUNT["chunk"]
    r2 = tr.fit(net, ctrl, targets, SMALL, key=jax.random.PRNGKey(3), progress=False)
    # 4 chunks per fit, two fits: one trace in all (same shapes and config)
    assert traced == 1 and tr._TRACE_COUNT["chunk"] == 1
    np.testing.assert_array_equal(r1.controller.bias, r2.controller.bias)
    np.testing.assert_array_equal(r1.loss, r2.loss)
    r3 = tr.fit(net, ctrl, targets, SMALL, key=jax.random.PRNGKey(4), progress=False)
    assert not np.array_equal(r1.controller.bias, r3.controller.bias)


def test_interrupt_checkpoints_and_resume_equals_uninterrupted(tmp_path, monkeypatch):
    net, ctrl = setup()
    cfg = dataclasses.replace(SMALL, checkpoint_every=1)
    full = tr.fit(net, ctrl, [cycle("a")], cfg, key=jax.random.PRNGKey(7), progress=False)

    real_chunk, calls = tr._chunk, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during the third chunk
        return real_chunk(*args, **kwargs)

    ckpt = tmp_path / "ckpt.npz"
    monkeypatch.setattr(tr, "_chunk", flaky)
    with pytest.raises(TrainingInterrupted, match="iteration 20"):
        tr.fit(net, ctrl, [cycle("a")], cfg, key=jax.random.PRNGKey(7), checkpoint=ckpt,
               progress=False)
    assert ckpt.exists()
    monkeypatch.setattr(tr, "_chunk", real_chunk)
    resumed = tr.fit(net, ctrl, [cycle("a")], cfg, key=jax.random.PRNGKey(7), checkpoint=ckpt,
                     resume=True, progress=False)
    np.testing.assert_array_equal(resumed.controller.bias, full.controller.bias)
    np.testing.assert_array_equal(resumed.loss, full.loss)


def test_resume_refuses_other_config_or_network(tmp_path):
    net, ctrl = setup()
    ckpt = tmp_path / "c.npz"
    tr.fit(net, ctrl, [cycle("a")], SMALL, key=jax.random.PRNGKey(7), checkpoint=ckpt,
           progress=False)
    with pytest.raises(ConfigError, match="different training config"):
        tr.fit(net, ctrl, [cycle("a")], dataclasses.replace(SMALL, learning_rate=0.1),
               key=jax.random.PRNGKey(7), checkpoint=ckpt, resume=True, progress=False)
    other, _ = setup(n_units=40)
    other = dataclasses.replace(other, recurrent_weights=other.recurrent_weights * 2)
    with pytest.raises(ConfigError, match="different network"):
        tr.fit(other, ctrl, [cycle("a")], SMALL, key=jax.random.PRNGKey(7), checkpoint=ckpt,
               resume=True, progress=False)
    with pytest.raises(ConfigError, match="no checkpoint"):
        tr.fit(net, ctrl, [cycle("a")], SMALL, key=jax.random.PRNGKey(7),
               checkpoint=tmp_path / "missing.npz", resume=True, progress=False)


def test_non_finite_loss_stops_with_clear_error_and_keeps_last_good_state(tmp_path):
    net, ctrl = setup()
    huge = cycle("a")
    huge = dataclasses.replace(huge, outputs=huge.outputs * 1e200)  # squares overflow to inf
    ckpt = tmp_path / "c.npz"
    with pytest.raises(TrainingError, match="non-finite at iteration 0"):
        tr.fit(net, ctrl, [huge], SMALL, key=jax.random.PRNGKey(0), checkpoint=ckpt,
               progress=False)
    with np.load(ckpt) as z:
        np.testing.assert_array_equal(z["trainable_0"], np.asarray(ctrl.bias))


def test_modes_train_the_right_partition():
    net, ctrl_ro = setup(mode="bias+readout")
    r = tr.fit(net, ctrl_ro, [cycle("a")], SMALL, key=jax.random.PRNGKey(0), progress=False)
    # mode="bias" freezes even a controller's readout
    np.testing.assert_array_equal(r.controller.readout_weights, net.readout_weights)
    r = tr.fit(net, ctrl_ro, [cycle("a")], dataclasses.replace(SMALL, mode="bias+readout"),
               key=jax.random.PRNGKey(0), progress=False)
    assert not np.array_equal(r.controller.readout_weights, net.readout_weights)
    np.testing.assert_array_equal(r.network.readout_weights, net.readout_weights)

    net, ctrl = setup(mode="all")
    r = tr.fit(net, ctrl, [cycle("a")], dataclasses.replace(SMALL, mode="all"),
               key=jax.random.PRNGKey(0), progress=False)
    assert not np.array_equal(r.network.recurrent_weights, net.recurrent_weights)


def test_ridge_readout_matches_least_squares_reference():
    net, ctrl = setup(mode="readout")
    target = cycle("a")
    cfg = dataclasses.replace(SMALL, mode="readout", ridge=1e-4)
    r = tr.fit(net, ctrl, [target], cfg, key=jax.random.PRNGKey(0), progress=False)
    # reference: the same rates, ridge solved as an augmented least-squares problem
    from brainbias.models.base import rates, simulate

    n_train = int(target.n_steps * (1 - cfg.test_fraction))
    y = jnp.asarray(target.outputs[:n_train])
    states, _ = simulate(net, ctrl.bias[0], ctrl.initial_state[0], mode="closed_loop",
                         teacher=y[:-1], teacher_strength=1.0)
    phi = np.asarray(rates(net, states))[cfg.washout:]
    yy = np.asarray(y[1:])[cfg.washout:]
    lam = cfg.ridge * len(phi)
    A = np.vstack([phi, np.sqrt(lam) * np.eye(net.n_units)])
    B = np.vstack([yy, np.zeros((net.n_units, 2))])
    ref = np.linalg.lstsq(A, B, rcond=None)[0].T
    np.testing.assert_allclose(r.controller.readout_weights, ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(r.controller.bias, ctrl.bias)


def test_early_stopping_after_annealing():
    net, ctrl = setup()
    cfg = dataclasses.replace(SMALL, n_iterations=400, learning_rate=1e-9, patience=2,
                              min_delta=0.5, teacher_forcing_fraction=0.0)
    r = tr.fit(net, ctrl, [cycle("a")], cfg, key=jax.random.PRNGKey(0), progress=False)
    assert r.stopped == "early_stopping"
    assert len(r.loss) == 30  # chunk 1 sets the best, chunks 2 and 3 fail to improve


def test_bad_inputs_are_clear_errors():
    net, ctrl = setup(contexts=("a",))
    with pytest.raises(ConfigError, match="must equal the controller's contexts"):
        tr.fit(net, ctrl, [cycle("b")], SMALL, key=jax.random.PRNGKey(0), progress=False)
    with pytest.raises(ConfigError, match="washout \\+ window \\+ 1"):
        tr.fit(net, ctrl, [cycle("a", n=30)], SMALL, key=jax.random.PRNGKey(0), progress=False)
    with pytest.raises(ConfigError, match="differs from the targets' dt"):
        slow = Trajectory(cycle().outputs, 0.1, "a")
        tr.fit(net, ctrl, [slow], SMALL, key=jax.random.PRNGKey(0), progress=False)
    with pytest.raises(DataError, match="network has 2 outputs"):
        tr.fit(net, ctrl, [cycle("a", dims=3)], SMALL, key=jax.random.PRNGKey(0), progress=False)
    with pytest.raises(ConfigError, match="needs targets with inputs"):
        tr.fit(net, ctrl, [cycle("a")], dataclasses.replace(SMALL, run_mode="driven"),
               key=jax.random.PRNGKey(0), progress=False)


def test_contexts_with_different_output_dimensions_are_masked():
    net, ctrl = setup(contexts=("three", "two"), n_outputs=3)
    arrays = tr.stack_targets([cycle("three", dims=3), cycle("two", dims=2)], n_outputs=3)
    np.testing.assert_array_equal(arrays.output_mask, [[1, 1, 1], [1, 1, 0]])
    r = tr.fit(net, ctrl, [cycle("three", dims=3), cycle("two", dims=2)], SMALL,
               key=jax.random.PRNGKey(0), progress=False)
    assert np.all(np.isfinite(r.loss))


def test_nan_target_rejected_at_the_boundary():
    y = cycle().outputs.copy()
    y[10, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        Trajectory(y, DT, "a")


def test_poisson_loss_fits_counts_and_rejects_negative_targets():
    net, ctrl = setup()
    rate = 2.0 + 1.5 * np.sin(2 * np.pi * np.arange(600) * DT)[:, None] * np.ones((1, 2))
    counts = Trajectory(np.random.default_rng(0).poisson(rate).astype(float), DT, "a")
    cfg = dataclasses.replace(SMALL, loss="poisson", teacher_forcing_start=0.0,
                              teacher_forcing_end=0.0, learning_rate=0.05)
    r = tr.fit(net, ctrl, [counts], cfg, key=jax.random.PRNGKey(0), progress=False)
    assert r.loss[-5:].mean() < r.loss[:5].mean()
    # the Poisson NLL is bounded below by its value at the true rate, λ - k log λ averaged
    floor = np.mean(rate - counts.outputs * np.log(rate))
    assert r.loss[-5:].mean() > floor - 0.1  # 0.1: sampling error of a 600×2 average
    with pytest.raises(DataError, match="non-negative"):
        tr.fit(net, ctrl, [cycle("a")], cfg, key=jax.random.PRNGKey(0), progress=False)
    with pytest.raises(ConfigError, match="ridge"):
        tr.fit(net, ctrl, [counts], dataclasses.replace(cfg, mode="readout"),
               key=jax.random.PRNGKey(0), progress=False)


def test_sparse_forcing_pattern_forces_every_kth_step_and_mixes_in_between():
    cfg = dataclasses.replace(SMALL, sparse_forcing_interval=4)
    s = np.asarray(tr._forcing_pattern(jnp.asarray(0.25), 10, cfg))
    np.testing.assert_array_equal(s, [1, .25, .25, .25, 1, .25, .25, .25, 1, .25])
    # off (k = 0): the generalised strength unchanged, as a scalar
    assert float(tr._forcing_pattern(jnp.asarray(0.25), 10, SMALL)) == 0.25


def test_sparse_forcing_changes_the_loss_only_through_the_fed_back_output():
    net, ctrl = setup()
    target = cycle()
    data = tr._data_arrays(tr.stack_targets([target], n_outputs=2), jnp.float64)
    trainable, frozen = partition((net, ctrl), trainable_mask(net, ctrl, "bias"))
    key = jax.random.PRNGKey(3)
    dense = tr._loss(trainable, frozen, data, key, 1.0, SMALL)[0]
    # strength 1 everywhere: forcing every k-th step in addition changes nothing
    sparse = tr._loss(trainable, frozen, data, key, 1.0,
                      dataclasses.replace(SMALL, sparse_forcing_interval=5))[0]
    np.testing.assert_allclose(float(sparse), float(dense), rtol=1e-12)
    # strength 0 (free running): sparse forcing resets the output, so the loss differs
    free = tr._loss(trainable, frozen, data, key, 0.0, SMALL)[0]
    reset = tr._loss(trainable, frozen, data, key, 0.0,
                     dataclasses.replace(SMALL, sparse_forcing_interval=5))[0]
    assert abs(float(free) - float(reset)) > 1e-6 * float(free)


def test_callback_sees_every_chunk_with_the_current_controller():
    net, ctrl = setup()
    seen = []
    result = tr.fit(net, ctrl, [cycle("a")], SMALL, key=jax.random.PRNGKey(0), progress=False,
                    callback=lambda it, n, c: seen.append((it, np.asarray(c.bias))))
    assert [it for it, _ in seen] == [10, 20, 30, 40]
    # the last call holds the returned biases; earlier ones differ (training moved them)
    np.testing.assert_array_equal(seen[-1][1], np.asarray(result.controller.bias))
    assert not np.array_equal(seen[0][1], seen[-1][1])


def test_teacher_noise_perturbs_only_the_fed_back_output():
    net, ctrl = setup()
    data = tr._data_arrays(tr.stack_targets([cycle()], n_outputs=2), jnp.float64)
    trainable, frozen = partition((net, ctrl), trainable_mask(net, ctrl, "bias"))
    key = jax.random.PRNGKey(3)
    clean = float(tr._loss(trainable, frozen, data, key, 1.0, SMALL)[0])
    noisy = dataclasses.replace(SMALL, teacher_noise=0.3)
    a = float(tr._loss(trainable, frozen, data, key, 1.0, noisy)[0])
    assert a != clean
    # same key, same noise (randomness is the explicit key); and with strength 0 after a
    # zero-length warm-up nothing of the teacher is fed back, so noise cannot matter
    assert a == float(tr._loss(trainable, frozen, data, key, 1.0, noisy)[0])
    free = dataclasses.replace(SMALL, washout=0)
    np.testing.assert_allclose(
        float(tr._loss(trainable, frozen, data, key, 0.0, free)[0]),
        float(tr._loss(trainable, frozen, data, key, 0.0,
                       dataclasses.replace(free, teacher_noise=0.3))[0]), rtol=1e-12)


def test_adaptive_forcing_matches_the_jacobian_norm_it_is_defined_by():
    # identity nonlinearity, no feedback weight on the loop: the closed-loop map is linear,
    # J = (1 − a) I + a (W + F C), the same at every state, so G = ‖J‖₂ exactly
    net, ctrl = setup()
    net = dataclasses.replace(net, nonlinearity="identity",
                              recurrent_weights=net.recurrent_weights * 1.5)
    data = tr._data_arrays(tr.stack_targets([cycle()], n_outputs=2), jnp.float64)
    trainable, frozen = partition((net, ctrl), trainable_mask(net, ctrl, "bias"))
    a = net.leak
    jac = (1 - a) * np.eye(40) + a * (np.asarray(net.recurrent_weights)
                                      + np.asarray(net.feedback_weights @ net.readout_weights))
    g = np.linalg.norm(jac, 2)
    assert g > 1  # the case where forcing is needed
    cfg = dataclasses.replace(SMALL, teacher_forcing="adaptive", teacher_forcing_end=0.0)
    # power iteration (20 steps on JᵀJ) is a lower bound converging to ~1e-3 relative here
    alpha = float(tr._adaptive_strength(trainable, frozen, data, jax.random.PRNGKey(0), cfg))
    np.testing.assert_allclose(alpha, 1 - 1 / g, rtol=2e-2)
    # the floor teacher_forcing_end applies
    cfg = dataclasses.replace(cfg, teacher_forcing_end=0.9)
    assert float(tr._adaptive_strength(trainable, frozen, data, jax.random.PRNGKey(0), cfg)) \
        == pytest.approx(max(0.9, 1 - 1 / g))


def test_adaptive_forcing_trains_and_records_its_strength():
    net, ctrl = setup()
    cfg = dataclasses.replace(SMALL, teacher_forcing="adaptive")
    result = tr.fit(net, ctrl, [cycle("a")], cfg, key=jax.random.PRNGKey(0), progress=False)
    s = result.teacher_forcing
    assert s.shape == (40,) and np.all((s >= cfg.teacher_forcing_end) & (s <= 1))
    # constant within a chunk (computed once per chunk)
    assert np.all(s[:10] == s[0]) and np.all(s[10:20] == s[10])
