"""Full-batch training of a :class:`~brainbias.models.feedforward.Feedforward` network.

What is trained is a partition of the pytree pair ``(network, biases)``, not a branch in the
model: ``trainable="bias"`` trains the per-context biases only (the weights stay fixed),
``trainable="all"`` the weights too (the "full training" baseline), ``trainable="readout"``
the last weight matrix and the output biases only (the hidden biases and weights stay fixed).
The weights are shared by the contexts of one call: a readout or a full network *per task* is
one call per task. ``trainable="mask"`` trains per-context mask scores ``s`` over the fixed
weights (the network computes with ``1[s > 0] ⊙ W``, gradients passed straight through;
:func:`~brainbias.models.feedforward.straight_through_mask`); the scores are the only trained
leaves, the biases stay at their initial values. With
``constraint="nonnegative"`` the weights are projected onto ``W ≥ 0`` after every Adam update
(projected gradient descent), so a sign-constrained network stays sign-constrained (Wang et al.
2023).

The loss is averaged over contexts, samples and outputs:

``mse``                    ``(y − y*)²``;
``binary_cross_entropy``   independent sigmoids on the output logits, ``y* ∈ [0, 1]``;
``softmax_cross_entropy``  a softmax over the output axis, ``y*`` a probability vector.

One jitted function runs all ``n_steps`` (``lax.scan``); a second call with the same shapes and
options reuses it (``_TRACE_COUNT``).
"""

from __future__ import annotations

import collections
import dataclasses

import jax
import jax.numpy as jnp
import optax

from .._errors import ConfigError, check_int, check_positive, did_you_mean
from .._pytree import combine, partition
from ..models.feedforward import (
    Feedforward,
    apply_mask,
    forward,
    is_nonnegative,
    straight_through_mask,
)

__all__ = ["LOSSES", "TRAINABLE", "CONSTRAINTS", "FeedforwardFit", "fit_feedforward"]

LOSSES = ("mse", "binary_cross_entropy", "softmax_cross_entropy")
TRAINABLE = ("bias", "all", "readout", "mask")
CONSTRAINTS = (None, "nonnegative")

# Trace counter (tests assert that a second fit with the same shapes does not recompile).
_TRACE_COUNT = collections.Counter()


@dataclasses.dataclass(frozen=True)
class FeedforwardFit:
    """What :func:`fit_feedforward` returns.

    Attributes
    ----------
    network : Feedforward
        The fixed network, or the trained one for ``trainable="all"`` / ``"readout"``.
    biases : tuple of arrays
        ``biases[l]`` of shape (context, ``layer_sizes[l+1]``).
    losses : array, shape (iteration,)
        The loss before each update.
    mask_scores : tuple of arrays or None
        ``trainable="mask"``: the trained scores, ``mask_scores[l]`` of shape (context,
        ``*weights[l].shape``); the mask of context ``c`` is ``mask_scores[l][c] > 0``.
    """

    network: Feedforward
    biases: tuple
    losses: jax.Array
    mask_scores: tuple | None = None


def _pointwise_loss(name, outputs, targets):
    if name == "mse":
        return jnp.mean((outputs - targets) ** 2)
    if name == "binary_cross_entropy":
        return jnp.mean(optax.sigmoid_binary_cross_entropy(outputs, targets))
    return jnp.mean(optax.softmax_cross_entropy(outputs, targets))


def _loss(params, frozen, loss, inputs, targets):
    net, biases = combine(params, frozen)
    outputs = jax.vmap(forward, in_axes=(None, 0, 0))(net, biases, inputs)
    return _pointwise_loss(loss, outputs, targets)


def _masked_forward(net, scores, biases, inputs):
    masks = tuple(straight_through_mask(s) for s in scores)
    return forward(apply_mask(net, masks), biases, inputs)


def _mask_loss(scores, fixed, loss, inputs, targets):
    net, biases = fixed
    outputs = jax.vmap(_masked_forward, in_axes=(None, 0, 0, 0))(net, scores, biases, inputs)
    return _pointwise_loss(loss, outputs, targets)


def _partition_mask(net, biases, trainable):
    """Which leaves of ``(net, biases)`` are trained (True) for ``trainable``."""
    last = len(net.weights) - 1
    weights = tuple(trainable == "all" or (trainable == "readout" and i == last)
                    for i in range(last + 1))
    bias = tuple(trainable != "readout" or i == last for i in range(last + 1))
    return (Feedforward(weights=weights, nonlinearity=net.nonlinearity,
                        output_nonlinearity=net.output_nonlinearity), bias)


def _adam_scan(loss_fn, params, *, n_steps, learning_rate, project=None):
    optimiser = optax.adam(learning_rate)

    def body(carry, _):
        params, opt_state = carry
        value, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if project is not None:
            params = project(params)
        return (params, opt_state), value

    (params, _), losses = jax.lax.scan(body, (params, optimiser.init(params)), None,
                                       length=n_steps)
    return params, losses


def _run(net, biases, scores, inputs, targets, *, loss, trainable, constraint, n_steps,
         learning_rate):
    _TRACE_COUNT["fit_feedforward"] += 1
    if trainable == "mask":
        scores, losses = _adam_scan(
            lambda s: _mask_loss(s, (net, biases), loss, inputs, targets), scores,
            n_steps=n_steps, learning_rate=learning_rate)
        return net, biases, scores, losses
    params, frozen = partition((net, biases), _partition_mask(net, biases, trainable))
    project = None
    if constraint == "nonnegative" and trainable != "bias":
        def project(p):  # the trained weights are projected, the frozen ones are already ≥ 0
            w = tuple(None if x is None else jnp.maximum(x, 0) for x in p[0].weights)
            return (Feedforward(weights=w, nonlinearity=net.nonlinearity,
                                output_nonlinearity=net.output_nonlinearity), p[1])
    params, losses = _adam_scan(
        lambda p: _loss(p, frozen, loss, inputs, targets), params, n_steps=n_steps,
        learning_rate=learning_rate, project=project)
    out_net, out_biases = combine(params, frozen)
    return out_net, out_biases, None, losses


_run_jit = jax.jit(_run, static_argnames=("loss", "trainable", "constraint", "n_steps",
                                          "learning_rate"))


def fit_feedforward(
    net: Feedforward,
    biases,
    inputs,
    targets,
    *,
    loss: str = "mse",
    trainable: str = "bias",
    constraint: str | None = None,
    n_steps: int = 1000,
    learning_rate: float = 1e-2,
    mask_scores=None,
) -> FeedforwardFit:
    """Train the biases (and optionally the weights) with full-batch Adam.

    Parameters
    ----------
    net : Feedforward
    biases : tuple of arrays
        Initial biases, ``biases[l]`` of shape (context, ``layer_sizes[l+1]``)
        (:func:`~brainbias.models.feedforward.init_biases`).
    inputs : array, shape (context, sample, input)
    targets : array, shape (context, sample, output)
    loss : {"mse", "binary_cross_entropy", "softmax_cross_entropy"}
    trainable : {"bias", "all", "readout", "mask"}
        Biases only; biases and weights; the readout matrix and output biases; or the mask
        scores only (see the module docstring).
    constraint : {None, "nonnegative"}
        ``"nonnegative"``: the network must start with ``W ≥ 0`` and, if weights are trained,
        is projected back onto ``W ≥ 0`` after every update.
    n_steps : int
        Number of Adam updates.
    learning_rate : float
    mask_scores : tuple of arrays, optional
        Initial scores for ``trainable="mask"`` (required there, refused otherwise),
        ``mask_scores[l]`` of shape (context, ``*weights[l].shape``)
        (:func:`~brainbias.models.feedforward.init_mask_scores`).

    Returns
    -------
    FeedforwardFit

    Raises
    ------
    ConfigError
        Unknown loss, trainable or constraint; shapes that do not match the network or each
        other; a network that violates the constraint it is asked to keep.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from brainbias.models.feedforward import make_feedforward, init_biases
    >>> from brainbias.training.feedforward import fit_feedforward
    >>> net = make_feedforward((1, 16, 1), key=jax.random.PRNGKey(0))
    >>> x = jnp.linspace(-1, 1, 8)[None, :, None]
    >>> fit = fit_feedforward(net, init_biases(net), x, 0.5 * x, n_steps=200)
    >>> bool(fit.losses[-1] < fit.losses[0])
    True
    """
    for name, value, options in (("loss", loss, LOSSES), ("trainable", trainable, TRAINABLE),
                                 ("constraint", constraint, CONSTRAINTS)):
        if value not in options:
            raise ConfigError(f"{name}: expected one of {options}, got {value!r}."
                              + did_you_mean(value, [o for o in options if o]))
    check_int("n_steps", n_steps, minimum=1)
    check_positive("learning_rate", learning_rate)
    net.validate()
    if constraint == "nonnegative" and not is_nonnegative(net):
        raise ConfigError("constraint='nonnegative': the network has negative weights; build it "
                          "with weights='nonnegative' or apply project_nonnegative first.")
    biases = tuple(jnp.asarray(b) for b in biases)
    inputs, targets = jnp.asarray(inputs), jnp.asarray(targets)
    _check_shapes(net, biases, inputs, targets)
    mask_scores = _check_scores(net, mask_scores, trainable, inputs.shape[0])
    out_net, out_biases, out_scores, losses = _run_jit(
        net, biases, mask_scores, inputs, targets, loss=loss, trainable=trainable,
        constraint=constraint, n_steps=int(n_steps), learning_rate=float(learning_rate))
    return FeedforwardFit(network=out_net, biases=out_biases, losses=losses,
                          mask_scores=out_scores)


def _check_scores(net, scores, trainable, n_contexts):
    if trainable != "mask":
        if scores is not None:
            raise ConfigError(f"mask_scores: given, but trainable={trainable!r} does not train "
                              "a mask; pass trainable='mask' or drop mask_scores.")
        return None
    if scores is None:
        raise ConfigError("mask_scores: trainable='mask' needs initial scores; use "
                          "brainbias.models.feedforward.init_mask_scores(net, n_contexts).")
    scores = tuple(jnp.asarray(s) for s in scores)
    want = [(n_contexts,) + tuple(w.shape) for w in net.weights]
    if [tuple(s.shape) for s in scores] != want:
        raise ConfigError(f"mask_scores: expected shapes {want} (context, out, in), got "
                          f"{[tuple(s.shape) for s in scores]}.")
    return scores


def _check_shapes(net, biases, inputs, targets):
    sizes = net.layer_sizes
    if len(biases) != len(net.weights):
        raise ConfigError(f"biases: expected {len(net.weights)} arrays (one per layer), got "
                          f"{len(biases)}.")
    if inputs.ndim != 3 or inputs.shape[2] != sizes[0]:
        raise ConfigError(f"inputs: expected shape (context, sample, {sizes[0]}), got "
                          f"{tuple(inputs.shape)}.")
    n_contexts, n_samples = inputs.shape[:2]
    want = (n_contexts, n_samples, sizes[-1])
    if targets.shape != want:
        raise ConfigError(f"targets: expected shape {want} (context, sample, output), got "
                          f"{tuple(targets.shape)}.")
    for i, (b, n) in enumerate(zip(biases, sizes[1:], strict=True)):
        if b.shape != (n_contexts, n):
            raise ConfigError(f"biases[{i}]: expected shape {(n_contexts, n)} (context, unit), "
                              f"got {tuple(b.shape)}.")
