"""The model protocol, and the functions that run any family through it.

A *model family* is a network with fixed random parameters whose only controller is a tonic
input (the bias, one vector per context). Every family is one module of
:mod:`brainbias.models` with one pytree dataclass implementing :class:`Model`; training,
analysis, results and the CLI see nothing else. What a family provides:

* its fixed parameters as pytree leaves (arrays), static settings as pytree metadata;
* three weight matrices every family shares: ``input_weights`` ``B`` (unit, input),
  ``feedback_weights`` ``F`` (unit, output) and ``readout_weights`` ``C`` (output, unit);
* ``rates(state)``, the observable of a state (what the readout reads, what PCA looks at);
* ``advance(state, rate, current, leak)``, one step of its dynamics on ONE state given the
  external current ``I = b + B u + F f`` (bias, inputs, fed-back output) and the leak
  ``a = dt / τ``, its one time-scale parameter (a trained time constant replaces it);
* ``validate()``, ``n_units`` (the state size), ``dtype``, and :data:`Model.family`;
* optionally ``constrain(reference)``: the network projected back onto its family's constraints
  after a training step that moved its weights (``mode="all"``; sign-constrained rate weights,
  non-negative LTC conductances).

Jacobians are never written by hand: the analysis layer differentiates
:func:`autonomous_map` with JAX. The functions below (simulation, the one-step map and its
vector field) are written once for all families; they act on ONE trajectory (no context or
batch axis) and callers ``vmap``.

``f_t`` is the fed-back output in closed loop: the network's own ``y_t``, or under (generalised)
teacher forcing ``s_t y*_t + (1 − s_t) y_t`` with the true output ``y*`` (Hess et al. 2023). An
``output_mask`` (output,) zeroes fed-back outputs that a context does not use.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

from .._errors import ConfigError, check_positive, did_you_mean

__all__ = [
    "Model",
    "SharedWeights",
    "MODES",
    "rates",
    "output",
    "current",
    "step",
    "simulate",
    "autonomous_map",
    "vector_field",
    "fixed_arrays",
    "static_settings",
]

MODES = ("autonomous", "driven", "closed_loop")


@runtime_checkable
class Model(Protocol):
    """What every model family implements (see the module docstring).

    Attributes
    ----------
    family : str
        The family's name in configs and results (``[network] model = ...``).
    array_dims : dict
        Dimensions of each fixed array (the results file stores them under these names).
    dt, tau : float
        Step and time constant (same unit); ``leak = dt / tau``.
    input_weights, feedback_weights, readout_weights : arrays
    """

    family: ClassVar[str]
    array_dims: ClassVar[dict]
    dt: float
    tau: float

    @property
    def n_units(self) -> int: ...

    @property
    def n_inputs(self) -> int: ...

    @property
    def n_outputs(self) -> int: ...

    @property
    def leak(self) -> float: ...

    @property
    def dtype(self): ...

    def rates(self, state): ...

    def advance(self, state, rate, current, leak): ...

    def validate(self): ...


class SharedWeights:
    """What every family derives the same way from its shared fields (a mixin of the family
    dataclasses): the leak ``dt / tau``, the input and output sizes, and the check of the time
    step. A family adds ``n_units`` and ``dtype`` from its own arrays."""

    @property
    def leak(self) -> float:
        """``a = dt / tau``."""
        return self.dt / self.tau

    @property
    def n_inputs(self) -> int:
        return self.input_weights.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.readout_weights.shape[0]

    def _check_time_step(self):
        """ConfigError for a non-positive ``dt``/``tau`` or ``dt > tau`` (static fields only:
        pytree unflattening passes tracers and None holes as array leaves)."""
        check_positive("dt", self.dt)
        check_positive("tau", self.tau)
        if self.dt > self.tau:
            raise ConfigError(
                f"dt={self.dt} > tau={self.tau}: the step would overshoot (leak dt/tau > 1). "
                "Use dt ≤ tau."
            )


def rates(network: Model, state):
    """The observable of a state (..., unit): what the readout and PCA see."""
    return network.rates(state)


def output(network: Model, state, readout=None):
    """``y = C · rates(state)``; ``readout`` (output, unit) overrides the network's readout."""
    c = network.readout_weights if readout is None else readout
    return network.rates(state) @ c.T


def current(network: Model, bias, inputs=None, feedback=None):
    """The external current ``I = b + B u + F f`` of one step (unit,)."""
    drive = bias
    if inputs is not None:
        drive = drive + network.input_weights @ inputs
    if feedback is not None:
        drive = drive + network.feedback_weights @ feedback
    return drive


def step(network: Model, state, bias, *, inputs=None, feedback=None, leak=None):
    """One step, ``state`` (unit,) → (unit,).

    ``leak`` (a scalar, possibly traced) replaces ``network.leak = dt / tau``: a trained global
    time constant lives in the controller (:func:`brainbias.training.control.effective_leak`), not
    here.
    """
    a = network.leak if leak is None else leak
    return network.advance(state, network.rates(state), current(network, bias, inputs, feedback),
                           a)


def _check_simulate_args(mode, inputs, teacher, n_steps) -> int:
    """The number of steps of a :func:`simulate` call; ConfigError for arguments that do not fit
    the mode."""
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
    return lengths.pop()


def simulate(
    network: Model,
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
    network : Model
        Any family (:class:`brainbias.models.rate.Network`,
        :class:`brainbias.models.ltc.LTCNetwork`).
    bias : array, shape (unit,)
    initial_state : array, shape (unit,)
        The family's state at time 0 (rate ``x_0`` or ``r_0``, LTC potentials ``v_0``).
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
    t = _check_simulate_args(mode, inputs, teacher, n_steps)
    closed = mode == "closed_loop"
    c = network.readout_weights if readout is None else readout
    # one dtype for the whole scan (the carry must keep its type): that of the network and state
    dtype = jnp.result_type(initial_state, bias, network.dtype)
    as_dtype = lambda a: None if a is None else jnp.asarray(a, dtype)  # noqa: E731
    initial_state, output_mask, c = as_dtype(initial_state), as_dtype(output_mask), as_dtype(c)
    xs = {"u": as_dtype(inputs), "y_true": as_dtype(teacher),
          "s": jnp.broadcast_to(jnp.asarray(teacher_strength, dtype=dtype), (t,))}
    a = network.leak if leak is None else jnp.asarray(leak, dtype)

    def body(carry, x):
        state, rate, y = carry
        fb = None
        if closed:
            fb = y if x["y_true"] is None else x["s"] * x["y_true"] + (1.0 - x["s"]) * y
            if output_mask is not None:
                fb = fb * output_mask
        new = network.advance(state, rate, current(network, bias, x["u"], fb), a)
        rate_new = network.rates(new)
        y_new = rate_new @ c.T
        return (new, rate_new, y_new), (new, y_new)

    r0 = network.rates(initial_state)
    _, (states, outputs) = jax.lax.scan(body, (initial_state, r0, r0 @ c.T), xs, length=t)
    return states, outputs


def autonomous_map(network: Model, bias, *, closed_loop=False, readout=None, output_mask=None,
                   inputs=None, leak=None):
    """The map ``F: state (unit,) → state (unit,)`` of one step with a constant tonic input.

    This is what the analysis layer receives (fixed points solve ``F(x) = x``; Jacobians are
    ``jax.jacfwd(F)``). With ``closed_loop=True`` the output is fed back (``f = C · rates(x)``).
    ``inputs`` (input,) adds a constant input. ``leak`` replaces ``network.leak`` (a trained
    time constant, as in :func:`step`).

    The map is a :class:`jax.tree_util.Partial`: a pytree whose leaves are the network's
    arrays and the bias (and readout, mask, inputs, leak), with the code and the static settings
    as its structure. Jitted analyses that take it as a traced argument (the fixed-point finder)
    compile once per network shape and settings, not once per bias or network.
    """
    c = network.readout_weights if readout is None else readout
    return jax.tree_util.Partial(_AutonomousStep(bool(closed_loop)), network, bias, c,
                                 output_mask, inputs, leak)


@dataclasses.dataclass(frozen=True)
class _AutonomousStep:
    """The code of :func:`autonomous_map`: hashable and compared by value (its static part)."""

    closed_loop: bool

    def __call__(self, network, bias, readout, output_mask, inputs, leak, state):
        fb = None
        if self.closed_loop:
            fb = network.rates(state) @ readout.T
            if output_mask is not None:
                fb = fb * output_mask
        return step(network, state, bias, inputs=inputs, feedback=fb, leak=leak)


def vector_field(network: Model, bias, **kwargs):
    """The continuous-time field ``dx/dt = (F(x) − x) / dt`` of the same map.

    For the continuous rate form this is exactly ``(−x + W φ(x) + b) / τ`` (plus feedback and
    inputs); for any other map it is the field whose Euler step is the map. Stability of a fixed
    point: ``Re λ < 0`` here ⇔ ``|1 + dt·λ| < 1`` for the map when ``dt·|λ|`` is small.
    """
    f = autonomous_map(network, bias, **kwargs)
    dt = network.dt
    return lambda state: (f(state) - state) / dt


def fixed_arrays(network: Model) -> dict:
    """The family's fixed arrays by field name (shared weights included)."""
    return {f.name: getattr(network, f.name) for f in dataclasses.fields(network)
            if not f.metadata.get("static", False)}


def static_settings(network: Model) -> dict:
    """The family's static settings by field name, ``dt`` and ``tau`` excepted."""
    return {f.name: getattr(network, f.name) for f in dataclasses.fields(network)
            if f.metadata.get("static", False) and f.name not in ("dt", "tau")}
