"""The reservoir baseline: the readout solved in closed form by ridge regression."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from ..data.trajectory import Trajectory
from ..models.base import Model, rates, simulate
from .config import TrainingConfig
from .control import Controller
from .result import TrainResult
from .stacking import stack_targets

__all__ = ["fit_readout"]


def fit_readout(network: Model, controller: Controller, targets: Sequence[Trajectory],
                config: TrainingConfig) -> TrainResult:
    """Reservoir baseline: solve the readout in closed form by ridge regression.

    Rates are collected with the true output fed back (closed loop, full teacher forcing) or
    driven by the true inputs, on every context's training part after ``washout`` steps, pooled
    over contexts (one shared readout), and ``C`` solves
    ``min ‖Φ Cᵀ − Y‖² + ridge ‖C‖²`` per output over the contexts that define that output.
    The biases stay as initialised.
    """
    import scipy.linalg

    if controller.readout_weights is None:
        raise ConfigError("mode='readout' needs make_controller(..., mode='readout').")
    t0 = time.perf_counter()
    arrays = stack_targets(targets, test_fraction=config.test_fraction,
                           n_outputs=network.n_outputs, n_inputs=network.n_inputs)
    if config.run_mode == "autonomous":
        raise ConfigError("mode='readout' needs run_mode 'closed_loop' or 'driven': an autonomous "
                          "network's rates do not depend on the target.")
    phis, ys, masks = [], [], []
    for c in range(len(targets)):
        n = int(arrays.n_train[c])
        y = jnp.asarray(arrays.outputs[c, :n])
        u = jnp.asarray(arrays.inputs[c, :n]) if arrays.inputs.shape[-1] else None
        if config.run_mode == "closed_loop":
            states, _ = simulate(network, controller.bias[c], controller.initial_state[c],
                                 mode="closed_loop", inputs=u, teacher=y[:-1], teacher_strength=1.0,
                                 output_mask=jnp.asarray(arrays.output_mask[c]))
        else:
            states, _ = simulate(network, controller.bias[c], controller.initial_state[c],
                                 mode="driven", inputs=u[:-1])
        phi = np.asarray(rates(network, states))[config.washout :]
        phis.append(phi)
        ys.append(np.asarray(y[1:])[config.washout :])
        masks.append(np.broadcast_to(arrays.output_mask[c], ys[-1].shape))
    phi = np.concatenate(phis)
    y = np.concatenate(ys)
    m = np.concatenate(masks).astype(bool)
    readout = np.zeros((network.n_outputs, network.n_units))
    for o in range(network.n_outputs):
        rows = m[:, o]
        if not rows.any():
            continue
        p = phi[rows]
        gram = p.T @ p + config.ridge * len(p) * np.eye(network.n_units)
        readout[o] = scipy.linalg.solve(gram, p.T @ y[rows, o], assume_a="pos")
    controller = dataclasses.replace(
        controller, readout_weights=jnp.asarray(readout, controller.bias.dtype))
    return TrainResult(network=network, controller=controller,
                       loss=np.zeros((0, len(targets))), teacher_forcing=np.zeros(0),
                       config=config, stopped="closed_form", wall_time=time.perf_counter() - t0)
