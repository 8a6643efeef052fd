"""Rate networks with fixed weights: the step map, simulation, and the analysis-facing maps.

Two forms share one leak ``a = dt / tau`` (paper symbols → names here: ``W`` recurrent_weights,
``B`` input_weights, ``F`` feedback_weights, ``C`` readout_weights, ``b`` bias, ``φ``
nonlinearity):

``form="continuous"`` — Euler discretisation of ``τ dx/dt = −x + W φ(x) + B u + F f + b``::

    x_{t+1} = (1 − a) x_t + a (W φ(x_t) + B u_t + F f_t + b),      y_t = C φ(x_t)

``form="discrete"`` — Williams et al. (2024), ``r_t = α r_{t−1} + β φ(W r_{t−1} + B x_t + b)``
with ``α = 1 − a``, ``β = a`` (``a = 1`` is the vanilla RNN)::

    r_{t+1} = (1 − a) r_t + a φ(W r_t + B u_t + F f_t + b),         y_t = C r_t

``u`` are inputs, ``f`` the fed-back output (:mod:`brainbias.models.base`, which runs every
family). :class:`Network` implements the :class:`~brainbias.models.base.Model` protocol:
``rates`` is ``φ(x)`` (continuous) or ``r`` (discrete), ``advance`` the update above given the
current ``I = b + B u + F f``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, did_you_mean
from .._pytree import pytree_dataclass, static_field
from .base import SharedWeights
from .sparse import is_sparse

__all__ = ["Network", "NONLINEARITIES", "FORMS", "SIGN_CONSTRAINTS", "nonlinearity",
           "make_network"]


def _identity(x):
    return x


NONLINEARITIES = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
    "identity": _identity,
}
FORMS = ("continuous", "discrete")
#: constraints on the recurrent weights a fit must keep (Wang et al. 2023; Dale's law)
SIGN_CONSTRAINTS = ("none", "nonnegative", "dale")


def nonlinearity(name: str):
    """The activation function ``φ`` called ``name``; raises ConfigError if unknown."""
    try:
        return NONLINEARITIES[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"nonlinearity: expected one of {tuple(NONLINEARITIES)}, got {name!r}."
            + did_you_mean(name, NONLINEARITIES)
        ) from None


@pytree_dataclass
class Network(SharedWeights):
    """A rate network with fixed weights (a pytree; arrays are leaves).

    Parameters
    ----------
    recurrent_weights : array, shape (unit, unit), or SparseWeights
        Dense, or the synapses of a sparse network as COO triplets
        (:class:`~brainbias.models.sparse.SparseWeights`, ``connectivity.sparse``); every step
        only multiplies by it (``W @ r``), so both work everywhere.
    input_weights : array, shape (unit, input)
        May have zero columns (no inputs).
    feedback_weights : array, shape (unit, output)
    readout_weights : array, shape (output, unit)
        The fixed readout. A trained readout lives in the controller, not here.
    dt, tau : float
        Time step and time constant (same unit), ``0 < dt ≤ tau``.
    nonlinearity : str
        One of ``NONLINEARITIES``.
    form : {"continuous", "discrete"}
    sign_constraint : {"none", "nonnegative", "dale"}
        What the recurrent weights were drawn under (:mod:`brainbias.models.connectivity`); a
        fit that trains them (``mode="all"``) keeps it (:meth:`constrain`).

    Raises
    ------
    ConfigError
        Non-positive or non-finite ``dt``/``tau``, ``dt > tau``, unknown nonlinearity or form,
        or (via :meth:`validate`) inconsistent weight shapes.
    """

    family: ClassVar[str] = "rate"
    array_dims: ClassVar[dict] = {
        "recurrent_weights": ("unit", "source_unit"),
        "input_weights": ("unit", "input"),
        "feedback_weights": ("unit", "output"),
        "readout_weights": ("output", "unit"),
    }

    recurrent_weights: jax.Array
    input_weights: jax.Array
    feedback_weights: jax.Array
    readout_weights: jax.Array
    dt: float = static_field(default=0.1)
    tau: float = static_field(default=1.0)
    nonlinearity: str = static_field(default="tanh")
    form: str = static_field(default="continuous")
    sign_constraint: str = static_field(default="none")

    def __post_init__(self):
        # Only static fields are checked here: JAX rebuilds this object with tracers or None
        # holes (partition) as leaves. Array shapes are checked in `validate`.
        self._check_time_step()
        nonlinearity(self.nonlinearity)
        if self.sign_constraint not in SIGN_CONSTRAINTS:
            raise ConfigError(f"sign_constraint: expected one of {SIGN_CONSTRAINTS}, got "
                              f"{self.sign_constraint!r}.")
        if self.form not in FORMS:
            raise ConfigError(
                f"form: expected one of {FORMS}, got {self.form!r}."
                + did_you_mean(self.form, FORMS)
            )

    @property
    def n_units(self) -> int:
        return self.recurrent_weights.shape[0]

    @property
    def dtype(self):
        return self.recurrent_weights.dtype

    def rates(self, state):
        """Observable rates of a state (..., unit): ``φ(x)`` (continuous) or ``r`` (discrete)."""
        if self.form == "continuous":
            return nonlinearity(self.nonlinearity)(state)
        return state

    def advance(self, state, rate, current, leak):
        """One step given ``rate = self.rates(state)`` and the current ``I = b + B u + F f``."""
        if self.form == "continuous":
            return (1.0 - leak) * state + leak * (self.recurrent_weights @ rate + current)
        phi = nonlinearity(self.nonlinearity)
        return (1.0 - leak) * state + leak * phi(self.recurrent_weights @ rate + current)

    def constrain(self, reference: Network) -> Network:
        """This network with its recurrent weights projected onto ``reference``'s sign pattern
        (``sign_constraint`` "nonnegative" or "dale": every entry keeps the sign it was drawn
        with, absent connections stay absent); unchanged when unconstrained."""
        if self.sign_constraint == "none":
            return self
        if is_sparse(self.recurrent_weights):  # the same projection on the stored synapses
            w, sign = self.recurrent_weights, jnp.sign(reference.recurrent_weights.values)
            values = sign * jnp.maximum(sign * w.values, 0.0)
            return dataclasses.replace(self, recurrent_weights=dataclasses.replace(w,
                                                                                 values=values))
        sign = jnp.sign(reference.recurrent_weights)
        w = sign * jnp.maximum(sign * self.recurrent_weights, 0.0)
        return dataclasses.replace(self, recurrent_weights=w)

    def validate(self) -> Network:
        """Check that weight shapes agree and entries are finite; return self."""
        w = self.recurrent_weights
        if w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise ConfigError(f"recurrent_weights: expected shape (unit, unit), got {w.shape}.")
        n = w.shape[0]
        expected = {
            "input_weights": (n, None),
            "feedback_weights": (n, self.n_outputs),
            "readout_weights": (None, n),
        }
        for name, (rows, cols) in expected.items():
            a = getattr(self, name)
            if a.ndim != 2 or (rows is not None and a.shape[0] != rows) or (
                cols is not None and a.shape[1] != cols
            ):
                want = tuple("?" if d is None else d for d in (rows, cols))
                raise ConfigError(f"{name}: expected shape {want}, got {tuple(a.shape)}.")
        dense = ("input_weights", "feedback_weights", "readout_weights")
        if is_sparse(w):
            w.validate()  # indices, order, finite values (never the dense N × N matrix)
        else:
            dense = ("recurrent_weights",) + dense
        for name in dense:
            if not bool(np.all(np.isfinite(np.asarray(getattr(self, name))))):
                raise ConfigError(f"{name}: contains NaN or infinite entries.")
        return self


def make_network(
    n_units: int,
    *,
    n_inputs: int = 0,
    n_outputs: int = 1,
    connectivity=None,
    input_scale: float = 1.0,
    feedback_scale: float = 1.0,
    readout_scale: float = 1.0,
    dt: float = 0.1,
    tau: float = 1.0,
    nonlinearity: str = "tanh",
    form: str = "continuous",
    key,
    dtype=None,
) -> Network:
    """Draw a network with fixed random weights (see :mod:`brainbias.models.connectivity`).

    Parameters
    ----------
    n_units, n_inputs, n_outputs : int
    connectivity : ConnectivityConfig, optional
        Recurrent weight family; default Gaussian with gain 1.5.
    input_scale, feedback_scale, readout_scale : float
        Standard deviations of ``B`` and ``F`` entries, and ``√N`` × that of ``C``.
    dt, tau, nonlinearity, form
        As in :class:`Network`.
    key : jax.random.PRNGKey

    Returns
    -------
    Network

    Examples
    --------
    >>> import jax
    >>> from brainbias import make_network
    >>> make_network(100, n_outputs=3, key=jax.random.PRNGKey(0)).recurrent_weights.shape
    (100, 100)
    """
    from . import connectivity as conn

    k_w, k_in, k_fb, k_out = jax.random.split(key, 4)
    return Network(
        recurrent_weights=conn.recurrent_weights(n_units, connectivity, key=k_w, dtype=dtype),
        input_weights=conn.input_weights(n_units, n_inputs, scale=input_scale, key=k_in,
                                         dtype=dtype),
        feedback_weights=conn.feedback_weights(
            n_units, n_outputs, scale=feedback_scale, key=k_fb, dtype=dtype
        ),
        readout_weights=conn.readout_weights(
            n_units, n_outputs, scale=readout_scale, key=k_out, dtype=dtype
        ),
        dt=dt,
        tau=tau,
        nonlinearity=nonlinearity,
        form=form,
        sign_constraint=_sign_constraint_of(connectivity),
    ).validate()


def _sign_constraint_of(connectivity) -> str:
    kind = getattr(connectivity, "kind", "gaussian")
    return kind if kind in ("nonnegative", "dale") else "none"
