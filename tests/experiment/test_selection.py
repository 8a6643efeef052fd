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
    from brainbias.models.base import simulate
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


def test_valid_prediction_criterion_respects_the_divergence_ceiling():
    # the same pair of models, scored by valid prediction: the good one wins when the ceiling
    # admits it; with a ceiling below every model's D_stsp nothing is kept and select() says so
    from brainbias import ConnectivityConfig
    from brainbias.experiment.selection import free_run

    net = make_network(60, n_outputs=2, dt=DT, tau=0.25, key=jax.random.PRNGKey(0),
                       connectivity=ConnectivityConfig(gain=1.5))
    good = make_controller(net, ["a"], bias_scale=0.1, initial_state_scale=1.0,
                           key=jax.random.PRNGKey(1))

    validation = Trajectory(free_run(net, good, 0, np.zeros((0, 2)), 3000)[500:], DT, "a")
    ruined = dataclasses.replace(good, bias=good.bias + 50.0)
    cfg = TrainingConfig(n_iterations=300)
    final = tr.TrainResult(network=net, controller=ruined, loss=np.zeros((300, 1)),
                           teacher_forcing=np.zeros(300), config=cfg, stopped="completed",
                           wall_time=0.0)
    sel = ValidationSelector(validation, every=100, washout=20, criterion="valid_prediction",
                             divergence_ceiling=5.0)
    sel(100, net, good)
    sel(200, net, ruined)
    h = sel.history
    assert h[0]["valid_prediction"] > h[1]["valid_prediction"]
    chosen = sel.select(final)
    np.testing.assert_array_equal(np.asarray(chosen.controller.bias), np.asarray(good.bias))
    assert "valid_prediction" in chosen.stopped
    strict = ValidationSelector(validation, every=100, washout=20, criterion="valid_prediction",
                                divergence_ceiling=1e-9)
    strict(100, net, good)
    kept = strict.select(final)
    assert kept.controller is ruined and "no model had D_stsp" in kept.stopped
    with pytest.raises(ConfigError, match="criterion"):
        ValidationSelector(validation, every=10, criterion="loss")


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


# --------------------------------------------------------------------------- in the pipeline


def test_the_fit_does_not_see_the_validation_segment():
    t = cycle(n=1000)
    plain = tr.stack_targets([t], test_fraction=0.2)
    held = tr.stack_targets([t], test_fraction=0.2, validation_fraction=0.25)
    assert int(plain.n_train[0]) == 800 and int(held.n_train[0]) == 600
    cfg = TrainingConfig(select_every=10, validation_fraction=0.25)
    assert cfg.held_out_for_validation == 0.25
    assert TrainingConfig(validation_fraction=0.25).held_out_for_validation == 0.0


@pytest.mark.parametrize("changes, match", [
    (dict(select_every=10, run_mode="driven"), "closed_loop"),
    (dict(select_every=10, validation_fraction=0.0), "validation_fraction > 0"),
    (dict(validation_fraction=1.0), "validation_fraction"),
])
def test_selection_settings_are_checked(changes, match):
    with pytest.raises(ConfigError, match=match):
        TrainingConfig(**changes)


def test_run_with_select_every_keeps_the_best_validated_model_and_records_the_checks():
    import brainbias as bb
    from brainbias.config import ExperimentConfig, from_dict

    cfg = from_dict(ExperimentConfig, {
        "seed": 0, "network": {"n_units": 40, "tau": 0.1},
        "training": {"n_iterations": 100, "chunk_size": 25, "select_every": 25, "window": 30,
                     "washout": 10, "batch_size": 4},
        "evaluation": {"washout": 20},
        "targets": [{"kind": "lorenz", "n_steps": 2000, "dt": 0.02}]})
    ds = bb.run(cfg, progress=False)
    checks = ds["selection_check"].values
    d = ds["selection_state_space_divergence"].values
    assert list(checks) == [25, 50, 75, 100]
    # the kept model is the first check with the lowest validation D_stsp
    assert ds.attrs["selected_iteration"] == checks[int(np.argmin(d))]
    assert f"selected iteration {ds.attrs['selected_iteration']}" in ds.attrs[
        "training_stopped"] or ds.attrs["selected_iteration"] == 100
    # the controller stored is the selected one: re-scoring it on the validation segment
    # gives the recorded value (same free run, same bins)
    from brainbias.experiment.targets import TargetSource
    from brainbias.results import controller_from_dataset, network_from_dataset

    selector = TargetSource.from_config(cfg).selector()
    selector.consider(0, network_from_dataset(ds), controller_from_dataset(ds))
    # float32 training vs the float64 rebuild: occupancy histograms agree to a few 1e-3
    assert selector.history[-1]["state_space_divergence"] == pytest.approx(
        float(np.min(d)), rel=0.05)


def test_a_recording_run_refuses_model_selection():
    # recordings are fitted autonomously; selection needs a closed-loop free run
    with pytest.raises(ConfigError, match="closed_loop"):
        TrainingConfig(run_mode="autonomous", train_initial_state=True, test_fraction=0.0,
                       select_every=10)
