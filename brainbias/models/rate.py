"""Rate networks with fixed weights: the step map, simulation, and the analysis-facing maps.

Two forms share one leak ``a = dt / tau`` (paper symbols → names here: ``W`` recurrent_weights,
``B`` input_weights, ``F`` feedback_weights, ``C`` readout_weights, ``b`` bias, ``φ``
nonlinearity):

``form="continuous"`` — Euler discretisation of ``τ dx/dt = −x + W φ(x) + B u + F f + b``::

    x_{t+1} = (1 − a) x_t + a (W φ(x_t) + B u_t + F f_t + b),      y_t = C φ(x_t)

``form="discrete"`` — Williams et al. (2024), ``r_t = α r_{t−1} + β φ(W r_{t−1} + B x_t + b)``
with ``α = 1 − a``, ``β = a`` (``a = 1`` is the vanilla RNN)::

    r_{t+1} = (1 − a) r_t + a φ(W r_t + B u_t + F f_t + b),         y_t = C r_t

``f_t`` is the fed-back output in closed loop: the network's own ``y_t``, or under (generalised)
teacher forcing ``s_t y*_t + (1 − s_t) y_t`` with the true output ``y*`` (Hess et al. 2023).
An ``output_mask`` (output,) zeroes fed-back outputs that a context does not use.

All functions here act on ONE trajectory (no context/batch axis); callers ``vmap``. Nothing in
this module knows about training: biases and an optional readout are plain arguments.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, check_positive, did_you_mean
from .._pytree import pytree_dataclass, static_field

__all__ = [
    "Network",
    "NONLINEARITIES",
    "FORMS",
    "MODES",
    "nonlinearity",
    "rates",
    "output",
    "step",
    "simulate",
    "autonomous_map",
    "vector_field",
    "make_network",
]


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
MODES = ("autonomous", "driven", "closed_loop")


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
class Network:
    """A rate network with fixed weights (a pytree; arrays are leaves).

    Parameters
    ----------
    recurrent_weights : array, shape (unit, unit)
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

    Raises
    ------
    ConfigError
        Non-positive or non-finite ``dt``/``tau``, ``dt > tau``, unknown nonlinearity or form,
        or (via :meth:`validate`) inconsistent weight shapes.
    """

    recurrent_weights: jax.Array
    input_weights: jax.Array
    feedback_weights: jax.Array
    readout_weights: jax.Array
    dt: float = static_field(default=0.1)
    tau: float = static_field(default=1.0)
    nonlinearity: str = static_field(default="tanh")
    form: str = static_field(default="continuous")

    def __post_init__(self):
        # Only static fields are checked here: JAX rebuilds this object with tracers or None
        # holes (partition) as leaves. Array shapes are checked in `validate`.
        check_positive("dt", self.dt)
        check_positive("tau", self.tau)
        if self.dt > self.tau:
            raise ConfigError(
                f"dt={self.dt} > tau={self.tau}: the Euler step would overshoot (leak dt/tau > 1). "
                "Use dt ≤ tau."
            )
        nonlinearity(self.nonlinearity)
        if self.form not in FORMS:
            raise ConfigError(
                f"form: expected one of {FORMS}, got {self.form!r}."
                + did_you_mean(self.form, FORMS)
            )

    @property
    def leak(self) -> float:
        """``a = dt / tau``."""
        return self.dt / self.tau

    @property
    def n_units(self) -> int:
        return self.recurrent_weights.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.input_weights.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.readout_weights.shape[0]

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
        for name in ("recurrent_weights", "input_weights", "feedback_weights", "readout_weights"):
            if not bool(np.all(np.isfinite(np.asarray(getattr(self, name))))):
                raise ConfigError(f"{name}: contains NaN or infinite entries.")
        return self


def rates(network: Network, state):
    """Observable rates of a state (..., unit): ``φ(x)`` (continuous) or ``r`` (discrete)."""
    if network.form == "continuous":
        return nonlinearity(network.nonlinearity)(state)
    return state


def output(network: Network, state, readout=None):
    """``y = C · rates(state)``; ``readout`` (output, unit) overrides the network's readout."""
    c = network.readout_weights if readout is None else readout
    return rates(network, state) @ c.T


def step(network: Network, state, bias, *, inputs=None, feedback=None, leak=None):
    """One step of the map, ``state`` (unit,) → (unit,). See the module docstring.

    ``leak`` (a scalar, possibly traced) replaces ``network.leak = dt / tau``: a trained global
    time constant lives in the controller (:func:`brainbias.training.control.effective_leak`), not
    here.
    """
    return _step(network, state, rates(network, state), bias, inputs, feedback, leak)


def _step(network: Network, state, rate, bias, inputs, feedback, leak=None):
    """``step`` given ``rate = rates(network, state)`` already computed (simulate carries it,
    so that φ is evaluated once per step, not twice)."""
    a = network.leak if leak is None else leak
    drive = bias
    if inputs is not None:
        drive = drive + network.input_weights @ inputs
    if feedback is not None:
        drive = drive + network.feedback_weights @ feedback
    if network.form == "continuous":
        return (1.0 - a) * state + a * (network.recurrent_weights @ rate + drive)
    phi = nonlinearity(network.nonlinearity)
    return (1.0 - a) * state + a * phi(network.recurrent_weights @ rate + drive)


def simulate(
    network: Network,
    bias,
    initial_state,
    *,
    mode: str = "autonomous",
    n_steps: int | None = None,
    inputs=None,
    teacher=None,
    teacher_strength=0.0,
    readout=None,
    output_mask=None,
    leak=None,
):
    """Run the network for ``T`` steps from ``initial_state``.

    Parameters
    ----------
    network : Network
    bias : array, shape (unit,)
    initial_state : array, shape (unit,)
        ``x_0`` (continuous) or ``r_0`` (discrete).
    mode : {"autonomous", "driven", "closed_loop"}
        ``driven`` needs ``inputs``; ``closed_loop`` feeds the output back through
        ``feedback_weights`` (and may also take ``inputs``).
    n_steps : int, optional
        ``T`` when neither ``inputs`` nor ``teacher`` fixes it.
    inputs : array, shape (time, input), optional
        ``u_0 … u_{T−1}``.
    teacher : array, shape (time, output), optional
        True outputs ``y*_0 … y*_{T−1}`` for teacher forcing (closed loop only).
    teacher_strength : float or array of shape (time,)
        ``s_t`` ∈ [0, 1]: 1 is full teacher forcing, 0 free running.
    readout : array, shape (output, unit), optional
        A trained readout replacing ``network.readout_weights``.
    output_mask : array, shape (output,), optional
        Multiplies the fed-back output (0 for outputs a context does not use).
    leak : float or scalar array, optional
        ``a = dt / τ`` replacing ``network.leak`` (a trained global time constant,
        :func:`brainbias.training.control.effective_leak`).

    Returns
    -------
    states : array, shape (time, unit)
        ``x_1 … x_T``.
    outputs : array, shape (time, output)
        ``y_1 … y_T``.

    Raises
    ------
    ConfigError
        Unknown mode, or arguments that do not fit the mode.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from brainbias import make_network, simulate
    >>> net = make_network(50, n_outputs=1, key=jax.random.PRNGKey(0))
    >>> states, outputs = simulate(net, jnp.zeros(50), jnp.zeros(50), n_steps=10)
    >>> states.shape, outputs.shape
    ((10, 50), (10, 1))
    """
    if mode not in MODES:
        raise ConfigError(f"mode: expected one of {MODES}, got {mode!r}."
                          + did_you_mean(mode, MODES))
    if mode == "driven" and inputs is None:
        raise ConfigError("mode='driven' needs `inputs` of shape (time, input).")
    if mode == "autonomous" and inputs is not None:
        raise ConfigError("mode='autonomous' takes no `inputs`; use mode='driven'.")
    if teacher is not None and mode != "closed_loop":
        raise ConfigError("`teacher` is only used with mode='closed_loop'.")
    lengths = {len(a) for a in (inputs, teacher) if a is not None}
    if n_steps is not None:
        lengths.add(int(n_steps))
    if len(lengths) != 1:
        raise ConfigError(
            "simulate: give the number of steps through exactly one consistent source "
            f"(n_steps, inputs or teacher); got lengths {sorted(lengths)}."
        )
    (t,) = lengths
    closed = mode == "closed_loop"
    c = network.readout_weights if readout is None else readout
    # one dtype for the whole scan (the carry must keep its type): that of the network and state
    dtype = jnp.result_type(initial_state, bias, network.recurrent_weights)
    initial_state = jnp.asarray(initial_state, dtype)
    output_mask = None if output_mask is None else jnp.asarray(output_mask, dtype)
    c = jnp.asarray(c, dtype)
    inputs = None if inputs is None else jnp.asarray(inputs, dtype)
    teacher = None if teacher is None else jnp.asarray(teacher, dtype)
    strength = jnp.broadcast_to(jnp.asarray(teacher_strength, dtype=dtype), (t,))
    leak = None if leak is None else jnp.asarray(leak, dtype)
    xs = {
        "u": inputs,
        "y_true": teacher,
        "s": strength,
    }

    def body(carry, x):
        state, rate, y = carry
        fb = None
        if closed:
            fb = y if x["y_true"] is None else x["s"] * x["y_true"] + (1.0 - x["s"]) * y
            if output_mask is not None:
                fb = fb * output_mask
        new = _step(network, state, rate, bias, x["u"], fb, leak)
        rate_new = rates(network, new)
        y_new = rate_new @ c.T
        return (new, rate_new, y_new), (new, y_new)

    r0 = rates(network, initial_state)
    _, (states, outputs) = jax.lax.scan(body, (initial_state, r0, r0 @ c.T), xs, length=t)
    return states, outputs


def autonomous_map(network: Network, bias, *, closed_loop=False, readout=None, output_mask=None,
                   inputs=None, leak=None):
    """The map ``F: state (unit,) → state (unit,)`` of one step with a constant tonic input.

    This is what the analysis layer receives (fixed points solve ``F(x) = x``). With
    ``closed_loop=True`` the output is fed back (``f = C φ(x)``), i.e. the effective recurrent
    weights are ``W + F C``. ``inputs`` (input,) adds a constant input. ``leak`` replaces
    ``network.leak`` (a trained time constant, as in :func:`step`).
    """
    c = network.readout_weights if readout is None else readout

    def f(state):
        fb = None
        if closed_loop:
            fb = rates(network, state) @ c.T
            if output_mask is not None:
                fb = fb * output_mask
        return step(network, state, bias, inputs=inputs, feedback=fb, leak=leak)

    return f


def vector_field(network: Network, bias, **kwargs):
    """The continuous-time field ``dx/dt = (F(x) − x) / dt`` of the same map.

    For ``form="continuous"`` this is exactly ``(−x + W φ(x) + b) / τ`` (plus feedback/inputs);
    for ``form="discrete"`` it is the field whose Euler step is the map. Stability of a fixed
    point: ``Re λ < 0`` here ⇔ ``|1 + dt·λ| < 1`` for the map when ``dt·|λ|`` is small.
    """
    f = autonomous_map(network, bias, **kwargs)
    dt = network.dt
    return lambda state: (f(state) - state) / dt



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
    ).validate()
