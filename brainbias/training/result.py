"""What a fit returns: :class:`TrainResult` (BPTT and the ridge readout baseline alike)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..models.base import Model
from .config import TrainingConfig
from .control import Controller

__all__ = ["TrainResult"]


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What :func:`~brainbias.training.loop.fit` returns (and the ridge baseline,
    :func:`~brainbias.training.readout.fit_readout`).

    network, controller : the (possibly) updated pytrees (``mode="bias"`` leaves the network
    bit-identical); loss : ndarray (iteration, context) training loss per iteration;
    teacher_forcing : ndarray (iteration,) the strength used; stopped : why training ended;
    wall_time : seconds spent in this call; polish_loss : ndarray (step + 1, context) or None,
    the mean squared residual before and after each Levenberg–Marquardt step
    (``training.polish``, :mod:`brainbias.training.polish`).
    """

    network: Model
    controller: Controller
    loss: np.ndarray
    teacher_forcing: np.ndarray
    config: TrainingConfig
    stopped: str
    wall_time: float
    polish_loss: np.ndarray | None = None

    @property
    def n_updates(self) -> int:
        """Gradient iterations plus polish steps: the iteration number of the final model."""
        steps = 0 if self.polish_loss is None else len(self.polish_loss) - 1
        return len(self.loss) + steps
