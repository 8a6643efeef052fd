"""The training loss: what the output means under a loss, and its mean over random windows.

:func:`observe` is the loss's link (the output itself, or a Poisson rate); :func:`_loss` is the
mean over contexts of :func:`_window_loss` (closed loop or driven: ``batch_size`` random
windows, each after a teacher-forced or input-driven :func:`warm_up`) or :func:`_autonomous_loss`
(one run from the trained initial state). These are what the compiled chunk differentiates.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._pytree import combine
from ..models.base import simulate
from .config import TrainingConfig
from .control import effective_leak, effective_readout
from .forcing import _forcing_pattern

__all__ = ["observe", "warm_up"]


def observe(y, loss: str):
    """What the network's output *means* under a loss: itself (``mse``), or the Poisson rate
    ``softplus(y)`` in expected counts per step (``poisson``)."""
    return jax.nn.softplus(y) if loss == "poisson" else y


def _pointwise_loss(y, target, loss: str):
    """Loss of each output sample ``y`` against ``target`` (same shape): squared error or the
    Poisson negative log-likelihood under :func:`observe`'s rate."""
    if loss == "poisson":
        # negative Poisson log-likelihood of counts `target` under rate λ = softplus(y), without
        # the λ-independent log(k!) term; it also holds for trial-averaged (non-integer) counts
        rate = jax.nn.softplus(y)
        return rate - target * jnp.log(rate + 1e-8)
    return (y - target) ** 2


def _loss(trainable, frozen, data, key, strength, config):
    """Mean loss over contexts, and the per-context losses (context,), of the partitioned
    ``(network, controller)``; ``key`` draws every context's windows."""
    network, controller = combine(trainable, frozen)
    n_ctx = controller.bias.shape[0]
    keys = jax.random.split(key, n_ctx)
    per_context = jax.vmap(
        lambda c, k: _window_loss(network, controller, data, c, k, strength, config)
    )(jnp.arange(n_ctx), keys)
    # contexts weigh equally whatever their output dimension
    return jnp.mean(per_context), per_context


def _window_loss(network, controller, data, c_idx, key, strength, config: TrainingConfig):
    """Mean squared error of one context over ``batch_size`` random windows."""
    outputs, inputs, mask, n_train = data["outputs"][c_idx], data["inputs"][c_idx], \
        data["mask"][c_idx], data["n_train"][c_idx]
    bias = controller.bias[c_idx]
    x0 = controller.initial_state[c_idx]
    readout = effective_readout(network, controller)
    leak = effective_leak(network, controller)
    w, length = config.washout, config.window
    run_mode = config.run_mode
    has_inputs = inputs.shape[-1] > 0

    if run_mode == "autonomous":
        return _autonomous_loss(network, bias, x0, outputs[1 : length + 1], mask, key, config,
                                readout=readout, leak=leak)

    max_start = n_train - (w + length + 1)
    starts = jnp.floor(jax.random.uniform(key, (config.batch_size,)) * (max_start + 1)).astype(int)
    noise_keys = jax.random.split(jax.random.fold_in(key, 1), config.batch_size)

    def one(start, noise_key):
        seg_y = jax.lax.dynamic_slice_in_dim(outputs, start, w + length + 1)
        fed = seg_y
        if config.teacher_noise:
            # noisy teacher, clean target (Jaeger 2001): the fit must pull perturbed states back
            fed = seg_y + config.teacher_noise * jax.random.normal(noise_key, seg_y.shape,
                                                                   seg_y.dtype)
        seg_u = jax.lax.dynamic_slice_in_dim(inputs, start, w + length + 1)
        u_l = seg_u[w : w + length] if has_inputs else None
        kw = dict(readout=readout, output_mask=mask, leak=leak)
        start_state = warm_up(network, bias, x0, run_mode=run_mode, teacher=fed[:w],
                              inputs=seg_u[:w] if has_inputs else None, **kw)
        if not config.train_initial_state:
            # truncated BPTT: the warm-up is teacher-forced (or input-driven) and not scored
            start_state = jax.lax.stop_gradient(start_state)
        if run_mode == "closed_loop":
            _, y = simulate(network, bias, start_state, mode="closed_loop", inputs=u_l,
                            teacher=fed[w : w + length],
                            teacher_strength=_forcing_pattern(strength, length, config), **kw)
        else:  # driven
            _, y = simulate(network, bias, start_state, mode="driven", inputs=u_l, **kw)
        return jnp.sum(_pointwise_loss(y, seg_y[w + 1 :], config.loss) * mask)

    total = jnp.sum(jax.vmap(one)(starts, noise_keys))
    return total / (config.batch_size * length * jnp.sum(mask))


def _autonomous_loss(network, bias, x0, target, mask, key, config: TrainingConfig, *, readout,
                     leak):
    """Loss of the autonomous run from ``x0`` over ``target`` (window, output).

    With ``initial_state_noise = σ > 0`` the mean over ``batch_size`` runs from
    ``x0 + N(0, σ²)``: a perturbation excites every mode, so a slow mode that the noiseless run
    happens not to excite still costs (its variance over the window) and the fit damps it; the
    mean output is still fitted to the target.
    """
    def run(x):
        _, y = simulate(network, bias, x, mode="autonomous", n_steps=len(target),
                        readout=readout, leak=leak)
        return jnp.sum(_pointwise_loss(y, target, config.loss) * mask)

    if config.initial_state_noise == 0:
        return run(x0) / (len(target) * jnp.sum(mask))
    noise = config.initial_state_noise * jax.random.normal(key, (config.batch_size,) + x0.shape,
                                                            x0.dtype)
    total = jnp.sum(jax.vmap(run)(x0 + noise))
    return total / (config.batch_size * len(target) * jnp.sum(mask))


def warm_up(network, bias, initial_state, *, run_mode, teacher, inputs=None, readout=None,
            output_mask=None, leak=None):
    """The state after ``len(teacher)`` warm-up steps from ``initial_state``.

    Closed loop: the true output ``teacher`` (time, output) is fed back (teacher forcing 1);
    driven: the true ``inputs`` (time, input) drive the network. No steps: ``initial_state``.
    Used before every training window and before every free-running evaluation.
    """
    if teacher.shape[0] == 0:
        return initial_state
    kw = dict(readout=readout, output_mask=output_mask, leak=leak)
    if run_mode == "closed_loop":
        states, _ = simulate(network, bias, initial_state, mode="closed_loop", inputs=inputs,
                             teacher=teacher, teacher_strength=1.0, **kw)
    else:
        states, _ = simulate(network, bias, initial_state, mode="driven", inputs=inputs, **kw)
    return states[-1]
