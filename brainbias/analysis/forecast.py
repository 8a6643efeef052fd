"""Forecasts of a trained closed-loop network: free runs warmed up on a true trajectory, the
normalised forecast error from many held-out starts, and the valid prediction time counted
from it (Pathak et al. 2018; Vlachas et al. 2020)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from ..models.base import simulate
from ..training.control import effective_leak, effective_readout

__all__ = ["free_run", "forecast_errors", "valid_prediction_steps"]


def _padded(network, controller, trajectory):
    """``trajectory`` (time, output) padded to the network's outputs, and the simulation
    keywords: a context with fewer outputs than the network has its others masked (neither
    fed back nor scored), as in training."""
    y = jnp.asarray(trajectory)
    k, n = y.shape[1], network.n_outputs
    if k > n:
        raise ConfigError(f"forecast: the trajectory has {k} outputs, the network {n}.")
    mask = jnp.concatenate([jnp.ones(k), jnp.zeros(n - k)]).astype(y.dtype)
    y = jnp.concatenate([y, jnp.zeros((len(y), n - k), y.dtype)], axis=1)
    kw = dict(readout=effective_readout(network, controller),
              leak=effective_leak(network, controller), output_mask=mask)
    return y, k, kw


def free_run(network, controller, context: int, teacher, n_steps: int):
    """Warm up on ``teacher`` (time, output) with the true output fed back, then run
    ``n_steps`` free; returns the free-running outputs (n_steps, output) as NumPy."""
    from ..training.loop import warm_up

    teacher, k, kw = _padded(network, controller, teacher)
    bias = controller.bias[context]
    x = warm_up(network, bias, controller.initial_state[context], run_mode="closed_loop",
                teacher=teacher, **kw)
    _, y = simulate(network, bias, x, mode="closed_loop", n_steps=n_steps, **kw)
    return np.asarray(y)[:, :k]


def forecast_errors(network, controller, context: int, trajectory, *, washout: int,
                    horizon: int, n_starts: int):
    """Normalised forecast error ``e_t`` (start, time) from ``n_starts`` evenly spaced starts
    of ``trajectory`` (time, output): warm-up ``washout`` steps, then ``horizon`` free steps.

    ``e_t = ‖ŷ_t − y_t‖ / sqrt(mean_t ‖y_t − ȳ‖²)`` per start, as in
    :func:`brainbias.analysis.metrics.valid_prediction_time`.
    """
    from ..training.loop import warm_up

    y_all, k, kw = _padded(network, controller, trajectory)
    span = len(y_all) - washout - horizon - 1
    if span < 0:
        raise ConfigError(f"forecast_errors: the trajectory has {len(y_all)} steps, fewer than "
                          f"washout + horizon + 1 = {washout + horizon + 1}.")
    starts = jnp.asarray(np.linspace(0, span, n_starts).astype(int))
    bias, x0 = controller.bias[context], controller.initial_state[context]

    def one(s):
        seg = jax.lax.dynamic_slice_in_dim(y_all, s, washout + horizon + 1)
        x = warm_up(network, bias, x0, run_mode="closed_loop", teacher=seg[:washout], **kw)
        _, y = simulate(network, bias, x, mode="closed_loop", n_steps=horizon, **kw)
        truth, y = seg[washout + 1:, :k], y[:, :k]
        scale = jnp.sqrt(jnp.mean(jnp.sum((truth - truth.mean(0)) ** 2, axis=1)))
        return jnp.linalg.norm(y - truth, axis=1) / scale

    return np.asarray(jax.jit(jax.vmap(one))(starts))


def valid_prediction_steps(errors, threshold: float = 0.4) -> np.ndarray:
    """Leading steps of each row of ``errors`` (start, time) within ``threshold`` (the whole
    row if it never exceeds it; NaN counts as exceeded), as
    :func:`brainbias.analysis.metrics.valid_prediction_time` counts them."""
    errors = np.asarray(errors)
    over = ~(errors <= threshold)
    return np.where(over.any(axis=1), np.argmax(over, axis=1), errors.shape[1])
