"""One compiled training chunk: ``chunk_size`` optimiser steps in one jit region.

:func:`_optimizer` is Adam with global-norm clipping and a learning-rate schedule, one group per
kind of trainable leaf (:func:`_labels`); :func:`_chunk` scans it over iterations with the
teacher-forcing strength of each. ``config`` and ``n_steps`` are static arguments, so configs must
stay hashable; ``_TRACE_COUNT`` lets tests assert that later chunks reuse the compiled one.
"""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import optax

from .._pytree import combine
from .config import TrainingConfig
from .control import Controller
from .forcing import _adaptive_strength, _teacher_strength
from .loss import _loss

# Trace counter (tests assert that later chunks reuse the compiled chunk).
_TRACE_COUNT = collections.Counter()


def _optimizer(config: TrainingConfig):
    """Clipped Adam per optimiser group (:func:`_labels`), each rate on ``config.schedule``."""
    def sched(lr):
        if config.schedule == "cosine":
            return optax.cosine_decay_schedule(lr, config.n_iterations,
                                               alpha=config.final_learning_rate_fraction)
        if config.schedule == "exponential":
            return optax.exponential_decay(lr, config.n_iterations,
                                           config.final_learning_rate_fraction)
        return optax.constant_schedule(lr)

    lr = config.learning_rate
    transforms = {
        "control": optax.adam(sched(lr)),
        "readout": optax.adam(sched(lr * config.readout_learning_rate_scale)),
        "weights": optax.adam(sched(lr * config.readout_learning_rate_scale)),
        "tau": optax.adam(sched(lr * config.tau_learning_rate_scale)),
    }
    return optax.chain(optax.clip_by_global_norm(config.grad_clip),
                       optax.multi_transform(transforms, _labels))


def _labels(trainable):
    """Optimiser group of each trainable leaf: biases/initial states, readout, weights, or the
    trained time constant."""
    net, ctrl = trainable

    def tag(x, name):
        return None if x is None else name

    return (
        jax.tree_util.tree_map(lambda _: "weights", net),
        Controller(bias=tag(ctrl.bias, "control"), initial_state=tag(ctrl.initial_state, "control"),
                   readout_weights=tag(ctrl.readout_weights, "readout"),
                   leak_logit=tag(ctrl.leak_logit, "tau"), contexts=ctrl.contexts),
    )


def _constrain(trainable, data):
    """Project trained network weights back onto the family's constraints
    (``network.constrain(reference)``: sign-constrained rate weights keep their signs, LTC
    conductances stay ≥ 0); the reference is the network before training (``mode="all"``)."""
    reference = data.get("reference_network")
    net, ctrl = trainable
    if reference is None or net is None or not hasattr(reference, "constrain"):
        return trainable
    full = combine(net, reference)  # frozen holes (none in mode "all") from the reference
    projected = full.constrain(reference)
    net = jax.tree_util.tree_map(lambda new, old: None if old is None else new, projected, net,
                                 is_leaf=lambda x: x is None)
    return net, ctrl


def _chunk_impl(trainable, frozen, opt_state, data, key, start, config, n_steps):
    """Iterations ``start … start + n_steps − 1``: the updated trainable partition and optimiser
    state, the losses (iteration, context) and the teacher-forcing strengths (iteration,)."""
    _TRACE_COUNT["chunk"] += 1
    opt = _optimizer(config)
    grad_fn = jax.value_and_grad(_loss, has_aux=True)

    adaptive = config.run_mode == "closed_loop" and config.teacher_forcing == "adaptive"
    if adaptive:
        # its own stream of the key, apart from the per-iteration window draws
        alpha_key = jax.random.fold_in(jax.random.fold_in(key, 2**31 - 1), start)
        alpha = _adaptive_strength(trainable, frozen, data, alpha_key, config)

    def body(carry, i):
        trainable, opt_state = carry
        it = start + i
        strength = alpha if adaptive else _teacher_strength(it, config)
        (_, per_context), grads = grad_fn(trainable, frozen, data, jax.random.fold_in(key, it),
                                          strength, config)
        updates, opt_state = opt.update(grads, opt_state, trainable)
        trainable = _constrain(optax.apply_updates(trainable, updates), data)
        return (trainable, opt_state), (per_context, strength)

    (trainable, opt_state), (losses, strengths) = jax.lax.scan(
        body, (trainable, opt_state), jnp.arange(n_steps))
    return trainable, opt_state, losses, strengths


_chunk = jax.jit(_chunk_impl, static_argnames=("config", "n_steps"))
