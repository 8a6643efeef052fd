"""BrainPy export: BrainPy's own runner must reproduce brainbias.models.rate.simulate."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainbias import ConfigError, make_controller, make_network, simulate

pytestmark = [
    pytest.mark.brainpy,
    pytest.mark.skipif(importlib.util.find_spec("brainpy") is None,
                       reason="brainpy not installed"),
]

N_UNITS, N_STEPS = 30, 200


@pytest.fixture(scope="module")
def bp_modules():
    # Never `import brainpy` directly in tests: with brainstate 0.5 (BrainPy 2.8) the first
    # import switches JAX's x64 flag off for the rest of the session; import_brainpy keeps it.
    from brainbias.interop.brainpy import import_brainpy

    bp, bm = import_brainpy()
    assert jax.config.jax_enable_x64
    dt_before = bm.get_dt()
    yield bp, bm
    assert jax.config.jax_enable_x64, "a BrainPy import or run switched JAX x64 off"
    assert bm.get_dt() == dt_before, "a test leaked BrainPy's global dt"


def _setup(form):
    net = make_network(N_UNITS, n_inputs=2, n_outputs=2, form=form, key=jax.random.PRNGKey(0))
    ctrl = make_controller(net, ["slow", "fast"], mode="bias+readout", bias_scale=0.5,
                           initial_state_scale=1.0, key=jax.random.PRNGKey(1))
    # A trained readout that differs from the network's fixed one, so that using the wrong
    # readout would show.
    ctrl = type(ctrl)(bias=ctrl.bias, initial_state=ctrl.initial_state,
                      readout_weights=ctrl.readout_weights * 1.5, contexts=ctrl.contexts)
    inputs = jax.random.normal(jax.random.PRNGKey(2), (N_STEPS, 2))
    return net, ctrl, inputs


def _run_brainpy(bp, bm, model, inputs=None):
    runner = bp.DSRunner(model, monitors=["x", "y"], dt=model.dt, progress_bar=False)
    # DSRunner leaves its dt in BrainPy's global dt: bm.environment restores it afterwards.
    with bm.environment(dt=model.dt):
        if inputs is None:
            # DSRunner counts int(duration / dt) steps; half a step more avoids flooring 199.99…
            runner.run(duration=(N_STEPS + 0.5) * model.dt)
        else:
            runner.run(inputs=np.asarray(inputs))
    return np.asarray(runner.mon["x"]), np.asarray(runner.mon["y"])


@pytest.mark.parametrize("form", ["continuous", "discrete"])
@pytest.mark.parametrize("mode", ["autonomous", "closed_loop", "driven"])
def test_brainpy_runner_reproduces_simulate(bp_modules, form, mode):
    bp, bm = bp_modules
    from brainbias.interop.brainpy import to_brainpy

    net, ctrl, inputs = _setup(form)
    u = inputs if mode == "driven" else None
    k = ctrl.context_index("fast")
    states, outputs = simulate(net, ctrl.bias[k], ctrl.initial_state[k], mode=mode,
                               n_steps=None if u is not None else N_STEPS, inputs=u,
                               readout=ctrl.readout_weights)
    model = to_brainpy(net, ctrl, context="fast", mode=mode)
    x, y = _run_brainpy(bp, bm, model, u)

    assert x.shape == (N_STEPS, N_UNITS) and y.shape == (N_STEPS, 2)
    assert x.dtype == np.float64 and y.dtype == np.float64
    # The BrainPy update calls brainbias.models.rate.step itself, in float64: the only possible
    # differences are XLA re-associations (≤ a few ulp per step) amplified by the dynamics
    # over 200 steps (g = 1.5, at most ~e^{0.3·20} ≈ 400×). Measured: 0 (bit-identical).
    np.testing.assert_allclose(x, np.asarray(states), rtol=0, atol=1e-11)
    np.testing.assert_allclose(y, np.asarray(outputs), rtol=0, atol=1e-11)
    # The test can fail: the other context's bias gives another trajectory.
    other = to_brainpy(net, ctrl, context="slow", mode=mode)
    x_other, _ = _run_brainpy(bp, bm, other, u)
    assert np.abs(x_other - x).max() > 1e-2


def test_bias_array_and_defaults(bp_modules):
    bp, bm = bp_modules
    from brainbias.interop.brainpy import to_brainpy

    net, ctrl, _ = _setup("continuous")
    bias = ctrl.bias  # (context, unit)
    model = to_brainpy(net, bias, context=1, mode="closed_loop")
    x, y = _run_brainpy(bp, bm, model)
    # plain bias: zero initial state and the network's fixed readout
    states, outputs = simulate(net, bias[1], jnp.zeros(N_UNITS), mode="closed_loop",
                               n_steps=N_STEPS)
    np.testing.assert_allclose(x, np.asarray(states), rtol=0, atol=1e-11)  # as above
    np.testing.assert_allclose(y, np.asarray(outputs), rtol=0, atol=1e-11)
    # reset_state returns to the initial state: a second run repeats the first
    model.reset_state()
    x2, _ = _run_brainpy(bp, bm, model)
    np.testing.assert_array_equal(x2, x)


def test_export_errors(bp_modules):
    bp, bm = bp_modules
    from brainbias.interop.brainpy import to_brainpy

    net, ctrl, inputs = _setup("continuous")
    with pytest.raises(ConfigError, match="Did you mean 'fast'"):
        to_brainpy(net, ctrl, context="fats")
    with pytest.raises(ConfigError, match="name the one"):
        to_brainpy(net, ctrl)
    with pytest.raises(ConfigError, match="mode"):
        to_brainpy(net, ctrl, context="fast", mode="closed-loop")
    with pytest.raises(ConfigError, match="bias: expected shape"):
        to_brainpy(net, jnp.zeros(N_UNITS + 1))
    with pytest.raises(ConfigError, match="integer context"):
        to_brainpy(net, ctrl.bias)
    with pytest.raises(ConfigError, match="readout"):
        to_brainpy(net, ctrl, context="fast", readout=jnp.zeros((3, N_UNITS)))
    # a runner with another dt is refused (the step size is fixed by the network)
    model = to_brainpy(net, ctrl, context="fast")
    runner = bp.DSRunner(model, monitors=["x"], dt=model.dt / 2, progress_bar=False)
    with bm.environment(dt=model.dt / 2), pytest.raises(ConfigError, match="dt"):
        runner.run(duration=1.0)
    # driven needs inputs; autonomous refuses them
    driven = to_brainpy(net, ctrl, context="fast", mode="driven")
    with bm.environment(dt=model.dt):
        with pytest.raises(ConfigError, match="needs the"):
            bp.DSRunner(driven, monitors=["x"], dt=driven.dt, progress_bar=False).run(
                duration=1.0)
        with pytest.raises(ConfigError, match="takes no input"):
            bp.DSRunner(model, monitors=["x"], dt=model.dt, progress_bar=False).run(
                inputs=np.asarray(inputs))


@pytest.mark.parametrize("mode", ["autonomous", "closed_loop"])
def test_export_of_a_trained_time_constant_uses_it(bp_modules, mode):
    """A bias+tau controller: the BrainPy model steps with the trained τ, not the network's."""
    import dataclasses

    from brainbias.training.control import effective_leak

    bp, bm = bp_modules
    from brainbias.interop.brainpy import to_brainpy

    net = make_network(N_UNITS, n_outputs=2, dt=0.1, tau=1.0, key=jax.random.PRNGKey(0))
    ctrl = make_controller(net, ["a"], mode="bias+tau", bias_scale=0.5,
                           initial_state_scale=1.0, key=jax.random.PRNGKey(1))
    ctrl = dataclasses.replace(ctrl, leak_logit=jnp.asarray(0.7))  # a "trained" τ ≈ 0.15
    leak = effective_leak(net, ctrl)
    states, outputs = simulate(net, ctrl.bias[0], ctrl.initial_state[0], mode=mode,
                               n_steps=N_STEPS, leak=leak)
    x, y = _run_brainpy(bp, bm, to_brainpy(net, ctrl, mode=mode))
    # the same float64 steps (measured: bit-identical); see the tolerance note above
    np.testing.assert_allclose(x, np.asarray(states), rtol=0, atol=1e-11)
    np.testing.assert_allclose(y, np.asarray(outputs), rtol=0, atol=1e-11)
    untrained, _ = simulate(net, ctrl.bias[0], ctrl.initial_state[0], mode=mode,
                            n_steps=N_STEPS)
    assert np.abs(np.asarray(untrained) - x).max() > 1e-2  # the network's own τ differs
