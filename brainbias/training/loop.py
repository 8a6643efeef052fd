"""Fit the controller of a fixed network to target trajectories by BPTT.

One compiled function runs a *chunk* of ``chunk_size`` optimiser steps (``lax.scan`` over
iterations; ``vmap`` over contexts and windows; ``lax.scan`` over time inside). Between chunks the
Python loop updates the progress bar, checks for non-finite values, checkpoints and applies early
stopping. Randomness for iteration ``i`` is ``fold_in(key, i)``, so a resumed run draws the same
windows as an uninterrupted one and ends bit-identical.

Gradients are taken with respect to the *trainable* partition of ``(network, controller)`` only
(:func:`brainbias.training.control.trainable_mask`); in ``mode="bias"`` the weights are never
touched.

This module is the loop itself (:func:`fit`: set-up, resume, the chunk loop, the result); the
parts it runs live beside it and are re-exported here:

``stacking``     :func:`stack_targets` (targets on one context axis, padded and masked);
``loss``         :func:`observe` (the loss's link), the window losses and :func:`warm_up`;
``forcing``      the teacher-forcing schedules (annealed, adaptive, sparse);
``chunk``        the optimiser and the compiled chunk;
``readout``      :func:`fit_readout`, the ridge readout baseline (``mode="readout"``);
``checkpoints``  saving and loading a fit's state;
``result``       :class:`TrainResult`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, DataError, TrainingError, TrainingInterrupted
from .._pytree import combine, partition
from ..data.trajectory import Trajectory
from ..models.base import Model
from .checkpoints import _load_checkpoint, _save_checkpoint, _tree_digest
from .chunk import _TRACE_COUNT, _chunk, _optimizer  # noqa: F401 (re-export)
from .config import TrainingConfig
from .control import Controller, trainable_mask
from .forcing import _adaptive_strength, _forcing_pattern  # noqa: F401 (re-export)
from .loss import _loss, observe, warm_up  # noqa: F401 (re-export)
from .readout import fit_readout
from .result import TrainResult
from .stacking import TargetArrays, _check_lengths, _data_arrays, stack_targets

__all__ = ["TrainResult", "fit", "fit_readout", "stack_targets", "TargetArrays", "warm_up"]

# The re-exports above keep every name importable from here that callers and tests have always
# imported from here (tests reach the private ones as ``loop._name``). ``fit`` looks ``_chunk``
# up in this module at call time, so that a test may replace it here.


def fit(
    network: Model,
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
    network : Model
        Any model family (:mod:`brainbias.models`): fixed weights (trained only in ``mode="all"``).
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
    >>> from brainbias import make_controller, make_network
    >>> from brainbias.data import targets
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
    arrays = _check_targets(network, controller, targets, config)
    if config.mode == "readout":
        if config.loss != "mse":
            raise ConfigError("mode='readout' solves a ridge (squared-error) problem; use "
                              "loss='mse' with it.")
        return fit_readout(network, controller, targets, config)
    _check_lengths(arrays, config, controller.contexts)
    run, state = _set_up(network, controller, arrays, config, checkpoint)
    if resume:
        _resume(run, state)
    t0 = time.perf_counter()
    stopped = _train(run, state, key, progress=progress, callback=callback)
    _save(run, state)
    result = _result(run, state, network, stopped, wall_time=time.perf_counter() - t0)
    if config.polish == "levenberg_marquardt":
        result = _polish(result, run.data, callback=callback, progress=progress, t0=t0)
    return result


def _check_targets(network, controller, targets, config) -> TargetArrays:
    """The stacked targets, after checking that they fit the network, controller and config."""
    _check_contexts(controller, targets)
    arrays = stack_targets(targets, test_fraction=config.test_fraction,
                           validation_fraction=config.held_out_for_validation,
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
    return arrays


def _check_contexts(controller, targets):
    """Raise a ConfigError unless the targets' names are the controller's contexts, in order."""
    names = tuple(t.name for t in targets)
    if names != controller.contexts:
        raise ConfigError(
            f"targets: their names {list(names)} must equal the controller's contexts "
            f"{list(controller.contexts)}, in order (a context is named after its target)."
        )


# ----------------------------------------------------------------------------- the run's state


@dataclasses.dataclass(frozen=True)
class _Run:
    """What stays fixed during one fit: the frozen partition, the data, the config, the
    checkpoint path (or None) and the digest that ties a checkpoint to the fixed weights."""

    frozen: tuple
    data: dict
    config: TrainingConfig
    n_contexts: int
    checkpoint: Path | None
    frozen_digest: str


@dataclasses.dataclass
class _Progress:
    """The Python loop's bookkeeping between chunks (the compiled chunk itself is pure): the
    trainable partition and optimiser state after ``iteration`` iterations, the losses and
    strengths so far, and the early-stopping record."""

    trainable: tuple
    opt_state: object
    iteration: int = 0
    losses: list = dataclasses.field(default_factory=list)
    strengths: list = dataclasses.field(default_factory=list)
    best: float = np.inf
    bad_chunks: int = 0


def _set_up(network, controller, arrays, config, checkpoint) -> tuple[_Run, _Progress]:
    """Cast to the training dtype, split ``(network, controller)`` into the trainable and
    frozen partitions of ``config.mode`` and initialise the optimiser."""
    dtype = jnp.dtype(config.dtype)
    # integer leaves (the synapse indices of sparse weights) are structure: never cast
    cast = lambda tree: jax.tree_util.tree_map(  # noqa: E731
        lambda a: a if jnp.issubdtype(jnp.result_type(a), jnp.integer) else jnp.asarray(a, dtype),
        tree)
    network, controller = cast(network), cast(controller)
    data = _data_arrays(arrays, dtype)
    if config.mode == "all":  # trained weights keep the family's constraints (signs, g ≥ 0)
        data["reference_network"] = network

    mask = trainable_mask(network, controller, config.mode,
                          train_initial_state=config.train_initial_state)
    trainable, frozen = partition((network, controller), mask)
    opt_state = _optimizer(config).init(trainable)
    run = _Run(frozen=frozen, data=data, config=config, n_contexts=len(arrays.n_steps),
               checkpoint=Path(checkpoint) if checkpoint is not None else None,
               frozen_digest=_tree_digest(frozen))
    return run, _Progress(trainable=trainable, opt_state=opt_state)


def _resume(run: _Run, state: _Progress):
    """Continue ``state`` from the run's checkpoint (same config and fixed weights)."""
    if run.checkpoint is None:
        raise ConfigError("resume=True needs a checkpoint path.")
    saved = _load_checkpoint(run.checkpoint, state.trainable, state.opt_state, run.config,
                             run.frozen_digest)
    state.trainable, state.opt_state = saved["trainable"], saved["opt_state"]
    state.iteration = saved["iteration"]
    state.losses, state.strengths = list(saved["loss"]), list(saved["teacher_forcing"])
    state.best, state.bad_chunks = saved["best"], saved["bad_chunks"]


def _save(run: _Run, state: _Progress):
    """Checkpoint ``state`` (if the fit has a checkpoint path)."""
    if run.checkpoint is not None:
        _save_checkpoint(run.checkpoint, state.trainable, state.opt_state, state.iteration,
                         np.array(state.losses).reshape(-1, run.n_contexts),
                         np.array(state.strengths), state.best, state.bad_chunks, run.config,
                         run.frozen_digest)


# ----------------------------------------------------------------------------- the chunk loop


def _train(run: _Run, state: _Progress, key, *, progress, callback) -> str:
    """Run chunks until ``n_iterations`` or early stopping; return why training stopped.

    After every chunk: progress bar, early-stopping record, checkpoint every
    ``checkpoint_every`` chunks, then ``callback``. Ctrl-C checkpoints the last completed chunk
    and raises TrainingInterrupted.
    """
    from tqdm.auto import tqdm

    config = run.config
    bar = tqdm(total=config.n_iterations, initial=state.iteration, desc="fit", unit="it",
               disable=not progress, dynamic_ncols=True, leave=False)
    chunks_done = 0
    try:
        while state.iteration < config.n_iterations:
            n = min(config.chunk_size, config.n_iterations - state.iteration)
            chunk_loss, chunk_s = _advance(run, state, key, n)
            chunks_done += 1
            bar.update(n)
            bar.set_postfix(loss=f"{chunk_loss[-1].mean():.4g}",
                            forcing=f"{float(chunk_s[-1]):.2f}")
            annealed = _track_improvement(config, state, chunk_loss)
            if config.checkpoint_every and chunks_done % config.checkpoint_every == 0:
                _save(run, state)
            if callback is not None:
                callback(state.iteration, *combine(state.trainable, run.frozen))
            if config.patience and annealed and state.bad_chunks >= config.patience:
                return "early_stopping"
    except KeyboardInterrupt:
        _save(run, state)
        bar.close()
        where = f"; resume with --resume (checkpoint {run.checkpoint})" if run.checkpoint else ""
        raise TrainingInterrupted(
            f"training interrupted at iteration {state.iteration}{where}.") from None
    finally:
        bar.close()
    return "completed"


def _advance(run: _Run, state: _Progress, key, n: int):
    """Run one chunk of ``n`` iterations and take its result into ``state``; return its losses
    (iteration, context) and strengths (iteration,).

    Raises TrainingError, after checkpointing the last good state, if a loss or a parameter
    became non-finite.
    """
    new_tr, new_os, chunk_loss, chunk_s = _chunk(
        state.trainable, run.frozen, state.opt_state, run.data, key, state.iteration,
        config=run.config, n_steps=n)
    chunk_loss = np.asarray(chunk_loss)
    finite = np.all(np.isfinite(chunk_loss)) and all(
        bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(new_tr))
    if not finite:
        bad_at = state.iteration + int(np.argmax(~np.all(np.isfinite(chunk_loss), axis=1)))
        _save(run, state)
        where = (f" Last good state (iteration {state.iteration}) is in {run.checkpoint}."
                 if run.checkpoint else "")
        raise TrainingError(
            f"training: the loss became non-finite at iteration {bad_at}.{where} "
            "Lower training.learning_rate or training.grad_clip, or check the targets' "
            "scale."
        )
    state.trainable, state.opt_state = new_tr, new_os
    state.losses.extend(chunk_loss.tolist())
    state.strengths.extend(np.asarray(chunk_s).tolist())
    state.iteration += n
    return chunk_loss, chunk_s


def _track_improvement(config: TrainingConfig, state: _Progress, chunk_loss) -> bool:
    """Update the early-stopping record with a chunk's mean loss; return whether teacher
    forcing has reached its final strength (only then do chunks without improvement count:
    while it anneals the loss rises by design)."""
    annealed = state.iteration >= config.teacher_forcing_fraction * config.n_iterations
    mean = float(chunk_loss.mean())
    if mean < state.best * (1.0 - config.min_delta):
        state.best, state.bad_chunks = mean, 0
    elif annealed:
        state.bad_chunks += 1
    return annealed


# ----------------------------------------------------------------------------- the result


def _polish(result: TrainResult, data, *, callback, progress, t0) -> TrainResult:
    """``result`` after the Levenberg–Marquardt finish of :mod:`.polish`. The callback sees
    every step as iteration ``n_iterations + k``; one with a ``consider`` method (a
    :class:`~brainbias.experiment.selection.ValidationSelector`) scores every step, whatever
    its ``every``: each step is a large update."""
    from .polish import levenberg_marquardt

    each_step = getattr(callback, "consider", callback)
    controller, polish_loss = levenberg_marquardt(
        result.network, result.controller, data, result.config, callback=each_step,
        first_iteration=len(result.loss), progress=progress)
    stopped = f"{result.stopped}; {len(polish_loss) - 1} Levenberg-Marquardt steps"
    return dataclasses.replace(result, controller=controller, polish_loss=polish_loss,
                               stopped=stopped, wall_time=time.perf_counter() - t0)


def _result(run: _Run, state: _Progress, original_network, stopped, *, wall_time) -> TrainResult:
    """The TrainResult of a finished run."""
    trained_network, controller = combine(state.trainable, run.frozen)
    # fixed weights are returned as the very arrays passed in (bit-identical, original dtype)
    network = trained_network if run.config.mode == "all" else original_network
    return TrainResult(
        network=network,
        controller=controller,
        loss=np.array(state.losses).reshape(-1, run.n_contexts),
        teacher_forcing=np.array(state.strengths),
        config=run.config,
        stopped=stopped,
        wall_time=wall_time,
    )
