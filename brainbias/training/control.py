"""The tonic-input controller: what a fit is allowed to change.

A :class:`Controller` holds one bias vector per context (shape (context, unit), even with one
context), an initial state per context, and optionally a trained readout. The fixed network
(any family, :class:`~brainbias.models.base.Model`) is a separate argument. A *training mode* is
a choice of which leaves of ``(network, controller)`` receive gradients — a partition of the
same pytrees, not a branch in the model (cf. Equinox ``partition``):

=================  ==================================================================
``bias``           controller.bias (default) — the Williams et al. (2024) setting
``bias+readout``   controller.bias and controller.readout_weights
``readout``        controller.readout_weights only, solved in closed form (ridge);
                   the reservoir-computing baseline
``bias+tau``       controller.bias and ONE global time constant, controller.leak_logit
``all``            every network weight and the controller (full-training baseline)
=================  ==================================================================

``train_initial_state=True`` adds controller.initial_state to any gradient-based mode.

**A trained time constant** is a controller leaf like a trained readout: the network keeps its
static ``tau`` (the starting value), and the controller holds ``leak_logit`` = θ with the leak
``a = dt / τ = sigmoid(θ)``, so that ``τ = dt / sigmoid(θ) > dt`` whatever θ the optimiser
reaches (the Euler step never overshoots), and an Adam step in θ is a relative step in τ
(``d ln τ / dθ = −(1 − a)``). :func:`effective_leak` gives the leak in use; every simulation of
a fitted controller passes it to :func:`brainbias.models.base.simulate`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from .._errors import ConfigError, did_you_mean
from .._pytree import pytree_dataclass, static_field
from ..models.base import Model

__all__ = ["Controller", "TRAINING_MODES", "make_controller", "trainable_mask", "effective_readout",
           "effective_leak", "effective_tau", "leak_logit_of"]

TRAINING_MODES = ("bias", "bias+readout", "readout", "bias+tau", "all")


@pytree_dataclass
class Controller:
    """Trainable tonic inputs (a pytree).

    Parameters
    ----------
    bias : array, shape (context, unit)
        ``b`` per context.
    initial_state : array, shape (context, unit)
    readout_weights : array, shape (output, unit), or None
        A trained readout shared by all contexts; ``None`` means the network's fixed readout.
    leak_logit : array, shape (), or None
        θ of a trained global time constant, leak ``a = dt / τ = sigmoid(θ)`` shared by all
        contexts; ``None`` means the network's static ``tau``.
    contexts : tuple of str
        Context names, in the order of the context axis.
    """

    bias: jax.Array
    initial_state: jax.Array
    readout_weights: jax.Array | None = None
    leak_logit: jax.Array | None = None
    contexts: tuple = static_field(default=())

    @property
    def n_contexts(self) -> int:
        return len(self.contexts)

    def context_index(self, name: str) -> int:
        """Position of context ``name`` on the context axis (ConfigError if unknown)."""
        try:
            return self.contexts.index(name)
        except ValueError:
            raise ConfigError(
                f"context: no context named {name!r}; this controller has {list(self.contexts)}."
                + did_you_mean(name, self.contexts)
            ) from None


def make_controller(
    network: Model,
    contexts: Sequence[str],
    *,
    mode: str = "bias",
    bias_scale: float = 0.0,
    initial_state_scale: float = 0.0,
    key,
) -> Controller:
    """A controller for ``network`` with one bias per named context.

    Parameters
    ----------
    network : Model
        Any model family (:mod:`brainbias.models`).
    contexts : sequence of str
        Unique, non-empty context names.
    mode : str
        One of ``TRAINING_MODES``; ``bias+readout`` and ``readout`` start the trained readout
        from a copy of the network's fixed readout; ``bias+tau`` starts the trained time
        constant at the network's ``tau`` (``leak_logit = logit(dt / tau)``).
    bias_scale, initial_state_scale : float
        Standard deviation of the initial biases / initial states (0 → zeros).
    key : jax.random.PRNGKey

    Raises
    ------
    ConfigError
        Empty or duplicate context names, unknown mode, ``bias+tau`` with ``tau = dt``.
    """
    contexts = tuple(str(c) for c in contexts)
    if not contexts:
        raise ConfigError("contexts: expected at least one context name, got none.")
    if len(set(contexts)) != len(contexts):
        dup = sorted({c for c in contexts if contexts.count(c) > 1})
        raise ConfigError(f"contexts: names must be unique; repeated: {dup}.")
    check_mode(mode)
    shape = (len(contexts), network.n_units)
    dtype = network.dtype
    k_b, k_x = jax.random.split(key)
    bias = jax.random.normal(k_b, shape, dtype) * bias_scale
    x0 = jax.random.normal(k_x, shape, dtype) * initial_state_scale
    readout = jnp.array(network.readout_weights) if mode in ("bias+readout", "readout") else None
    logit = leak_logit_of(network.dt, network.tau, dtype=dtype) if mode == "bias+tau" else None
    return Controller(bias=bias, initial_state=x0, readout_weights=readout, leak_logit=logit,
                      contexts=contexts)


def leak_logit_of(dt: float, tau: float, *, dtype=None):
    """θ with ``sigmoid(θ) = dt / tau``: the parameter of a trained time constant ``tau``.

    Raises
    ------
    ConfigError
        ``tau ≤ dt``: the leak 1 (``tau = dt``) is the limit θ → ∞, not a starting point.
    """
    if not tau > dt:
        raise ConfigError(
            f"mode='bias+tau': the trained time constant starts at network tau={tau}, which "
            f"must be greater than dt={dt} (the leak dt/tau = sigmoid(theta) is below 1). "
            "Start from a larger tau, e.g. tau = 2 * dt.")
    a = dt / tau
    return jnp.asarray(math.log(a) - math.log1p(-a), dtype)


def effective_leak(network: Model, controller: Controller):
    """The leak ``a = dt / τ`` in use: ``sigmoid(controller.leak_logit)`` when the time constant
    is trained, else ``None`` (meaning ``network.leak``; pass it on as ``simulate(leak=...)``)."""
    if controller.leak_logit is None:
        return None
    return jax.nn.sigmoid(controller.leak_logit)


def effective_tau(network: Model, controller: Controller) -> float:
    """The time constant in use (a Python float): the trained one, else ``network.tau``."""
    leak = effective_leak(network, controller)
    return float(network.tau) if leak is None else float(network.dt / leak)


def check_mode(mode: str) -> str:
    if mode not in TRAINING_MODES:
        raise ConfigError(
            f"mode: expected one of {TRAINING_MODES}, got {mode!r}."
            + did_you_mean(mode, TRAINING_MODES)
        )
    return mode


def trainable_mask(network: Model, controller: Controller, mode: str, *,
                   train_initial_state: bool = False):
    """Boolean pytrees ``(network_mask, controller_mask)``: True marks a trained leaf."""
    check_mode(mode)
    if mode in ("bias+readout", "readout") and controller.readout_weights is None:
        raise ConfigError(f"mode={mode!r} needs a controller with readout_weights "
                          "(make_controller(..., mode=...) creates it).")
    train_net = mode == "all"
    # integer leaves (the synapse indices of sparse weights) are structure, never trained
    net_mask = jax.tree_util.tree_map(
        lambda a: train_net and not jnp.issubdtype(jnp.result_type(a), jnp.integer), network)
    if mode == "bias+tau" and controller.leak_logit is None:
        raise ConfigError("mode='bias+tau' needs a controller with leak_logit "
                          "(make_controller(..., mode='bias+tau') creates it).")
    ctrl_mask = Controller(
        bias=mode != "readout",
        initial_state=bool(train_initial_state) and mode != "readout",
        readout_weights=None if controller.readout_weights is None
        else mode in ("bias+readout", "readout", "all"),
        leak_logit=None if controller.leak_logit is None else mode == "bias+tau",
        contexts=controller.contexts,
    )
    return net_mask, ctrl_mask


def effective_readout(network: Model, controller: Controller):
    """The readout in use: the controller's trained one if present, else the network's."""
    return network.readout_weights if controller.readout_weights is None else \
        controller.readout_weights
