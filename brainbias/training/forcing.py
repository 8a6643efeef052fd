"""Teacher-forcing schedules: how strongly the true output is fed back in a training window.

- annealed (:func:`_teacher_strength`): generalised teacher forcing with a strength annealed
  linearly from ``teacher_forcing_start`` to ``teacher_forcing_end``;
- adaptive (:func:`_adaptive_strength`, Hess et al. 2023): once per chunk, the strength that keeps
  the gradient product from exploding, from the closed-loop Jacobian's spectral norm
  (:func:`_jacobian_norm`);
- sparse (:func:`_forcing_pattern`, Mikhaeil et al. 2022): full forcing every k-th window step on
  top of either.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._pytree import combine
from ..models.base import autonomous_map, simulate
from .config import TrainingConfig
from .control import effective_leak, effective_readout


def _teacher_strength(iteration, config: TrainingConfig):
    """The annealed strength at ``iteration``: linear from ``teacher_forcing_start`` to
    ``teacher_forcing_end`` over ``teacher_forcing_fraction`` of the run (0 unless closed loop)."""
    if config.run_mode != "closed_loop":
        return jnp.zeros((), dtype=float)
    span = max(config.teacher_forcing_fraction * config.n_iterations, 1.0)
    frac = jnp.clip(iteration / span, 0.0, 1.0)
    start, end = config.teacher_forcing_start, config.teacher_forcing_end
    return start + (end - start) * frac


def _forcing_pattern(strength, length: int, config: TrainingConfig):
    """Teacher-forcing strength per window step: the (annealed) generalised strength, and with
    ``sparse_forcing_interval = k > 0`` full forcing every k-th step (sparse teacher forcing,
    Mikhaeil et al. 2022: k near the predictability time, about one Lyapunov time)."""
    k = config.sparse_forcing_interval
    if k == 0:
        return strength
    forced = (jnp.arange(length) % k) == 0
    return jnp.where(forced, 1.0, strength)


def _jacobian_norm(step_fn, x, key, n_power: int = 20):
    """Spectral norm of the Jacobian of ``step_fn`` at ``x`` by power iteration on JᵀJ."""
    v = jax.random.normal(key, x.shape, x.dtype)
    _, vjp = jax.vjp(step_fn, x)

    def body(_, v):
        v = v / (jnp.linalg.norm(v) + 1e-30)
        w = vjp(jax.jvp(step_fn, (x,), (v,))[1])[0]
        return w

    v = jax.lax.fori_loop(0, n_power, body, v)
    v = v / (jnp.linalg.norm(v) + 1e-30)
    return jnp.linalg.norm(jax.jvp(step_fn, (x,), (v,))[1])


def _adaptive_strength(trainable, frozen, data, key, config: TrainingConfig):
    """Adaptive generalised teacher forcing (Hess et al. 2023): ``α = max(α_min, 1 − 1/G)``.

    ``G`` is the geometric mean, over teacher-forced states of one training window per
    context, of the spectral norm of the free-running closed-loop map's Jacobian: the growth
    per step of a perturbation, so that forcing by α keeps the gradient product ``((1−α)G)^T``
    from exploding. ``α_min`` is ``teacher_forcing_end``; computed once per chunk.
    """
    network, controller = combine(trainable, frozen)
    readout = effective_readout(network, controller)
    leak = effective_leak(network, controller)
    n_ctx, length = controller.bias.shape[0], config.window

    def per_context(c, k):
        mask = data["mask"][c]
        k_start, k_norm = jax.random.split(k)
        start = jnp.floor(jax.random.uniform(k_start) * (data["n_train"][c] - length)).astype(int)
        seg = jax.lax.dynamic_slice_in_dim(data["outputs"][c], start, length)
        states, _ = simulate(network, controller.bias[c], controller.initial_state[c],
                             mode="closed_loop", teacher=seg, teacher_strength=1.0,
                             readout=readout, output_mask=mask, leak=leak)
        step_fn = autonomous_map(network, controller.bias[c], closed_loop=True, readout=readout,
                                 output_mask=mask, leak=leak)
        norms = jax.vmap(lambda x, kk: _jacobian_norm(step_fn, x, kk))(
            states, jax.random.split(k_norm, length))
        return jnp.exp(jnp.mean(jnp.log(norms + 1e-30)))

    g = jax.vmap(per_context)(jnp.arange(n_ctx), jax.random.split(key, n_ctx))
    alpha = jnp.max(1.0 - 1.0 / jnp.maximum(g, 1.0))
    alpha = jax.lax.stop_gradient(jnp.clip(alpha, config.teacher_forcing_end, 1.0))
    return alpha
