"""Trained weights keep their family's constraints (mode="all"): non-negative and Dale rate
networks keep every sign, LTC conductances stay ≥ 0; the results file records the constraint."""

import jax
import numpy as np
import pytest

from brainbias import ConnectivityConfig, Trajectory, make_controller, make_network
from brainbias.config import ExperimentConfig, TrainingConfig, from_dict
from brainbias.experiment.pipeline import run
from brainbias.models.ltc import LTCConfig, make_ltc_network
from brainbias.training import loop as tr

DT = 0.05
# a high learning rate on the weights, so that unconstrained steps flip signs within 30 steps
ALL = TrainingConfig(mode="all", n_iterations=30, chunk_size=10, batch_size=4, window=20,
                     washout=10, learning_rate=0.05, readout_learning_rate_scale=1.0,
                     dtype="float64")


def _cycle():
    t = np.arange(600) * DT
    return Trajectory(np.stack([np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)], axis=1), DT,
                      "a", kind="limit_cycle", period=1.0)


def _fit(net):
    ctrl = make_controller(net, ["a"], mode="all", bias_scale=0.1, key=jax.random.PRNGKey(1))
    return tr.fit(net, ctrl, [_cycle()], ALL, key=jax.random.PRNGKey(0), progress=False).network


def _rate(kind):
    return make_network(30, n_outputs=2, dt=DT, tau=0.25, key=jax.random.PRNGKey(0),
                        connectivity=ConnectivityConfig(kind=kind, gain=0.5))


@pytest.mark.parametrize("kind", ["nonnegative", "dale"])
def test_sign_constrained_rate_weights_keep_their_signs(kind):
    net = _rate(kind)
    assert net.sign_constraint == kind
    w0, w1 = np.asarray(net.recurrent_weights), np.asarray(_fit(net).recurrent_weights)
    assert np.abs(w1 - w0).max() > 1e-3  # the weights were trained
    assert np.all(np.sign(w1) * np.sign(w0) >= 0)  # no entry changed sign
    assert np.any((w1 == 0) & (w0 != 0))  # the projection was active (entries pushed to 0)
    if kind == "nonnegative":
        assert w1.min() >= 0.0


def test_unconstrained_weights_do_change_sign():
    # the same fit on a Gaussian network flips signs: the assertions above can fail
    net = _rate("gaussian")
    assert net.sign_constraint == "none"
    w0, w1 = np.asarray(net.recurrent_weights), np.asarray(_fit(net).recurrent_weights)
    assert np.any(np.sign(w1) * np.sign(w0) < 0)


def test_ltc_conductances_stay_non_negative():
    net = make_ltc_network(20, n_outputs=2, config=LTCConfig(synapse_scale=1.0), dt=DT, tau=0.25,
                           key=jax.random.PRNGKey(0))
    trained = _fit(net)
    w = np.asarray(trained.synapse_weight)
    assert np.abs(w - np.asarray(net.synapse_weight)).max() > 1e-3
    assert w.min() >= 0.0 and np.any(w == 0.0)
    assert np.all(np.asarray(trained.leak_conductance) > 0)
    trained.validate()  # still a valid LTC network


def test_results_record_the_constraint():
    config = from_dict(ExperimentConfig, {
        "network": {"n_units": 20, "tau": 0.25, "connectivity": {"kind": "dale", "gain": 0.5}},
        "training": {"mode": "all", "n_iterations": 10, "chunk_size": 10, "batch_size": 2,
                     "window": 20, "washout": 10},
        "evaluation": {"washout": 10, "horizon": 20},
        "targets": [{"kind": "cosine", "name": "c", "n_steps": 300, "dt": DT}]})
    ds = run(config, progress=False)
    assert ds.attrs["sign_constraint"] == "dale"
    from brainbias.results import network_from_dataset

    assert network_from_dataset(ds).sign_constraint == "dale"
