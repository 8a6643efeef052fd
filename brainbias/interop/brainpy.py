"""BrainPy interop: export a brainbias network as a BrainPy model, and run BrainPy models.

``brainpy`` is imported lazily (it costs 3–5 s), only inside the functions here.

Two directions:

- :func:`to_brainpy` wraps a fixed network of any family (:mod:`brainbias.models`) and ONE
  context's tonic input (bias) into an instance of a ``brainpy.DynamicalSystem`` subclass whose
  ``update`` is exactly :func:`brainbias.models.base.step`, so that BrainPy's own runner
  (``bp.DSRunner``) reproduces :func:`brainbias.models.base.simulate`.
- :func:`run_brainpy` runs ANY BrainPy ``DynamicalSystem`` with ``bp.DSRunner`` and returns the
  monitored variables; :func:`brainbias.data.targets.from_brainpy` builds targets on it.

:func:`import_brainpy` and :func:`run_brainpy` live in the base module :mod:`brainbias._brainpy`
(so that layers before this one can use them) and are re-exported here; its docstring holds the
BrainPy version notes and pitfalls (x64, the global dt, step counting).
"""

from __future__ import annotations

import functools
import math
import numbers

import jax.numpy as jnp

from .._brainpy import import_brainpy, run_brainpy
from .._errors import ConfigError, did_you_mean
from ..models.base import MODES, Model, output, step
from ..training.control import Controller, effective_leak, effective_readout

__all__ = ["import_brainpy", "to_brainpy", "run_brainpy"]


# ---------------------------------------------------------------------------------------------
# brainbias network → BrainPy model
# ---------------------------------------------------------------------------------------------


@functools.cache
def _model_class():
    """Define the ``bp.DynamicalSystem`` subclass once, after BrainPy is imported."""
    bp, bm = import_brainpy()

    class BrainbiasNetwork(bp.DynamicalSystem):
        """A brainbias network with one context's tonic input, as a BrainPy model.

        Variables ``x`` (unit,) — the family's state (rate ``x_t`` or ``r_t``, LTC potentials
        ``v_t``) — and ``y`` (output,) — the readout ``C · rates(x_t)`` — can be monitored.
        ``update(inp)`` advances one step of :func:`brainbias.models.base.step`; the step size
        is the network's
        ``dt`` (attribute ``dt``), and a BrainPy runner must use the same.
        """

        def __init__(self, network, bias, initial_state, readout, mode, output_mask, leak=None,
                     name=None):
            super().__init__(name=name)
            self.network = network
            self.bias = bias
            self.leak = leak  # a trained time constant's leak dt/tau (None: network.tau)
            self.readout_weights = readout
            self.mode_name = mode
            self.output_mask = output_mask
            self.dt = float(network.dt)
            self._initial_state = initial_state
            self.x = bm.Variable(initial_state)
            self.y = bm.Variable(output(network, initial_state, readout))

        def reset_state(self, *args, **kwargs):
            """Back to the initial state given at construction."""
            self.x.value = self._initial_state
            self.y.value = output(self.network, self._initial_state, self.readout_weights)

        def update(self, inp=None):
            """One step; ``inp`` (input,) is required in driven mode, optional in closed loop."""
            self._check_dt()
            if self.mode_name == "autonomous" and inp is not None:
                raise ConfigError(
                    "This BrainPy model was exported with mode='autonomous' and takes no input; "
                    "export with mode='driven' (or 'closed_loop') to feed inputs."
                )
            if self.mode_name == "driven" and inp is None:
                raise ConfigError(
                    "This BrainPy model was exported with mode='driven': update(inp) needs the "
                    "input (input,) of this step, e.g. DSRunner(...).run(inputs=u) with u of "
                    "shape (time, input)."
                )
            u = None if inp is None else jnp.asarray(bm.as_jax(inp))
            feedback = None
            if self.mode_name == "closed_loop":
                # Same convention as brainbias.models.base.simulate: the output y_t of the current
                # state is fed back while computing x_{t+1}.
                feedback = self.y.value
                if self.output_mask is not None:
                    feedback = feedback * self.output_mask
            new = step(self.network, self.x.value, self.bias, inputs=u, feedback=feedback,
                       leak=self.leak)
            self.x.value = new
            self.y.value = output(self.network, new, self.readout_weights)
            return self.y.value

        def _check_dt(self):
            # The step size is fixed by the network (dt/tau is baked into every step). A runner
            # with another dt would label time wrongly and desynchronise this model from any
            # BrainPy model it is coupled to, so refuse it rather than run silently.
            dt = bp.share.load("dt", None)
            if isinstance(dt, numbers.Real) and not math.isclose(
                float(dt), self.dt, rel_tol=1e-9, abs_tol=0.0
            ):
                raise ConfigError(
                    f"BrainPy runs this model with dt={float(dt)!r}, but the brainbias network "
                    f"steps with dt={self.dt!r}. Use bp.DSRunner(model, dt=model.dt, ...) or "
                    "`with bm.environment(dt=model.dt):`."
                )

    return BrainbiasNetwork


def to_brainpy(
    network: Model,
    controller_or_bias,
    *,
    context=None,
    mode: str = "autonomous",
    readout=None,
    initial_state=None,
    output_mask=None,
    name: str | None = None,
):
    """Export a network with one context's tonic input as a BrainPy ``DynamicalSystem``.

    The model's ``update(inp=None)`` performs :func:`brainbias.models.base.step` with the chosen
    bias, so ``bp.DSRunner(model, monitors=["x", "y"], dt=model.dt)`` reproduces
    :func:`brainbias.models.base.simulate` (same convention: monitors hold ``x_1 … x_T`` and
    ``y_1 … y_T``).

    Parameters
    ----------
    network : Model
        A network of any family (:mod:`brainbias.models`): the fixed weights (copied by
        reference into the model; nothing is trainable there).
    controller_or_bias : Controller or array
        A :class:`~brainbias.training.control.Controller` (its ``context`` row of ``bias`` and
        ``initial_state``, its effective readout and, for a ``bias+tau`` fit, its trained time
        constant are used), or a bias array of shape (unit,), or (context, unit) together with
        an integer ``context``.
    context : str or int, optional
        Context name (Controller) or row index (bias array). May be omitted when there is only
        one context.
    mode : {"autonomous", "closed_loop", "driven"}
        ``driven``: ``update(inp)`` takes the input (input,) of each step. ``closed_loop``:
        the output is fed back through ``network.feedback_weights`` (an input is optional).
    readout : array, shape (output, unit), optional
        Overrides the readout (default: the controller's effective readout, else the network's).
    initial_state : array, shape (unit,), optional
        Overrides the initial state (default: the controller's for this context, else zeros).
    output_mask : array, shape (output,), optional
        Multiplies the fed-back output in closed loop (as in ``simulate``).
    name : str, optional
        BrainPy node name.

    Returns
    -------
    brainpy.DynamicalSystem
        With variables ``x`` (unit,) and ``y`` (output,) and attribute ``dt``.

    Raises
    ------
    ConfigError
        Unknown mode or context, shapes that do not match the network, a context that is
        needed but not given.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from brainbias import make_network
    >>> from brainbias.interop.brainpy import import_brainpy, to_brainpy
    >>> bp, bm = import_brainpy()
    >>> net = make_network(20, key=jax.random.PRNGKey(0))
    >>> model = to_brainpy(net, jnp.zeros(20))
    >>> runner = bp.DSRunner(model, monitors=["x", "y"], dt=model.dt, progress_bar=False)
    >>> with bm.environment(dt=model.dt):  # DSRunner would leave its dt global
    ...     _ = runner.run(duration=10.5 * model.dt)  # int(duration / dt) = 10 steps
    >>> runner.mon["y"].shape
    (10, 1)
    """
    if not isinstance(network, Model):
        raise ConfigError(f"network: expected a brainbias network (brainbias.models), got "
                          f"{type(network).__name__}.")
    network.validate()
    if mode not in MODES:
        raise ConfigError(
            f"mode: expected one of {MODES}, got {mode!r}." + did_you_mean(mode, MODES)
        )
    dtype = network.dtype
    n = network.n_units

    if isinstance(controller_or_bias, Controller):
        controller = controller_or_bias
        if context is None:
            if controller.n_contexts != 1:
                raise ConfigError(
                    f"context: this controller has {controller.n_contexts} contexts "
                    f"{list(controller.contexts)}; name the one to export."
                )
            index = 0
        elif isinstance(context, str):
            index = controller.context_index(context)
        else:
            raise ConfigError(f"context: expected a context name (str), got {context!r}.")
        bias = controller.bias[index]
        x0 = controller.initial_state[index]
        default_readout = effective_readout(network, controller)
        leak = effective_leak(network, controller)
    else:
        leak = None
        bias = jnp.asarray(controller_or_bias, dtype=dtype)
        if bias.ndim == 2:
            if context is None and bias.shape[0] == 1:
                context = 0
            if not isinstance(context, numbers.Integral) or isinstance(context, bool) or not (
                0 <= int(context) < bias.shape[0]
            ):
                raise ConfigError(
                    f"context: a bias of shape (context, unit) = {tuple(bias.shape)} needs an "
                    f"integer context in [0, {bias.shape[0]}), got {context!r}."
                )
            bias = bias[int(context)]
        x0 = jnp.zeros((n,), dtype)
        default_readout = network.readout_weights

    bias = _check_shape("bias", bias, (n,), dtype)
    if initial_state is not None:
        x0 = initial_state
    x0 = _check_shape("initial_state", x0, (n,), dtype)
    readout = default_readout if readout is None else readout
    readout = _check_shape("readout", readout, (network.n_outputs, n), dtype)
    if output_mask is not None:
        output_mask = _check_shape("output_mask", output_mask, (network.n_outputs,), dtype)
    if leak is not None:
        leak = jnp.asarray(leak, dtype)
    return _model_class()(network, bias, x0, readout, mode, output_mask, leak=leak, name=name)


def _check_shape(what, array, shape, dtype):
    arr = jnp.asarray(array, dtype=dtype)
    if arr.shape != shape:
        raise ConfigError(f"{what}: expected shape {shape}, got {tuple(arr.shape)}.")
    if not bool(jnp.all(jnp.isfinite(arr))):
        raise ConfigError(f"{what}: contains NaN or infinite entries.")
    return arr
