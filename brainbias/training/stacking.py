"""Target stacking: the trajectories of all contexts on one leading context axis.

:func:`stack_targets` pads contexts of different length and output dimension to common arrays
and masks what a context does not define; :func:`_data_arrays` is the form the compiled training
chunk reads, and :func:`_check_lengths` says when a target is too short for the windows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, DataError
from ..data.trajectory import Trajectory
from .config import TrainingConfig

__all__ = ["TargetArrays", "stack_targets"]


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
                  validation_fraction: float = 0.0, n_outputs: int | None = None,
                  n_inputs: int | None = None) -> TargetArrays:
    """Stack per-context trajectories into padded arrays.

    ``n_train`` counts the leading steps a fit may use: the first ``1 − test_fraction`` of each
    target, less its last ``validation_fraction`` (held out for model selection).

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
    n_train = np.floor(n_train * (1.0 - validation_fraction)).astype(int)
    names = max((t.output_names for t in targets), key=len)
    names = tuple(names) + tuple(f"y{i}" for i in range(len(names), n_out))
    in_names = max((t.input_names for t in targets), key=len)
    in_names = tuple(in_names) + tuple(f"u{i}" for i in range(len(in_names), n_in))
    return TargetArrays(outputs, inputs, mask, n_steps, n_train, dts.pop(), names, in_names)


def _data_arrays(arrays: TargetArrays, dtype):
    """The stacked targets as the dict of JAX arrays (in the training dtype) a chunk reads."""
    return {
        "outputs": jnp.asarray(arrays.outputs, dtype),
        "inputs": jnp.asarray(arrays.inputs, dtype),
        "mask": jnp.asarray(arrays.output_mask, dtype),
        "n_train": jnp.asarray(arrays.n_train),
    }


def _check_lengths(arrays: TargetArrays, config: TrainingConfig, contexts):
    """Raise a ConfigError for a context whose training part is shorter than one window."""
    need = config.window + 1 if config.run_mode == "autonomous" else \
        config.washout + config.window + 1
    for name, n in zip(contexts, arrays.n_train, strict=True):
        if n < need:
            raise ConfigError(
                f"target {name!r}: {n} training steps (after holding out test_fraction="
                f"{config.test_fraction}{_validation_note(config)}) but a window needs "
                f"washout + window + 1 = {need}. "
                "Use a longer target or a shorter window/washout."
            )


def _validation_note(config: TrainingConfig) -> str:
    v = config.held_out_for_validation
    return f" and validation_fraction={v} for model selection" if v else ""
