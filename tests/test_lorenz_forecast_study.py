"""The Lorenz forecast study (analyses/lorenz_forecast): the lead of both forecasts checked on
a network that copies its input (it must forecast by persistence, x(t + τ) ≈ x(t), exactly),
and a smoke run of its tiny config whose written numbers are recomputed from its files."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _studies import load_study

import brainbias as bb

STUDY = Path(__file__).parents[1] / "analyses" / "lorenz_forecast"


@pytest.fixture(scope="module")
def run():
    return load_study("lorenz_forecast")


def _copying_network(n, *, driven):
    # leak 1, identity φ, W = 0: x_{t+1} = B u_t + F y_t + b. Driven with B = 1 it copies its
    # input; closed loop with F = C = I it holds the last fed-back output.
    eye, zeros = jnp.eye(n), jnp.zeros((n, n))
    return bb.Network(recurrent_weights=zeros, input_weights=eye if driven else zeros[:, :0],
                      feedback_weights=zeros if driven else eye, readout_weights=eye,
                      dt=0.01, tau=0.01, nonlinearity="identity").validate()


def test_both_loops_forecast_exactly_lead_steps_past_the_last_sample_seen(run):
    series = np.random.default_rng(0).normal(size=(400, 3)).cumsum(0)
    times = run.last_seen(len(series), lead=27, washout=50, n_starts=40)
    assert times[0] == 49 and times[-1] == len(series) - 28
    net = _copying_network(1, driven=True)
    ctrl = bb.make_controller(net, ["x"], key=jax.random.PRNGKey(0))
    pred, truth = run.open_loop_forecast(net, ctrl, series[:, 0], times, lead=27)
    np.testing.assert_array_equal(pred, series[times, 0])      # it saw x up to t, not t + 1
    np.testing.assert_array_equal(truth, series[times + 27, 0])
    net = _copying_network(3, driven=False)
    ctrl = bb.make_controller(net, ["x"], key=jax.random.PRNGKey(0))
    pred_c, truth_c = run.closed_loop_forecast(net, ctrl, series, times, lead=27, washout=50)
    np.testing.assert_allclose(pred_c, series[times, 0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(truth_c, truth)
    assert run.nrmse(pred, truth) == pytest.approx(run.persistence(series, times, 27))
    # the training target asks the same: outputs[m] = x_{m + lead − 1} = inputs[m + lead − 1]
    task = run.forecast_task(series[:, 0], 27, dt=0.01)
    np.testing.assert_array_equal(task.outputs[:-26, 0], task.inputs[26:, 0])
    # a copy of the input scored on the task's own outputs is off by exactly lead steps
    _, y = bb.simulate(_copying_network(1, driven=True), jnp.zeros(1), jnp.zeros(1),
                       mode="driven", inputs=jnp.asarray(task.inputs[:-1]))
    np.testing.assert_array_equal(np.asarray(y[:, 0]), series[: len(task.inputs) - 1, 0])
    np.testing.assert_array_equal(task.outputs[1:, 0], series[27:len(task.inputs) + 26, 0])


def test_tiny_study_numbers_are_consistent_with_its_files(run, tmp_path):
    assert run.main([str(STUDY / "config_tiny.toml"), "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(r["variant"], r["seed"]) for r in rows] == [("bias", 0), ("readout", 0)]
    traces = np.load(tmp_path / "traces.npz")
    for r in rows:
        v = r["variant"]
        assert r["open_loop_nrmse"] == pytest.approx(
            run.nrmse(traces[f"{v}_open"], traces[f"{v}_truth"]), rel=1e-12)
        assert r["closed_loop_nrmse"] == pytest.approx(
            run.nrmse(traces[f"{v}_closed"], traces[f"{v}_truth"]), rel=1e-12)
        # the curve over leads 2 … 27 ends at the scored lead
        assert len(r["closed_loop_nrmse_by_lead"]) == 26
        assert r["closed_loop_nrmse_by_lead"][-1] == pytest.approx(r["closed_loop_nrmse"])
        assert r["closed_loop_scores"]["d_stsp_floor"] > 0
    table = (tmp_path / "table.md").read_text()
    s = run.summary(rows)
    assert f"{s['readout']['open_loop'][0]:.3f} ± 0.000" in table and "persistence" in table
    assert (tmp_path / "lorenz_forecast.png").stat().st_size > 10_000
    # the figure and table can be redrawn from the files alone
    assert run.main([str(STUDY / "config_tiny.toml"), "--out", str(tmp_path),
                     "--plot-only"]) == 0
    assert (tmp_path / "table.md").read_text() == table
