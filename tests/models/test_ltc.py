"""The LTC family: its solvers against a reference, the A(v, u) v + c(v, u) view, the closed-form
Jacobian, boundedness of the fused step, and the errors of bad parameters."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainbias import ConfigError
from brainbias.models import base
from brainbias.models.ltc import (
    LTCConfig,
    coefficients,
    field,
    jacobian,
    make_ltc_network,
)


def _net(n=12, *, dt=0.05, tau=0.5, seed=0, **config):
    return make_ltc_network(n, n_inputs=2, n_outputs=2, config=LTCConfig(**config), dt=dt,
                            tau=tau, key=jax.random.PRNGKey(seed))


def _random(n, seed, scale=0.5):
    return jax.random.normal(jax.random.PRNGKey(seed), (n,)) * scale


def _final_state(net, bias, v0, horizon):
    states, _ = base.simulate(net, bias, v0, n_steps=int(round(horizon / net.dt)))
    return states[-1]


def test_fused_and_euler_converge_to_the_reference_at_first_order():
    n, horizon = 10, 1.0
    bias, v0 = _random(n, 1), _random(n, 2)
    ref_net = _net(n, dt=1e-3, solver="rk4")
    ref = _final_state(ref_net, bias, v0, horizon)
    for solver in ("fused", "euler"):
        errors = []
        for dt in (0.04, 0.02, 0.01):
            net = dataclasses.replace(ref_net, dt=dt, solver=solver)
            errors.append(float(jnp.max(jnp.abs(_final_state(net, bias, v0, horizon) - ref))))
        ratios = np.array(errors[:-1]) / np.array(errors[1:])
        # first order: halving dt halves the error
        np.testing.assert_allclose(ratios, 2.0, rtol=0.15, err_msg=f"{solver}: {errors}")
        assert errors[-1] < 5e-3


def test_rk4_is_fourth_order():
    n, horizon = 8, 0.5
    bias, v0 = _random(n, 3), _random(n, 4)
    fine = _final_state(_net(n, dt=0.0025, tau=0.5, solver="rk4"), bias, v0, horizon)
    errs = [float(jnp.max(jnp.abs(_final_state(_net(n, dt=dt, tau=0.5, solver="rk4"), bias, v0,
                                                 horizon) - fine))) for dt in (0.05, 0.025)]
    assert 12.0 < errs[0] / errs[1] < 20.0  # 2^4 = 16


def test_unfolds_split_the_step():
    net1 = _net(6, dt=0.1, solver="euler", unfolds=4)
    net2 = _net(6, dt=0.025, solver="euler")
    bias, v0 = _random(6, 5), _random(6, 6)
    a = base.simulate(net1, bias, v0, n_steps=5)[0][-1]
    b = base.simulate(net2, bias, v0, n_steps=20)[0][-1]
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_coefficients_give_the_right_hand_side():
    net = _net(15)
    for seed in range(3):
        v, current = _random(15, 10 + seed), _random(15, 20 + seed, 2.0)
        a, c = coefficients(net, v, current)
        g_syn = (net.synapse_weight * jax.nn.sigmoid(
            net.synapse_gain * (v[None, :] - net.synapse_midpoint)))
        rhs = (-net.leak_conductance * (v - net.leak_reversal)
               - (g_syn * (v[:, None] - net.synapse_reversal)).sum(axis=1) + current) / net.tau
        np.testing.assert_allclose(a * v + c, rhs, rtol=1e-12, atol=1e-12)
        assert np.all(np.asarray(a) < 0)  # every liquid time constant is positive


def test_closed_form_jacobian_matches_autodiff_and_finite_differences():
    net = _net(9)
    v, current = _random(9, 30), _random(9, 31)
    closed = np.asarray(jacobian(net, v, current))
    auto = np.asarray(jax.jacfwd(lambda x: field(net, x, current))(v))
    np.testing.assert_allclose(closed, auto, rtol=1e-10, atol=1e-10)
    eps = 1e-6
    fd = np.stack([(field(net, v.at[k].add(eps), current) - field(net, v.at[k].add(-eps),
                                                                  current)) / (2 * eps)
                   for k in range(9)], axis=1)
    np.testing.assert_allclose(closed, fd, rtol=1e-6, atol=1e-7)
    # the feedback current F C v of closed loop adds F C / C_m
    fc = net.feedback_weights @ net.readout_weights
    closed_loop = jacobian(net, v, current, dcurrent_dv=fc)
    auto_cl = jax.jacfwd(lambda x: field(net, x, current + fc @ x - fc @ v))(v)
    np.testing.assert_allclose(closed_loop, auto_cl, rtol=1e-10, atol=1e-10)


def test_fused_step_is_bounded_for_any_step():
    # dt = tau and strong synapses: the explicit Euler step is unstable, the fused one stays
    # inside the range spanned by the reversal potentials and the start
    net = _net(20, dt=1.0, tau=1.0, synapse_scale=50.0)
    v0 = _random(20, 40, 3.0)
    states, _ = base.simulate(net, jnp.zeros(20), v0, n_steps=200)
    lo = min(float(v0.min()), -1.0)
    hi = max(float(v0.max()), 1.0)
    assert float(states.min()) >= lo - 1e-12 and float(states.max()) <= hi + 1e-12
    with pytest.raises(ConfigError, match=r"euler.*unstable.*fused"):
        dataclasses.replace(net, solver="euler").validate()


def test_fixed_point_of_the_map_is_a_zero_of_the_field():
    net = _net(10, dt=0.05)
    bias = _random(10, 50)
    v = _final_state(net, bias, jnp.zeros(10), 20.0)
    np.testing.assert_allclose(field(net, v, bias), 0.0, atol=1e-10)
    # stable: the closed-form Jacobian's eigenvalues have negative real parts, and the map's
    # (from the protocol, by JAX) lie inside the unit circle
    assert np.max(np.linalg.eigvals(np.asarray(jacobian(net, v, bias))).real) < 0
    jmap = jax.jacfwd(base.autonomous_map(net, bias))(v)
    assert np.max(np.abs(np.linalg.eigvals(np.asarray(jmap)))) < 1


def test_balanced_draw_has_the_documented_conductances():
    cfg = LTCConfig(synapse_scale=3.0, excitatory_fraction=0.8)
    net = make_ltc_network(400, config=cfg, key=jax.random.PRNGKey(0))
    w, rev = np.asarray(net.synapse_weight), np.asarray(net.synapse_reversal)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=1).mean(), 3.0, rtol=0.05)
    exc = rev[0] == cfg.reversal_excitatory
    assert 0.72 < exc.mean() < 0.88
    np.testing.assert_allclose(w[:, exc].sum(axis=1).mean(), w[:, ~exc].sum(axis=1).mean(),
                               rtol=0.1)
    sparse = make_ltc_network(400, config=dataclasses.replace(cfg, connection_probability=0.1),
                              key=jax.random.PRNGKey(0))
    density = float(np.mean(np.asarray(sparse.synapse_weight) > 0))
    assert 0.08 < density < 0.12
    np.testing.assert_allclose(np.asarray(sparse.synapse_weight).sum(axis=1).mean(), 3.0,
                               rtol=0.1)


@pytest.mark.parametrize("kwargs, match", [
    ({"solver": "implicit"}, r"solver.*fused"),
    ({"unfolds": 0}, r"unfolds"),
    ({"synapse_scale": -1.0}, r"synapse_scale"),
    ({"leak_conductance": 0.0}, r"leak_conductance"),
    ({"reversal_inhibitory": 0.5}, r"reversal_inhibitory < leak_reversal"),
    ({"reversal_excitatory": float("inf")}, r"reversal_excitatory.*finite"),
    ({"gain_range": (5.0, 1.0)}, r"gain_range"),
    ({"gain_range": (-1.0, 1.0)}, r"gain_range.*> 0"),
    ({"connection_probability": 0.0}, r"connection_probability"),
])
def test_bad_ltc_config_names_the_key(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        LTCConfig(**kwargs)


def test_negative_conductance_is_refused():
    net = _net(5)
    bad = dataclasses.replace(net, synapse_weight=net.synapse_weight.at[0, 1].set(-0.1))
    with pytest.raises(ConfigError, match=r"synapse_weight.*≥ 0"):
        bad.validate()
    with pytest.raises(ConfigError, match=r"leak_conductance"):
        dataclasses.replace(net, leak_conductance=-net.leak_conductance).validate()
    with pytest.raises(ConfigError, match=r"synapse_gain: expected shape"):
        dataclasses.replace(net, synapse_gain=net.synapse_gain[:3]).validate()
