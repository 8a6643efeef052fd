"""A second-order finish for closed-loop fits: Levenberg–Marquardt on the biases.

Gradient training leaves the biases of a closed-loop generator near, but not at, the minimum of
the teacher-forced prediction loss; for a chaotic target the remaining error sets how long a
free run follows the truth (docs/lorenz.md). With ``training.polish = "levenberg_marquardt"``
:func:`~brainbias.training.loop.fit` ends with up to ``polish_steps`` Levenberg–Marquardt steps
per context on the residuals

    r(b) = ŷ_{t+1}(b) − y_{t+1}

over ``polish_segments`` segments of ``polish_segment_length`` training steps, each after a
teacher-forced warm-up of ``washout`` steps. The true output is fed back every
``polish_horizon``-th step (1: the one-step loss; k > 1: free runs of k steps from
teacher-forced states, i.e. multiple shooting). The Jacobian ``∂r/∂b`` is exact (forward-mode
JAX through the whole segment), the normal matrix ``JᵀJ`` is N × N per context, and each step
solves ``(JᵀJ + μ diag JᵀJ) δ = −Jᵀr`` with the damping ``μ`` adapted (÷3 after an accepted
step, ×4 until a step lowers the loss). This is the analogue of the ridge readout's exact
least-squares solve, for the biases — only the biases move, so a bias-only fit stays bias-only.

One-step optimality is not free-run stability (measured: one seed's attractor collapsed onto a
fixed point): every accepted step is passed to ``fit``'s ``callback`` as iteration
``n_iterations + k``, so that a :class:`~brainbias.experiment.selection.ValidationSelector`
keeps a polished model only when its free run on the validation segment is as faithful.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from ..models.base import simulate
from .config import TrainingConfig
from .control import effective_leak, effective_readout
from .loss import warm_up

__all__ = ["POLISHES", "levenberg_marquardt", "polish", "segment_starts"]

POLISHES = ("none", "levenberg_marquardt")
_MAX_DAMPING = 1e8


def segment_starts(n_train: int, length: int, n_segments: int, washout: int) -> np.ndarray:
    """Start steps of ``n_segments`` polish segments spread evenly over ``n_train`` steps.

    Each segment needs ``washout + length + 1`` steps; segments shrink to fit a short target.

    Returns
    -------
    ndarray of int, and the segment length actually used (as the second element)
    """
    span = washout + length + 1
    if span > n_train:
        length = n_train - washout - 1
        if length < 2:
            raise ConfigError(f"training.polish: the training part has {n_train} steps, too "
                              f"few for a washout of {washout} steps and a polish segment.")
        span = n_train
    starts = np.linspace(0, n_train - span, n_segments).round().astype(int)
    return np.unique(starts), length


def _residual_function(network, controller, data, c: int, config: TrainingConfig):
    """``bias → residuals`` (flat) of context ``c`` over its polish segments."""
    outputs, inputs = data["outputs"][c], data["inputs"][c]
    mask = data["mask"][c]
    n_train = int(data["n_train"][c])
    w = config.washout
    starts, length = segment_starts(n_train, config.polish_segment_length,
                                    config.polish_segments, w)
    readout = effective_readout(network, controller)
    leak = effective_leak(network, controller)
    x0 = controller.initial_state[c]
    has_inputs = inputs.shape[-1] > 0
    pattern = (jnp.arange(length) % config.polish_horizon == 0).astype(outputs.dtype)
    kw = dict(readout=readout, output_mask=mask, leak=leak)
    weight = jnp.sqrt(mask)

    def one(bias, s0):
        seg_y = outputs[s0:s0 + w + length + 1]
        seg_u = inputs[s0:s0 + w + length] if has_inputs else None
        state = warm_up(network, bias, x0, run_mode="closed_loop", teacher=seg_y[:w],
                        inputs=None if seg_u is None else seg_u[:w], **kw)
        _, y = simulate(network, bias, state, mode="closed_loop",
                        inputs=None if seg_u is None else seg_u[w:], teacher=seg_y[w:w + length],
                        teacher_strength=pattern, **kw)
        return ((y - seg_y[w + 1:]) * weight).ravel()

    def residual(bias):
        return jnp.concatenate([one(bias, int(s0)) for s0 in starts])

    return residual


def _float64():
    """A context in which JAX computes in float64 (the normal equations need it)."""
    if hasattr(jax, "enable_x64"):  # jax >= 0.5
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # older jax

    return enable_x64()


def _lm_step(res, jac, bias, r, loss, damping):
    """One accepted Levenberg–Marquardt step ``(bias, r, loss, damping)``, or None when no
    damping up to the limit lowers the loss."""
    J = jac(bias)
    g, H = J.T @ r, J.T @ J
    scale = jnp.diag(jnp.diag(H) + 1e-12 * jnp.trace(H) / H.shape[0])
    while damping < _MAX_DAMPING:
        step = -jnp.linalg.solve(H + damping * scale, g)
        r_new = res(bias + step)
        loss_new = float(r_new @ r_new)
        if np.isfinite(loss_new) and loss_new < loss:
            return bias + step, r_new, loss_new, damping / 3.0
        damping *= 4.0
    return None


def levenberg_marquardt(network, controller, data, config: TrainingConfig, *, callback=None,
                        first_iteration: int = 0, progress: bool = False):
    """Polish every context's bias by Levenberg–Marquardt steps (see the module docstring).

    Parameters
    ----------
    network : Model
        The fixed network (not changed).
    controller : Controller
        The controller after gradient training; its biases are the starting point.
    data : dict
        The stacked training arrays of the fit (``outputs``, ``inputs``, ``mask``, ``n_train``;
        :func:`brainbias.training.stacking._data_arrays`).
    config : TrainingConfig
        ``polish_steps``, ``polish_segments``, ``polish_segment_length``, ``polish_horizon``,
        ``washout``.
    callback : callable, optional
        ``callback(iteration, network, controller)`` after every step (all contexts), with
        ``iteration = first_iteration + k`` for step k = 1, 2, …
    first_iteration : int
        The iteration count of the gradient phase.
    progress : bool
        Show a tqdm bar over the steps with the loss.

    Returns
    -------
    controller : Controller
        With the polished biases (the last step; selection is the callback's job).
    loss : ndarray, shape (step + 1, context)
        Mean squared residual per context before the first step (row 0) and after each step
        (a context whose steps stopped helping keeps its last value).
    """
    from tqdm.auto import tqdm

    f64 = lambda tree: jax.tree_util.tree_map(  # noqa: E731 (integer leaves: sparse indices)
        lambda a: a if jnp.issubdtype(jnp.result_type(a), jnp.integer)
        else jnp.asarray(a, jnp.float64), tree)
    with _float64():
        net, ctrl = f64(network), f64(controller)
        data = {k: jnp.asarray(v, jnp.float64) if k != "n_train" else np.asarray(v)
                for k, v in data.items() if k in ("outputs", "inputs", "mask", "n_train")}
        contexts = []
        for c in range(ctrl.bias.shape[0]):
            residual = _residual_function(net, ctrl, data, c, config)
            res, jac = jax.jit(residual), jax.jit(jax.jacfwd(residual))
            r = res(ctrl.bias[c])
            contexts.append({"res": res, "jac": jac, "bias": ctrl.bias[c], "r": r,
                             "loss": float(r @ r), "damping": 1e-3, "done": False,
                             "size": r.size})
        history = [[ct["loss"] / ct["size"] for ct in contexts]]
        bar = tqdm(range(config.polish_steps), desc="polish", disable=not progress, leave=False)
        for k in bar:
            for ct in contexts:
                if ct["done"]:
                    continue
                stepped = _lm_step(ct["res"], ct["jac"], ct["bias"], ct["r"], ct["loss"],
                                   ct["damping"])
                if stepped is None:
                    ct["done"] = True
                    continue
                ct["bias"], ct["r"], ct["loss"], ct["damping"] = stepped
            history.append([ct["loss"] / ct["size"] for ct in contexts])
            bar.set_postfix(loss=f"{np.mean(history[-1]):.4g}")
            if all(ct["done"] for ct in contexts):
                history.pop()
                break
            bias = jnp.stack([ct["bias"] for ct in contexts]).astype(controller.bias.dtype)
            controller = dataclasses.replace(controller, bias=bias)
            if callback is not None:
                callback(first_iteration + k + 1, network, controller)
        bar.close()
    return controller, np.array(history)


def _numpy_data(arrays):
    """The stacked targets as the dict :func:`levenberg_marquardt` reads (float64 numpy)."""
    return {"outputs": np.asarray(arrays.outputs, np.float64),
            "inputs": np.asarray(arrays.inputs, np.float64),
            "mask": np.asarray(arrays.output_mask, np.float64),
            "n_train": np.asarray(arrays.n_train)}


def polish(result, targets, config: TrainingConfig | None = None, *, callback=None,
           progress: bool = False):
    """A fit's result after Levenberg–Marquardt polish of its biases.

    What :func:`~brainbias.training.loop.fit` does at its end with ``training.polish =
    "levenberg_marquardt"``, as a separate step: e.g. to polish a model chosen by validation
    with a selector of its own.

    Parameters
    ----------
    result : TrainResult
        A bias-only closed-loop fit.
    targets : sequence of Trajectory
        The fit's targets (the same training part is used: ``config.test_fraction`` and the
        validation fraction are held out as in the fit).
    config : TrainingConfig, optional
        The polish settings; default ``result.config``. Its ``polish`` is taken to be
        ``"levenberg_marquardt"``.
    callback : callable, optional
        ``callback(iteration, network, controller)`` after every step (iteration
        ``len(result.loss) + k``).
    progress : bool
        A progress bar over the steps.

    Returns
    -------
    TrainResult
        With the polished controller and ``polish_loss``.
    """
    import time

    from .stacking import stack_targets

    config = dataclasses.replace(result.config if config is None else config,
                                 polish="levenberg_marquardt")
    arrays = stack_targets(list(targets), test_fraction=config.test_fraction,
                           validation_fraction=config.held_out_for_validation,
                           n_outputs=result.network.n_outputs, n_inputs=result.network.n_inputs)
    t0 = time.perf_counter()
    controller, polish_loss = levenberg_marquardt(
        result.network, result.controller, _numpy_data(arrays), config,
        callback=callback, first_iteration=len(result.loss), progress=progress)
    return dataclasses.replace(
        result, controller=controller, polish_loss=polish_loss,
        stopped=f"{result.stopped}; {len(polish_loss) - 1} Levenberg-Marquardt steps",
        wall_time=result.wall_time + time.perf_counter() - t0)
