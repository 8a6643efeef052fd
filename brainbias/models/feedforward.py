"""Feedforward networks with fixed random weights whose only controller is a bias per layer.

A network of ``L`` layers maps an input ``x`` (paper symbol ``x``; ``inputs`` here) through
``L − 1`` hidden layers to an output ``y`` (``W_l`` ``weights[l]``, ``b_l`` ``biases[l]``,
``φ`` ``nonlinearity``, ``ψ`` ``output_nonlinearity``)::

    h_0 = x,    h_l = φ(W_l h_{l−1} + b_l)  (l = 1 … L−1),    y = ψ(W_L h_{L−1} + b_L)

The weights are fixed and drawn at random; the biases ``(b_1, …, b_L)`` are the controller, one
set per context (task): ``init_biases`` returns them with a leading ``context`` axis and
:func:`forward` acts on ONE context (callers ``vmap``). Training lives in
:mod:`brainbias.training.feedforward`.

Sign constraints (Wang et al. 2023, "Why do networks have inhibitory/negative connections?"):
with every ``W_l ≥ 0`` (``weights="nonnegative"``) and non-decreasing ``φ``, ``ψ`` the map is
order-preserving, ``x ≤ y`` (componentwise) ⇒ ``f(x) ≤ f(y)``, *whatever the biases*: each
layer is a non-negative matrix (order-preserving), plus a constant, through a monotone
function. Hence no XOR (at most 3 of its 4 points right) and no bounded positive region.
:func:`project_nonnegative` keeps the constraint true where weights are trained too.

Mask learning (the "supermask" baseline, Zhou et al. 2019; Ramanujan et al. 2020): instead of
biases, a binary mask ``M_l ∈ {0, 1}`` over the fixed weights is learned per context, the
network computing with ``M_l ⊙ W_l``. The mask is ``M_l = 1[s_l > 0]`` of real-valued scores
``s_l`` (:func:`init_mask_scores`); its gradient is passed straight through (the identity) to
the scores (:func:`straight_through_mask`), and :func:`apply_mask` builds the masked network.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, check_positive, did_you_mean
from .._pytree import pytree_dataclass, static_field
from .rate import NONLINEARITIES, nonlinearity

__all__ = [
    "Feedforward",
    "WEIGHT_KINDS",
    "MONOTONE_NONLINEARITIES",
    "make_feedforward",
    "activations",
    "forward",
    "init_biases",
    "project_nonnegative",
    "is_nonnegative",
    "init_mask_scores",
    "straight_through_mask",
    "apply_mask",
]

WEIGHT_KINDS = ("gaussian", "nonnegative")
#: The activations of :data:`brainbias.models.rate.NONLINEARITIES` that are non-decreasing (the
#: hypothesis of the order-preservation property; a new activation is added here only if it is).
MONOTONE_NONLINEARITIES = tuple(n for n in ("tanh", "relu", "softplus", "sigmoid", "identity")
                                if n in NONLINEARITIES)


@pytree_dataclass
class Feedforward:
    """A feedforward network with fixed weights (a pytree; the weight matrices are leaves).

    Parameters
    ----------
    weights : tuple of arrays
        ``weights[l]`` has shape (``layer_sizes[l+1]``, ``layer_sizes[l]``): rows are the
        units of layer ``l+1``, columns those of layer ``l`` (layer 0 is the input). The last
        matrix is the readout.
    nonlinearity : str
        ``φ`` of the hidden layers, one of :data:`brainbias.models.rate.NONLINEARITIES`.
    output_nonlinearity : str
        ``ψ`` of the output layer; ``"identity"`` (logits / linear outputs) by default.

    Raises
    ------
    ConfigError
        Unknown nonlinearity, or (via :meth:`validate`) weight shapes that do not chain or
        non-finite entries.
    """

    weights: tuple
    nonlinearity: str = static_field(default="tanh")
    output_nonlinearity: str = static_field(default="identity")

    def __post_init__(self):
        # static fields only: JAX rebuilds this object with tracers or None holes as leaves
        nonlinearity(self.nonlinearity)
        nonlinearity(self.output_nonlinearity)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(input, hidden_1, …, output)``."""
        return (self.weights[0].shape[1],) + tuple(w.shape[0] for w in self.weights)

    @property
    def n_inputs(self) -> int:
        return self.weights[0].shape[1]

    @property
    def n_outputs(self) -> int:
        return self.weights[-1].shape[0]

    @property
    def n_biases(self) -> int:
        """Number of bias entries per context (all hidden units plus the outputs)."""
        return sum(self.layer_sizes[1:])

    def validate(self) -> Feedforward:
        """Check that the weight shapes chain and entries are finite; return self."""
        if not isinstance(self.weights, tuple) or not self.weights:
            raise ConfigError("weights: expected a non-empty tuple of (out, in) matrices, got "
                              f"{type(self.weights).__name__}.")
        for i, w in enumerate(self.weights):
            if w.ndim != 2:
                raise ConfigError(f"weights[{i}]: expected a 2-d (out, in) matrix, got shape "
                                  f"{tuple(w.shape)}.")
            if i and w.shape[1] != self.weights[i - 1].shape[0]:
                raise ConfigError(
                    f"weights[{i}]: has {w.shape[1]} columns but weights[{i - 1}] has "
                    f"{self.weights[i - 1].shape[0]} rows; layer sizes must chain."
                )
            if not bool(np.all(np.isfinite(np.asarray(w)))):
                raise ConfigError(f"weights[{i}]: contains NaN or infinite entries.")
        return self


def make_feedforward(
    layer_sizes,
    *,
    weights: str = "gaussian",
    gain: float = 1.0,
    nonlinearity: str = "tanh",
    output_nonlinearity: str = "identity",
    key,
    dtype=None,
) -> Feedforward:
    """Draw a feedforward network with fixed random weights.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(input, hidden_1, …, hidden_{L−1}, output)``; at least one hidden layer.
    weights : {"gaussian", "nonnegative"}
        ``W_l,ij ~ N(0, gain²/fan_in)``, or its absolute value (the sign-constrained network of
        Wang et al. 2023).
    gain : float
        ``g`` above; > 0.
    nonlinearity, output_nonlinearity : str
        As in :class:`Feedforward`.
    key : jax.random.PRNGKey
    dtype : dtype, optional
        Defaults to JAX's default float dtype.

    Returns
    -------
    Feedforward

    Raises
    ------
    ConfigError
        Fewer than three layer sizes, non-positive sizes, unknown ``weights`` kind or
        nonlinearity, non-positive gain.

    Examples
    --------
    >>> import jax
    >>> from brainbias.models.feedforward import make_feedforward
    >>> net = make_feedforward((2, 16, 1), weights="nonnegative", key=jax.random.PRNGKey(0))
    >>> net.layer_sizes, bool((net.weights[0] >= 0).all())
    ((2, 16, 1), True)
    """
    sizes = tuple(layer_sizes)
    if len(sizes) < 3 or any(isinstance(n, bool) or not isinstance(n, (int, np.integer))
                             or n < 1 for n in sizes):
        raise ConfigError(
            "layer_sizes: expected (input, hidden_1, ..., output) with at least one hidden "
            f"layer, all positive integers; got {sizes!r}."
        )
    if weights not in WEIGHT_KINDS:
        raise ConfigError(f"weights: expected one of {WEIGHT_KINDS}, got {weights!r}."
                          + did_you_mean(weights, WEIGHT_KINDS))
    check_positive("gain", gain)
    dtype = dtype or jnp.zeros(()).dtype
    keys = jax.random.split(key, len(sizes) - 1)
    mats = []
    for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True):
        w = jax.random.normal(k, (int(n_out), int(n_in)), dtype) * (gain / math.sqrt(n_in))
        mats.append(jnp.abs(w) if weights == "nonnegative" else w)
    return Feedforward(weights=tuple(mats), nonlinearity=nonlinearity,
                       output_nonlinearity=output_nonlinearity).validate()


def activations(net: Feedforward, biases, inputs):
    """Every layer's activity ``(h_1, …, h_{L−1}, y)`` for one context.

    Parameters
    ----------
    net : Feedforward
    biases : tuple of arrays
        ``biases[l]`` has shape (``layer_sizes[l+1]``,): one context's biases.
    inputs : array, shape (..., input)
        Any leading axes (e.g. ``sample``) are kept.

    Returns
    -------
    tuple of arrays
        ``h_l`` of shape (..., ``layer_sizes[l]``) for the hidden layers, then ``y`` (...,
        output).

    Raises
    ------
    ConfigError
        If the number of bias vectors differs from the number of weight matrices.
    """
    if len(biases) != len(net.weights):
        raise ConfigError(f"biases: expected {len(net.weights)} vectors (one per layer), got "
                          f"{len(biases)}.")
    phi = nonlinearity(net.nonlinearity)
    layers = []
    h = inputs
    for i, (w, b) in enumerate(zip(net.weights, biases, strict=True)):
        if i == len(net.weights) - 1:
            phi = nonlinearity(net.output_nonlinearity)
        h = phi(h @ w.T + b)
        layers.append(h)
    return tuple(layers)


def forward(net: Feedforward, biases, inputs):
    """The output ``y = f(x)`` of one context, ``inputs`` (..., input) → (..., output).

    See :func:`activations` for the arguments.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from brainbias.models.feedforward import make_feedforward, forward, init_biases
    >>> net = make_feedforward((2, 8, 8, 1), key=jax.random.PRNGKey(0))
    >>> biases = init_biases(net, 3)           # three contexts
    >>> one = tuple(b[0] for b in biases)      # context 0
    >>> forward(net, one, jnp.zeros((4, 2))).shape
    (4, 1)
    """
    return activations(net, biases, inputs)[-1]


def init_biases(net: Feedforward, n_contexts: int = 1, *, scale: float = 0.0, key=None,
                centre=None, dtype=None):
    """Initial biases, one set per context.

    Parameters
    ----------
    net : Feedforward
    n_contexts : int
        Size of the leading ``context`` axis (present even for one context).
    scale : float
        Standard deviation of the ``N(0, scale²)`` entries; 0 gives zeros (no key needed).
    key : jax.random.PRNGKey, optional
        Required when ``scale > 0``.
    centre : array, shape (input,), optional
        Adds ``−W_1 · centre`` to the first-layer biases, so that every first-layer unit sits at
        its operating point 0 for the input ``centre`` (e.g. the mean input) instead of being
        driven into saturation, where a bias gets no gradient.
    dtype : dtype, optional
        Defaults to that of the weights.

    Returns
    -------
    tuple of arrays
        ``biases[l]`` of shape (context, ``layer_sizes[l+1]``).

    Raises
    ------
    ConfigError
        ``n_contexts < 1``, negative scale, ``scale > 0`` without a key, or a ``centre`` whose
        shape is not (input,).
    """
    if isinstance(n_contexts, bool) or not isinstance(n_contexts, int) or n_contexts < 1:
        raise ConfigError(f"n_contexts: expected an integer ≥ 1, got {n_contexts!r}.")
    check_positive("scale", scale, allow_zero=True)
    dtype = dtype or net.weights[0].dtype
    sizes = net.layer_sizes[1:]
    if scale == 0:
        biases = [jnp.zeros((n_contexts, n), dtype) for n in sizes]
    elif key is None:
        raise ConfigError("init_biases: scale > 0 needs `key` (a jax.random.PRNGKey).")
    else:
        keys = jax.random.split(key, len(sizes))
        biases = [scale * jax.random.normal(k, (n_contexts, n), dtype)
                  for k, n in zip(keys, sizes, strict=True)]
    if centre is not None:
        centre = jnp.asarray(centre, dtype)
        if centre.shape != (net.n_inputs,):
            raise ConfigError(f"centre: expected shape ({net.n_inputs},) (input,), got "
                              f"{tuple(centre.shape)}.")
        biases[0] = biases[0] - net.weights[0] @ centre
    return tuple(biases)


def project_nonnegative(net: Feedforward) -> Feedforward:
    """Euclidean projection of the weights onto the non-negative orthant (``max(W, 0)``).

    Applied after every optimiser update, it keeps trained weights sign-constrained
    (projected gradient descent). Works under ``jit`` (the weights may be tracers).
    """
    return Feedforward(weights=tuple(jnp.maximum(w, 0) for w in net.weights),
                       nonlinearity=net.nonlinearity,
                       output_nonlinearity=net.output_nonlinearity)


def is_nonnegative(net: Feedforward) -> bool:
    """True if every weight is ≥ 0 (the hypothesis of the order-preservation property)."""
    return all(bool(np.all(np.asarray(w) >= 0)) for w in net.weights)


def init_mask_scores(net: Feedforward, n_contexts: int = 1, *, value: float = 0.05,
                     scale: float = 0.0, key=None, dtype=None):
    """Initial mask scores ``s_l``, one set per context, for mask learning.

    Parameters
    ----------
    net : Feedforward
    n_contexts : int
        Size of the leading ``context`` axis.
    value : float
        Mean score; a positive value starts from the all-ones mask (the dense network).
    scale : float
        Standard deviation of ``N(0, scale²)`` noise added to ``value``; 0 needs no key.
    key : jax.random.PRNGKey, optional
        Required when ``scale > 0``.
    dtype : dtype, optional
        Defaults to that of the weights.

    Returns
    -------
    tuple of arrays
        ``scores[l]`` of shape (context, ``layer_sizes[l+1]``, ``layer_sizes[l]``), the shape
        of ``weights[l]`` with a context axis in front.

    Raises
    ------
    ConfigError
        ``n_contexts < 1``, negative scale, or ``scale > 0`` without a key.
    """
    if isinstance(n_contexts, bool) or not isinstance(n_contexts, int) or n_contexts < 1:
        raise ConfigError(f"n_contexts: expected an integer ≥ 1, got {n_contexts!r}.")
    check_positive("scale", scale, allow_zero=True)
    dtype = dtype or net.weights[0].dtype
    shapes = [(n_contexts,) + tuple(w.shape) for w in net.weights]
    if scale == 0:
        return tuple(jnp.full(s, value, dtype) for s in shapes)
    if key is None:
        raise ConfigError("init_mask_scores: scale > 0 needs `key` (a jax.random.PRNGKey).")
    keys = jax.random.split(key, len(shapes))
    return tuple(value + scale * jax.random.normal(k, s, dtype)
                 for k, s in zip(keys, shapes, strict=True))


def straight_through_mask(scores):
    """``1[s > 0]`` in the forward pass, the identity ``∂M/∂s = 1`` in the backward pass.

    Parameters
    ----------
    scores : array
        Any shape.

    Returns
    -------
    array
        Same shape and dtype, entries exactly 0 or 1.
    """
    hard = (scores > 0).astype(scores.dtype)
    return hard + scores - jax.lax.stop_gradient(scores)


def apply_mask(net: Feedforward, masks) -> Feedforward:
    """The network with weights ``M_l ⊙ W_l`` for ONE context's masks.

    Parameters
    ----------
    net : Feedforward
    masks : tuple of arrays
        ``masks[l]`` of the shape of ``weights[l]`` (e.g. :func:`straight_through_mask` of one
        context's scores).

    Returns
    -------
    Feedforward

    Raises
    ------
    ConfigError
        If the number or shapes of the masks do not match the weights.
    """
    if len(masks) != len(net.weights) or any(
            tuple(m.shape) != tuple(w.shape) for m, w in zip(masks, net.weights, strict=True)):
        raise ConfigError("masks: expected one mask per weight matrix with shapes "
                          f"{[tuple(w.shape) for w in net.weights]}, got "
                          f"{[tuple(m.shape) for m in masks]}.")
    return Feedforward(weights=tuple(m * w for m, w in zip(masks, net.weights, strict=True)),
                       nonlinearity=net.nonlinearity,
                       output_nonlinearity=net.output_nonlinearity)
