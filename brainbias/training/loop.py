"""Fit the controller of a fixed network to target trajectories by BPTT.

One compiled function runs a *chunk* of ``chunk_size`` optimiser steps (``lax.scan`` over
iterations; ``vmap`` over contexts and windows; ``lax.scan`` over time inside). Between chunks the
Python loop updates the progress bar, checks for non-finite values, checkpoints and applies early
stopping. Randomness for iteration ``i`` is ``fold_in(key, i)``, so a resumed run draws the same
windows as an uninterrupted one and ends bit-identical.

Gradients are taken with respect to the *trainable* partition of ``(network, controller)`` only
(:func:`brainbias.training.control.trainable_mask`); in ``mode="bias"`` the weights are never
touched.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._errors import ConfigError, DataError, TrainingError, TrainingInterrupted
from .._pytree import combine, partition
from ..config import TrainingConfig, to_dict
from ..data.trajectory import Trajectory
from ..models.rate import Network, autonomous_map, simulate
from .control import Controller, effective_leak, effective_readout, trainable_mask

__all__ = ["TrainResult", "fit", "fit_readout", "stack_targets", "TargetArrays", "warm_up"]

# Trace counter (tests assert that later chunks reuse the compiled chunk).
_TRACE_COUNT = collections.Counter()

CHECKPOINT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class TargetArrays:
    """Targets of all contexts stacked on a leading context axis (padded, masked).

    outputs : (context, time, output); inputs : (context, time, input);
    output_mask : (context, output) 1 where the context defines that output;
    n_steps : (context,) valid length; n_train : (context,) steps usable for training.
    """

    outputs: np.ndarray
    inputs: np.ndarray
    output_mask: np.ndarray
    n_steps: np.ndarray
    n_train: np.ndarray
    dt: float
    output_names: tuple
    input_names: tuple


def stack_targets(targets: Sequence[Trajectory], *, test_fraction: float = 0.0,
                  n_outputs: int | None = None, n_inputs: int | None = None) -> TargetArrays:
    """Stack per-context trajectories into padded arrays.

    Contexts may have different output dimensions (e.g. 3-D Lorenz and a 2-D limit cycle): outputs
    are padded to the largest and masked; the readout has that many rows and a context's unused
    outputs are neither scored nor fed back.

    Raises
    ------
    DataError
        Different ``dt`` across targets, more outputs/inputs than the network has.
    """
    targets = list(targets)
    if not targets:
        raise DataError("targets: expected at least one Trajectory, got none.")
    for t in targets:
        if not isinstance(t, Trajectory):
            raise DataError(f"targets: expected Trajectory objects, got {type(t).__name__}.")
    dts = {t.dt for t in targets}
    if len(dts) != 1:
        raise DataError(
            "targets: all contexts must share one sampling interval dt (the network makes one "
            f"step per sample), got {sorted(dts)}. Resample them to a common dt."
        )
    n_out = max(t.n_outputs for t in targets)
    n_in = max(t.n_inputs for t in targets)
    if n_outputs is not None and n_out > n_outputs:
        bad = [f"{t.name} ({t.n_outputs})" for t in targets if t.n_outputs > n_outputs]
        raise DataError(f"targets: the network has {n_outputs} outputs but these targets have "
                        f"more: {', '.join(bad)}. Build the network with n_outputs={n_out}.")
    if n_inputs is not None and n_in != n_inputs and n_in > 0:
        raise DataError(f"targets: the network has {n_inputs} inputs but targets have {n_in}.")
    n_out = n_outputs if n_outputs is not None else n_out
    n_in = n_inputs if n_inputs is not None else n_in
    t_max = max(t.n_steps for t in targets)
    c = len(targets)
    outputs = np.zeros((c, t_max, n_out))
    inputs = np.zeros((c, t_max, n_in))
    mask = np.zeros((c, n_out))
    for i, t in enumerate(targets):
        outputs[i, : t.n_steps, : t.n_outputs] = t.outputs
        mask[i, : t.n_outputs] = 1.0
        if t.inputs is not None:
            inputs[i, : t.n_steps, : t.n_inputs] = t.inputs
    n_steps = np.array([t.n_steps for t in targets])
    n_train = np.floor(n_steps * (1.0 - test_fraction)).astype(int)
    names = max((t.output_names for t in targets), key=len)
    names = tuple(names) + tuple(f"y{i}" for i in range(len(names), n_out))
    in_names = max((t.input_names for t in targets), key=len)
    in_names = tuple(in_names) + tuple(f"u{i}" for i in range(len(in_names), n_in))
    return TargetArrays(outputs, inputs, mask, n_steps, n_train, dts.pop(), names, in_names)


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What :func:`fit` returns.

    network, controller : the (possibly) updated pytrees (``mode="bias"`` leaves the network
    bit-identical); loss : ndarray (iteration, context) training loss per iteration;
    teacher_forcing : ndarray (iteration,) the strength used; stopped : why training ended;
    wall_time : seconds spent in this call.
    """

    network: Network
    controller: Controller
    loss: np.ndarray
    teacher_forcing: np.ndarray
    config: TrainingConfig
    stopped: str
    wall_time: float


# ----------------------------------------------------------------------------- loss


def observe(y, loss: str):
    """What the network's output *means* under a loss: itself (``mse``), or the Poisson rate
    ``softplus(y)`` in expected counts per step (``poisson``)."""
    return jax.nn.softplus(y) if loss == "poisson" else y


def _pointwise_loss(y, target, loss: str):
    if loss == "poisson":
        # negative Poisson log-likelihood of counts `target` under rate λ = softplus(y), without
        # the λ-independent log(k!) term; it also holds for trial-averaged (non-integer) counts
        rate = jax.nn.softplus(y)
        return rate - target * jnp.log(rate + 1e-8)
    return (y - target) ** 2


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


def _loss(trainable, frozen, data, key, strength, config):
    network, controller = combine(trainable, frozen)
    n_ctx = controller.bias.shape[0]
    keys = jax.random.split(key, n_ctx)
    per_context = jax.vmap(
        lambda c, k: _window_loss(network, controller, data, c, k, strength, config)
    )(jnp.arange(n_ctx), keys)
    # contexts weigh equally whatever their output dimension
    return jnp.mean(per_context), per_context


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


def _teacher_strength(iteration, config: TrainingConfig):
    if config.run_mode != "closed_loop":
        return jnp.zeros((), dtype=float)
    span = max(config.teacher_forcing_fraction * config.n_iterations, 1.0)
    frac = jnp.clip(iteration / span, 0.0, 1.0)
    start, end = config.teacher_forcing_start, config.teacher_forcing_end
    return start + (end - start) * frac


def _optimizer(config: TrainingConfig):
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


def _chunk_impl(trainable, frozen, opt_state, data, key, start, config, n_steps):
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
        trainable = optax.apply_updates(trainable, updates)
        return (trainable, opt_state), (per_context, strength)

    (trainable, opt_state), (losses, strengths) = jax.lax.scan(
        body, (trainable, opt_state), jnp.arange(n_steps))
    return trainable, opt_state, losses, strengths


_chunk = jax.jit(_chunk_impl, static_argnames=("config", "n_steps"))


# ----------------------------------------------------------------------------- fit


def _check_contexts(controller, targets):
    names = tuple(t.name for t in targets)
    if names != controller.contexts:
        raise ConfigError(
            f"targets: their names {list(names)} must equal the controller's contexts "
            f"{list(controller.contexts)}, in order (a context is named after its target)."
        )


def _data_arrays(arrays: TargetArrays, dtype):
    return {
        "outputs": jnp.asarray(arrays.outputs, dtype),
        "inputs": jnp.asarray(arrays.inputs, dtype),
        "mask": jnp.asarray(arrays.output_mask, dtype),
        "n_train": jnp.asarray(arrays.n_train),
    }


def _check_lengths(arrays: TargetArrays, config: TrainingConfig, contexts):
    need = config.window + 1 if config.run_mode == "autonomous" else \
        config.washout + config.window + 1
    for name, n in zip(contexts, arrays.n_train, strict=True):
        if n < need:
            raise ConfigError(
                f"target {name!r}: {n} training steps (after holding out test_fraction="
                f"{config.test_fraction}) but a window needs washout + window + 1 = {need}. "
                "Use a longer target or a shorter window/washout."
            )


def _tree_digest(tree) -> str:
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()


def fit(
    network: Network,
    controller: Controller,
    targets: Sequence[Trajectory],
    config: TrainingConfig | None = None,
    *,
    key,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    callback=None,
) -> TrainResult:
    """Train the controller so that each context's output reproduces its target.

    Parameters
    ----------
    network : Network
        Fixed weights (trained only in ``mode="all"``).
    controller : Controller
        One bias per context; ``controller.contexts`` must equal the targets' names, in order.
    targets : sequence of Trajectory
        One per context, sharing ``dt``; their ``n_outputs`` may differ (masked).
    config : TrainingConfig, optional
    key : jax.random.PRNGKey
        Draws the training windows (``fold_in(key, iteration)``).
    checkpoint : path, optional
        ``.npz`` file written every ``checkpoint_every`` chunks, on Ctrl-C and on a non-finite
        loss (then holding the last good state).
    resume : bool
        Continue from ``checkpoint``; gives the same result as an uninterrupted run.
    progress : bool
        Show a tqdm progress bar with the current loss.
    callback : callable, optional
        ``callback(iteration, network, controller)`` after every chunk, with the current
        (combined) pytrees, e.g. to score free runs on a validation trajectory and keep the
        best model (:class:`brainbias.experiment.selection.ValidationSelector`). It must not modify
        them.

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError
        Context names that do not match the targets, targets too short for the windows, a
        checkpoint from another configuration.
    TrainingError
        A non-finite loss or parameter (the last good state is checkpointed).
    TrainingInterrupted
        Ctrl-C; the last completed chunk is checkpointed.

    Examples
    --------
    >>> import jax
    >>> from brainbias import make_network, make_controller, targets
    >>> from brainbias.training.loop import fit
    >>> from brainbias.config import TrainingConfig
    >>> target = targets.cosine(period_steps=25, n_steps=400)
    >>> net = make_network(64, n_outputs=1, dt=1.0, tau=1.0, key=jax.random.PRNGKey(0))
    >>> ctrl = make_controller(net, [target.name], key=jax.random.PRNGKey(1))
    >>> cfg = TrainingConfig(n_iterations=20, chunk_size=10, run_mode="autonomous", window=50,
    ...                      train_initial_state=True)
    >>> result = fit(net, ctrl, [target], cfg, key=jax.random.PRNGKey(2), progress=False)
    >>> result.loss.shape
    (20, 1)
    """
    config = TrainingConfig() if config is None else config
    if not isinstance(config, TrainingConfig):
        raise ConfigError(f"config: expected a TrainingConfig, got {type(config).__name__}.")
    targets = list(targets)
    _check_contexts(controller, targets)
    arrays = stack_targets(targets, test_fraction=config.test_fraction,
                           n_outputs=network.n_outputs, n_inputs=network.n_inputs)
    if config.run_mode == "driven" and arrays.inputs.shape[-1] == 0:
        raise ConfigError("training.run_mode='driven' needs targets with inputs "
                          "(e.g. kind='lorenz_forecast').")
    if not np.isclose(arrays.dt, network.dt):
        raise ConfigError(f"network.dt={network.dt} differs from the targets' dt={arrays.dt}: "
                          "the network makes one step per target sample.")
    if config.loss == "poisson" and np.any(arrays.outputs < 0):
        raise DataError("training.loss='poisson' needs non-negative targets (counts per step); "
                        "these targets have negative values. Use loss='mse' for rates that were "
                        "standardised or otherwise shifted.")
    if config.mode == "readout":
        if config.loss != "mse":
            raise ConfigError("mode='readout' solves a ridge (squared-error) problem; use "
                              "loss='mse' with it.")
        return fit_readout(network, controller, targets, config)
    _check_lengths(arrays, config, controller.contexts)
    original_network = network
    dtype = jnp.dtype(config.dtype)
    cast = lambda tree: jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), tree)  # noqa: E731
    network, controller = cast(network), cast(controller)
    data = _data_arrays(arrays, dtype)

    mask = trainable_mask(network, controller, config.mode,
                          train_initial_state=config.train_initial_state)
    trainable, frozen = partition((network, controller), mask)
    opt_state = _optimizer(config).init(trainable)

    start = 0
    losses: list = []
    strengths: list = []
    best, bad_chunks = np.inf, 0
    frozen_digest = _tree_digest(frozen)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume:
        if ckpt is None:
            raise ConfigError("resume=True needs a checkpoint path.")
        state = _load_checkpoint(ckpt, trainable, opt_state, config, frozen_digest)
        trainable, opt_state, start = state["trainable"], state["opt_state"], state["iteration"]
        losses, strengths = list(state["loss"]), list(state["teacher_forcing"])
        best, bad_chunks = state["best"], state["bad_chunks"]

    def save(tr, os_, it):
        if ckpt is not None:
            _save_checkpoint(ckpt, tr, os_, it, np.array(losses).reshape(-1, len(targets)),
                             np.array(strengths), best, bad_chunks, config, frozen_digest)

    from tqdm.auto import tqdm

    bar = tqdm(total=config.n_iterations, initial=start, desc="fit", unit="it",
               disable=not progress, dynamic_ncols=True, leave=False)
    stopped = "completed"
    t0 = time.perf_counter()
    base_key = key
    chunks_done = 0
    try:
        while start < config.n_iterations:
            n = min(config.chunk_size, config.n_iterations - start)
            new_tr, new_os, chunk_loss, chunk_s = _chunk(
                trainable, frozen, opt_state, data, base_key, start,
                config=config, n_steps=n)
            chunk_loss = np.asarray(chunk_loss)
            finite = np.all(np.isfinite(chunk_loss)) and all(
                bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(new_tr))
            if not finite:
                bad_at = start + int(np.argmax(~np.all(np.isfinite(chunk_loss), axis=1)))
                save(trainable, opt_state, start)
                where = f" Last good state (iteration {start}) is in {ckpt}." if ckpt else ""
                raise TrainingError(
                    f"training: the loss became non-finite at iteration {bad_at}.{where} "
                    "Lower training.learning_rate or training.grad_clip, or check the targets' "
                    "scale."
                )
            trainable, opt_state = new_tr, new_os
            losses.extend(chunk_loss.tolist())
            strengths.extend(np.asarray(chunk_s).tolist())
            start += n
            chunks_done += 1
            bar.update(n)
            bar.set_postfix(loss=f"{chunk_loss[-1].mean():.4g}",
                            forcing=f"{float(chunk_s[-1]):.2f}")
            # early stopping only once teacher forcing has reached its final strength: while it
            # anneals the loss rises by design
            annealed = start >= config.teacher_forcing_fraction * config.n_iterations
            mean = float(chunk_loss.mean())
            if mean < best * (1.0 - config.min_delta):
                best, bad_chunks = mean, 0
            elif annealed:
                bad_chunks += 1
            if config.checkpoint_every and chunks_done % config.checkpoint_every == 0:
                save(trainable, opt_state, start)
            if callback is not None:
                callback(start, *combine(trainable, frozen))
            if config.patience and annealed and bad_chunks >= config.patience:
                stopped = "early_stopping"
                break
    except KeyboardInterrupt:
        save(trainable, opt_state, start)
        bar.close()
        where = f"; resume with --resume (checkpoint {ckpt})" if ckpt else ""
        raise TrainingInterrupted(
            f"training interrupted at iteration {start}{where}.") from None
    finally:
        bar.close()
    save(trainable, opt_state, start)
    trained_network, controller = combine(trainable, frozen)
    # fixed weights are returned as the very arrays passed in (bit-identical, original dtype)
    network = trained_network if config.mode == "all" else original_network
    return TrainResult(
        network=network,
        controller=controller,
        loss=np.array(losses).reshape(-1, len(targets)),
        teacher_forcing=np.array(strengths),
        config=config,
        stopped=stopped,
        wall_time=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- ridge readout


def fit_readout(network: Network, controller: Controller, targets: Sequence[Trajectory],
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
        from ..models.rate import rates

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


# ----------------------------------------------------------------------------- checkpoints


def _save_checkpoint(path: Path, trainable, opt_state, iteration, loss, strengths, best,
                     bad_chunks, config, frozen_digest):
    arrays = {}
    for prefix, tree in (("trainable", trainable), ("opt", opt_state)):
        for i, leaf in enumerate(jax.tree_util.tree_leaves(tree)):
            arrays[f"{prefix}_{i}"] = np.asarray(leaf)
    meta = dict(version=CHECKPOINT_VERSION, iteration=int(iteration), best=float(best),
                bad_chunks=int(bad_chunks), config=to_dict(config), frozen_digest=frozen_digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, loss=np.asarray(loss), teacher_forcing=np.asarray(strengths),
                 meta=np.array(json.dumps(meta)), **arrays)
    os.replace(tmp, path)  # atomic: a crash mid-write never leaves a half checkpoint


def _load_checkpoint(path: Path, trainable, opt_state, config, frozen_digest):
    try:
        with np.load(path, allow_pickle=False) as z:
            files = dict(z)
    except FileNotFoundError:
        raise ConfigError(f"resume: no checkpoint at {path}.") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"resume: {path} is not a readable brainbias checkpoint ({exc}).") from None
    meta = json.loads(str(files["meta"]))
    if meta.get("version") != CHECKPOINT_VERSION:
        raise DataError(f"resume: checkpoint version {meta.get('version')} is not supported.")
    if meta["config"] != to_dict(config):
        raise ConfigError(f"resume: {path} was written with a different training config; "
                          "resume only with the exact config of the interrupted run.")
    if meta["frozen_digest"] != frozen_digest:
        raise ConfigError(f"resume: {path} was written for a different network (fixed weights "
                          "differ); use the same seed and network config.")

    def restore(prefix, tree):
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        new = [jnp.asarray(files[f"{prefix}_{i}"], dtype=jnp.asarray(leaf).dtype)
               for i, leaf in enumerate(leaves)]
        return jax.tree_util.tree_unflatten(treedef, new)

    return dict(trainable=restore("trainable", trainable), opt_state=restore("opt", opt_state),
                iteration=meta["iteration"], loss=files["loss"].reshape(-1, files["loss"].shape[-1])
                if files["loss"].size else [], teacher_forcing=files["teacher_forcing"],
                best=meta["best"], bad_chunks=meta["bad_chunks"])
