"""The Levenberg–Marquardt polish of the biases (training.polish, issue 8).

Known answer: a target made by the network itself with biases b* (a closed-loop free run) is
matched exactly by b*, so the polish, started from perturbed biases, must find b* again and
drive the teacher-forced residual to the floor set by the warm-up's initial state.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import brainbias as bb
from brainbias._errors import ConfigError
from brainbias.models import simulate
from brainbias.training.loop import fit
from brainbias.training.polish import segment_starts

N = 24


@pytest.fixture(scope="module")
def teacher():
    """A network (contracting when driven, oscillating in closed loop), its biases b* and the
    closed-loop free run they make (float64)."""
    jax.config.update("jax_enable_x64", True)
    net = bb.make_network(N, n_outputs=2, dt=0.1, tau=0.5,
                          connectivity=bb.ConnectivityConfig(gain=0.8), feedback_scale=5.0,
                          readout_scale=3.0, key=jax.random.PRNGKey(0), dtype=jnp.float64)
    b_star = 0.3 * jax.random.normal(jax.random.PRNGKey(4), (N,))
    x0 = 0.5 * jax.random.normal(jax.random.PRNGKey(5), (N,))
    _, y = simulate(net, b_star, x0, mode="closed_loop", n_steps=3000)
    y = np.asarray(y)[500:]
    assert y.std(0).min() > 0.5  # a real oscillation, not a fixed point: b* is identifiable
    return net, b_star, bb.Trajectory(outputs=y, dt=0.1, name="t", kind="chaotic")


def _config(**changes):
    base = dict(n_iterations=1, chunk_size=1, learning_rate=1e-6, test_fraction=0.0,
                polish="levenberg_marquardt", polish_steps=10, polish_segments=2,
                polish_segment_length=400, dtype="float64", checkpoint_every=0)
    return bb.TrainingConfig(**{**base, **changes})


def _perturbed(net, b_star, scale=0.05):
    ctrl = bb.make_controller(net, ["t"], key=jax.random.PRNGKey(6))
    noise = scale * jax.random.normal(jax.random.PRNGKey(7), (N,))
    return dataclasses.replace(ctrl, bias=(b_star + noise)[None])


def test_polish_recovers_the_biases_that_made_the_target(teacher):
    net, b_star, traj = teacher
    ctrl = _perturbed(net, b_star)
    result = fit(net, ctrl, [traj], _config(), key=jax.random.PRNGKey(0), progress=False)
    loss = result.polish_loss[:, 0]
    assert np.all(np.diff(loss) <= 0)  # only accepted steps
    assert loss[-1] < 1e-6 * loss[0]
    assert float(jnp.max(jnp.abs(result.controller.bias[0] - b_star))) < 1e-3
    # bias-only: the network is the very object passed in
    assert result.network is net
    assert "Levenberg-Marquardt steps" in result.stopped
    assert result.n_updates == len(result.loss) + len(loss) - 1


def test_first_polish_loss_is_the_one_step_teacher_forced_error(teacher):
    net, b_star, traj = teacher
    ctrl = _perturbed(net, b_star)
    cfg = _config(polish_steps=1)
    result = fit(net, ctrl, [traj], cfg, key=jax.random.PRNGKey(0), progress=False)
    # independently: run each segment with full teacher forcing from the controller's initial
    # state and score the predictions after the washout
    bias = ctrl.bias[0]  # the starting biases
    y = traj.outputs
    starts, length = segment_starts(len(y), cfg.polish_segment_length, cfg.polish_segments,
                                    cfg.washout)
    sq = []
    for s0 in starts:
        seg = y[s0:s0 + cfg.washout + length + 1]
        _, out = simulate(net, bias, ctrl.initial_state[0], mode="closed_loop",
                          teacher=seg[:-1], teacher_strength=1.0)
        sq.append((np.asarray(out)[cfg.washout:] - seg[cfg.washout + 1:]) ** 2)
    # fit's one gradient step at lr 1e-6 moves the biases by ~1e-6: compare loosely
    assert result.polish_loss[0, 0] == pytest.approx(np.mean(np.concatenate(sq)), rel=1e-3)


def test_multiple_shooting_residual_vanishes_at_the_true_biases(teacher):
    net, b_star, traj = teacher
    ctrl = _perturbed(net, b_star, scale=0.0)
    for horizon in (1, 2):  # this closed loop is strongly chaotic: k steps amplify the warm-up error
        result = fit(net, ctrl, [traj], _config(polish_steps=1, polish_horizon=horizon),
                     key=jax.random.PRNGKey(0), progress=False)
        assert result.polish_loss[0, 0] < 1e-5


def test_every_polish_step_reaches_the_callback_after_the_gradient_iterations(teacher):
    net, b_star, traj = teacher
    seen = []
    result = fit(net, _perturbed(net, b_star), [traj], _config(n_iterations=2, polish_steps=3),
                 key=jax.random.PRNGKey(0), progress=False,
                 callback=lambda it, network, controller: seen.append(
                     (it, np.asarray(controller.bias))))
    assert [it for it, _ in seen] == [1, 2, 3, 4, 5][: len(seen)]
    assert seen[-1][0] == result.n_updates
    np.testing.assert_array_equal(seen[-1][1], np.asarray(result.controller.bias))


@pytest.mark.parametrize("changes, match", [
    (dict(mode="bias+readout"), 'mode = "bias"'),
    (dict(run_mode="driven"), 'run_mode = "closed_loop"'),
    (dict(loss="poisson"), 'loss = "mse"'),
    (dict(polish="newton"), "polish"),
    (dict(polish_horizon=0), "polish_horizon"),
])
def test_polish_settings_are_checked(changes, match):
    with pytest.raises(ConfigError, match=match):
        bb.TrainingConfig(**{"polish": "levenberg_marquardt", **changes})


def test_a_run_records_the_polish_and_selection_sees_its_steps():
    from brainbias.config import ExperimentConfig, from_dict

    cfg = from_dict(ExperimentConfig, {
        "seed": 0, "network": {"n_units": 24, "tau": 0.1},
        "training": {"n_iterations": 20, "chunk_size": 10, "select_every": 10, "window": 30,
                     "washout": 10, "batch_size": 4, "polish": "levenberg_marquardt",
                     "polish_steps": 2, "polish_segments": 2, "polish_segment_length": 200},
        "evaluation": {"washout": 20},
        "targets": [{"kind": "lorenz", "n_steps": 2000, "dt": 0.02}]})
    ds = bb.run(cfg, progress=False)
    assert ds["polish_loss"].dims == ("polish_step", "context")
    steps = ds.sizes["polish_step"] - 1
    assert list(ds["selection_check"].values) == [10, 20] + [20 + k for k in range(1, steps + 1)]
    assert np.all(np.diff(ds["polish_loss"].values[:, 0]) <= 0)


def test_polish_as_a_separate_step_equals_the_fit_option(teacher):
    from brainbias.training.polish import polish

    net, b_star, traj = teacher
    ctrl = _perturbed(net, b_star)
    inline = fit(net, ctrl, [traj], _config(polish_steps=3), key=jax.random.PRNGKey(0),
                 progress=False)
    first = fit(net, ctrl, [traj], _config(polish="none"), key=jax.random.PRNGKey(0),
                progress=False)
    after = polish(first, [traj], _config(polish_steps=3))
    np.testing.assert_allclose(after.polish_loss, inline.polish_loss, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(after.controller.bias),
                               np.asarray(inline.controller.bias), rtol=0, atol=1e-10)
