"""Model selection on a validation trajectory (brainbias.experiment.selection)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainbias import ConfigError, Trajectory, make_controller, make_network
from brainbias.config import TrainingConfig
from brainbias.experiment.selection import ValidationSelector, forecast_errors
from brainbias.training import loop as tr

DT = 0.05


def cycle(n=1200, name="a"):
    t = np.arange(n) * DT
    return Trajectory(np.stack([np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)], 1), DT, name,
                      kind="limit_cycle", period=1.0)


def setup():
    net = make_network(40, n_outputs=2, dt=DT, tau=0.25, key=jax.random.PRNGKey(0))
    return net, make_controller(net, ["a"], bias_scale=0.1, key=jax.random.PRNGKey(1))


def test_forecast_errors_are_zero_for_a_perfect_model_and_match_the_definition():
    net, ctrl = setup()
    from brainbias.experiment.selection import free_run

    # the network's own free run is a trajectory it forecasts perfectly from its start
    y = free_run(net, ctrl, 0, np.zeros((0, 2)), 300)
    errors = forecast_errors(net, ctrl, 0, cycle().outputs[:400], washout=20, horizon=50,
                             n_starts=3)
    assert errors.shape == (3, 50) and np.all(np.isfinite(errors))
    # definition: e_t = |ŷ − y| / sqrt(mean |y − ȳ|²), checked on the first start by hand
    from brainbias.models.rate import simulate
    from brainbias.training.loop import warm_up

    truth = cycle().outputs[:71]
    x = warm_up(net, ctrl.bias[0], ctrl.initial_state[0], run_mode="closed_loop",
                teacher=jnp.asarray(truth[:20]))
    _, yhat = simulate(net, ctrl.bias[0], x, mode="closed_loop", n_steps=50)
    ref = truth[21:]
    scale = np.sqrt(np.mean(np.sum((ref - ref.mean(0)) ** 2, 1)))
    np.testing.assert_allclose(errors[0], np.linalg.norm(np.asarray(yhat) - ref, axis=1) / scale,
                               rtol=1e-6)  # float32 network, float64 reference arithmetic
    assert y.shape == (300, 2)


def test_selector_keeps_the_better_model_not_the_last_one():
    from brainbias import ConnectivityConfig
    from brainbias.experiment.selection import free_run

    # a chaotic closed-loop network (g = 1.5); its own free run is the validation trajectory,
    # so the network itself is a near-perfect model of it and a saturated copy a bad one
    net = make_network(60, n_outputs=2, dt=DT, tau=0.25, key=jax.random.PRNGKey(0),
                       connectivity=ConnectivityConfig(gain=1.5))
    good = make_controller(net, ["a"], bias_scale=0.1, initial_state_scale=1.0,
                           key=jax.random.PRNGKey(1))
    own = free_run(net, good, 0, np.zeros((0, 2)), 4000)[500:]
    assert own.std(0).min() > 0.05  # it does move
    validation = Trajectory(own, DT, "a")
    ruined = dataclasses.replace(good, bias=good.bias + 50.0)  # every unit saturated
    sel = ValidationSelector(validation, every=100, washout=20)
    sel(100, net, good)
    sel(150, net, ruined)   # not yet due (every 100): ignored
    sel(200, net, ruined)
    assert [h["iteration"] for h in sel.history] == [100, 200]
    d = [h["state_space_divergence"] for h in sel.history]
    assert d[0] < 1.0 < 5.0 < d[1]  # same attractor vs collapsed onto a fixed point
    # select() scores the result's final model (iteration 300 here) and returns the best
    cfg = TrainingConfig(n_iterations=300)
    final = tr.TrainResult(network=net, controller=ruined, loss=np.zeros((300, 1)),
                           teacher_forcing=np.zeros(300), config=cfg, stopped="completed",
                           wall_time=0.0)
    chosen = sel.select(final)
    assert [h["iteration"] for h in sel.history] == [100, 200, 300]
    np.testing.assert_array_equal(np.asarray(chosen.controller.bias), np.asarray(good.bias))
    assert "selected iteration 100" in chosen.stopped


def test_selector_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="every"):
        ValidationSelector(cycle(), every=0)
    with pytest.raises(ConfigError, match="Trajectory"):
        ValidationSelector([np.zeros((10, 2))], every=10)


def test_valid_prediction_steps_counts_like_valid_prediction_time():
    from brainbias.analysis.metrics import valid_prediction_time
    from brainbias.experiment.selection import valid_prediction_steps

    y = np.sin(np.arange(200) * 0.1)[:, None]
    preds = [y + np.arange(200)[:, None] * s for s in (0.002, 0.01, 0.05)] + [y.copy()]
    preds[2][5] = np.nan  # diverged: exceeded from there on
    scale = np.sqrt(np.mean(np.sum((y - y.mean(0)) ** 2, 1)))
    errors = np.stack([np.linalg.norm(p - y, axis=1) / scale for p in preds])
    want = [valid_prediction_time(y, p, dt=1.0)["steps"] for p in preds]
    assert valid_prediction_steps(errors).tolist() == want
    assert want[-1] == 200 and want[2] <= 5  # the never-exceeded and the NaN cases
