"""The training configuration: :class:`TrainingConfig`, a frozen dataclass that checks itself.

It lives with the training code that reads it (the compiled chunk takes it as a static, hashable
argument); :mod:`brainbias.config` re-exports it beside the other run configurations and builds it
from the ``[training]`` TOML table. Also here, because the training layer is the first to need
them: the value checks every config shares (:func:`check_choice`, :func:`check_fraction`) and
:func:`to_dict`, the plain-dict form a checkpoint or a results file stores.
"""

from __future__ import annotations

import dataclasses

from .._errors import ConfigError, check_int, check_positive, did_you_mean
from ..models.base import MODES
from .control import TRAINING_MODES

__all__ = ["TrainingConfig", "to_dict", "check_choice", "check_fraction"]

SCHEDULES = ("cosine", "exponential", "constant")
LOSSES = ("mse", "poisson")
TEACHER_FORCING = ("annealed", "adaptive")


def check_choice(name, value, choices):
    """Raise a ConfigError naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(
            f"{name}: expected one of {tuple(choices)}, got {value!r}."
            + did_you_mean(value, choices)
        )


def check_fraction(name, value, *, closed=True):
    """Raise a ConfigError naming ``name`` unless ``value`` is in [0, 1] ([0, 1) if not
    ``closed``)."""
    check_positive(name, value, allow_zero=True)
    if value > 1 or (not closed and value >= 1):
        raise ConfigError(f"{name}: expected a number in [0, 1], got {value!r}.")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """How the controller is optimised.

    Parameters
    ----------
    mode : {"bias", "bias+readout", "readout", "bias+tau", "all"}
        Which parameters are trained (see :mod:`brainbias.training.control`); ``bias+tau``
        trains the biases and one global time constant.
    run_mode : {"closed_loop", "driven", "autonomous"}
        How the network runs: output fed back (generators), input-driven (tasks), or from the
        initial state alone.
    n_iterations, learning_rate, schedule, final_learning_rate_fraction, grad_clip
        Adam with global-norm clipping; ``schedule`` decays the rate to
        ``final_learning_rate_fraction`` × ``learning_rate``.
    readout_learning_rate_scale : float
        Trained readouts get this × the bias learning rate (REFERENCES §5: about 10× lower).
    tau_learning_rate_scale : float
        The trained time constant's parameter (``mode="bias+tau"``) gets this × the bias
        learning rate; an Adam step of size η changes τ by about a fraction η.
    batch_size, window, washout : int
        Windows per context per iteration, their length in steps, and the teacher-forced (or
        input-driven) warm-up before each window whose steps are not scored. Gradients are
        truncated at the end of the warm-up (truncated BPTT) unless ``train_initial_state``.
    teacher_forcing_start, teacher_forcing_end, teacher_forcing_fraction
        Generalised teacher forcing: fed-back output ``s y* + (1 − s) y`` with ``s`` annealed
        linearly from start to end over that fraction of the iterations (closed loop only).
    teacher_forcing : {"annealed", "adaptive"}
        ``annealed``: the strength follows the linear schedule above. ``adaptive`` (Hess et al.
        2023): once per chunk, ``s = max(teacher_forcing_end, 1 − 1/G)`` with ``G`` the
        geometric mean of the closed-loop Jacobian's spectral norm along teacher-forced training
        states, so that gradients neither explode nor vanish.
    sparse_forcing_interval : int
        Sparse teacher forcing (Mikhaeil et al. 2022): if ``k > 0``, the true output is fed
        back in full every k-th window step (and the generalised strength in between); about
        one Lyapunov time of the target works for chaotic systems. 0 = off.
    teacher_noise : float
        Standard deviation of Gaussian noise added to the fed-back true output (closed loop;
        the scored target stays clean), in the targets' units. 0 = off.
    train_initial_state : bool
        Also train an initial state per context (needed for ``run_mode="autonomous"``).
    initial_state_noise : float
        ``run_mode="autonomous"`` only: fit the mean loss of ``batch_size`` runs from the
        initial state plus N(0, σ²) noise (σ in state units; 0 = one noiseless run). It damps
        slow modes the data do not constrain (measured on the time-scale ground truth,
        docs/recordings.md).
    bias_init_scale : float
        Standard deviation of the initial biases.
    ridge : float
        Ridge penalty for ``mode="readout"``.
    chunk_size : int
        Iterations per compiled chunk (progress, checkpoints and NaN checks happen between chunks).
    checkpoint_every : int
        Write a checkpoint every this many chunks (0 = only at the end / on interrupt).
    patience : int
        Early stopping: stop after this many chunks without a relative improvement of
        ``min_delta`` in the chunk-mean loss (0 = off).
    min_delta : float
        The relative improvement that counts for ``patience``: a chunk improves when its mean
        loss is below ``(1 − min_delta)`` × the best so far; ≥ 0.
    test_fraction : float
        Final fraction of every target held out from training and used for evaluation.
    select_every : int
        Model selection (target runs, closed loop): every this many iterations the model runs
        free from the start of a *validation* segment and the one with the lowest state-space
        divergence to it is kept (valid prediction time breaks ties;
        :class:`brainbias.experiment.selection.ValidationSelector`). The training loss does not
        tell how faithful a free-running attractor is (docs/lorenz.md). 0 = keep the final
        model.
    validation_fraction : float
        With ``select_every > 0``: the last fraction of each target's training part that is
        held out of the fit for the selection (the test part is never seen).
    validation_free_run : int
        Steps of each scored free run (compared with the validation segment's occupancy, so it
        may be longer than the segment): long enough that a slow collapse onto a fixed point
        or cycle shows.
    loss : {"mse", "poisson"}
        Squared error on the outputs, or the Poisson negative log-likelihood of non-negative
        targets (counts per step) under the rate ``softplus(output)``.
    dtype : {"float32", "float64"}
        Precision of training (float32 is about 2× faster on CPU).
    polish : {"none", "levenberg_marquardt"}
        A second-order finish after the gradient iterations (closed loop, ``mode = "bias"``):
        Levenberg–Marquardt steps on the biases for the teacher-forced prediction loss
        (:mod:`brainbias.training.polish`). With ``select_every > 0`` every step is scored on
        the validation segment like a gradient iteration, so a step that spoils the free run
        is not kept.
    polish_steps : int
        At most this many Levenberg–Marquardt steps (fewer when no damping lowers the loss).
    polish_segments, polish_segment_length : int
        The residuals: this many training segments of this many steps (after ``washout``
        teacher-forced steps), spread evenly over the training part; each step costs about
        ``N`` forward runs over them.
    polish_horizon : int
        The true output is fed back every this many steps of a polish segment: 1 fits one-step
        predictions, k > 1 free runs of k steps from teacher-forced states.
    """

    mode: str = "bias"
    run_mode: str = "closed_loop"
    n_iterations: int = 2000
    learning_rate: float = 0.01
    schedule: str = "cosine"
    final_learning_rate_fraction: float = 0.1
    grad_clip: float = 1.0
    readout_learning_rate_scale: float = 0.1
    tau_learning_rate_scale: float = 1.0
    batch_size: int = 16
    window: int = 100
    washout: int = 50
    teacher_forcing_start: float = 1.0
    teacher_forcing_end: float = 0.1
    teacher_forcing_fraction: float = 0.8
    teacher_forcing: str = "annealed"
    sparse_forcing_interval: int = 0
    teacher_noise: float = 0.0
    train_initial_state: bool = False
    initial_state_noise: float = 0.0
    bias_init_scale: float = 0.1
    ridge: float = 1e-6
    chunk_size: int = 50
    checkpoint_every: int = 4
    patience: int = 0
    min_delta: float = 1e-3
    test_fraction: float = 0.2
    select_every: int = 0
    validation_fraction: float = 0.2
    validation_free_run: int = 10000
    loss: str = "mse"
    dtype: str = "float32"
    polish: str = "none"
    polish_steps: int = 12
    polish_segments: int = 4
    polish_segment_length: int = 3000
    polish_horizon: int = 1

    def __post_init__(self):
        check_choice("training.mode", self.mode, TRAINING_MODES)
        check_choice("training.run_mode", self.run_mode, MODES)
        check_choice("training.schedule", self.schedule, SCHEDULES)
        check_choice("training.dtype", self.dtype, ("float32", "float64"))
        check_choice("training.loss", self.loss, LOSSES)
        check_choice("training.teacher_forcing", self.teacher_forcing, TEACHER_FORCING)
        check_choice("training.polish", self.polish, ("none", "levenberg_marquardt"))
        for name in ("n_iterations", "batch_size", "window", "chunk_size",
                     "validation_free_run", "polish_steps", "polish_segments",
                     "polish_segment_length", "polish_horizon"):
            check_int(f"training.{name}", getattr(self, name), minimum=1)
        for name in ("washout", "checkpoint_every", "patience", "sparse_forcing_interval",
                     "select_every"):
            check_int(f"training.{name}", getattr(self, name), minimum=0)
        for name in ("learning_rate", "grad_clip", "readout_learning_rate_scale",
                     "tau_learning_rate_scale"):
            check_positive(f"training.{name}", getattr(self, name))
        if self.initial_state_noise and self.run_mode != "autonomous":
            raise ConfigError(
                f"training.initial_state_noise = {self.initial_state_noise} perturbs the initial "
                f"state of autonomous runs, but run_mode = {self.run_mode!r}. Use "
                'run_mode = "autonomous" or initial_state_noise = 0.')
        for name in ("bias_init_scale", "ridge", "min_delta", "teacher_noise",
                     "initial_state_noise"):
            check_positive(f"training.{name}", getattr(self, name), allow_zero=True)
        for name in ("final_learning_rate_fraction", "teacher_forcing_start",
                     "teacher_forcing_end", "teacher_forcing_fraction"):
            check_fraction(f"training.{name}", getattr(self, name))
        check_fraction("training.test_fraction", self.test_fraction, closed=False)
        check_fraction("training.validation_fraction", self.validation_fraction, closed=False)
        if self.select_every and self.run_mode != "closed_loop":
            raise ConfigError(
                f"training.select_every = {self.select_every} selects a model by how its free "
                f"run matches a validation segment, which needs run_mode = \"closed_loop\" "
                f"(got {self.run_mode!r}). Set select_every = 0.")
        if self.select_every and self.validation_fraction == 0:
            raise ConfigError("training.select_every > 0 needs a validation segment: set "
                              "validation_fraction > 0 (default 0.2).")
        if self.polish != "none":
            needs = {"mode": "bias", "run_mode": "closed_loop", "loss": "mse"}
            wrong = {k: getattr(self, k) for k, v in needs.items() if getattr(self, k) != v}
            if wrong:
                raise ConfigError(
                    f'training.polish = "{self.polish}" polishes the biases of a closed-loop '
                    "generator by least squares; it needs "
                    + ", ".join(f'{k} = "{needs[k]}" (got {v!r})' for k, v in wrong.items())
                    + '. Set polish = "none" otherwise.')

    @property
    def held_out_for_validation(self) -> float:
        """Fraction of each training part the fit does not see (0 without selection)."""
        return self.validation_fraction if self.select_every else 0.0


def to_dict(config) -> dict:
    """Nested plain dict (TOML/JSON-able) of a config dataclass, ``None`` values dropped."""
    out = {}
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        if dataclasses.is_dataclass(v):
            v = to_dict(v)
        elif isinstance(v, tuple):
            v = [dict(t) if isinstance(t, dict) else t for t in v]
        if v is not None:
            out[f.name] = v
    return out
