"""Context-dependent integration (Mante, Sussillo, Shenoy & Newsome 2013): the task as targets.

Two noisy evidence streams (motion and colour coherence) arrive together; the context says which
one counts, and the output is the sign of the *relevant* stream's integrated evidence. Trials
are a stimulus of ``stimulus_steps`` steps (each stream: its trial's coherence plus Gaussian
noise of s.d. ``noise`` per step, coherences drawn independently from ``coherences``) followed
by a gap of ``gap_steps`` steps of zero input. The integrated evidence is leaky,

    E_t = (1 − 1/T) E_{t−1} + u_t[relevant],        T = ``integration_steps``,

and the target is ``sign(E_t)`` at every step (``E = 0`` gives 0). The leak is what lets one
long trajectory stand for a sequence of trials (training draws random windows of it, with no
reset between trials): a gap of a few T forgets the previous trial, so a trial started from the
zero-input steady state (:func:`context_integration_trials`) is a trial of the training
distribution. Mante et al.'s networks integrated within a trial and were reset between trials;
with ``T`` well above the stimulus length the leak changes little within a trial.

:func:`context_integration` makes the trajectory of ONE context; two contexts are two calls with
the same ``seed`` (the same inputs) and ``context = "motion"`` / ``"colour"`` — in brainbias
they become two bias sets of one network, and nothing in the inputs says which context is on.
"""

from __future__ import annotations

import numpy as np

from ..._errors import ConfigError, did_you_mean
from ..trajectory import Trajectory
from ._common import _integer, _real

__all__ = ["CONTEXTS", "context_integration", "context_integration_trials", "leaky_evidence"]

#: The two contexts and the input stream each one integrates.
CONTEXTS = {"motion": 0, "colour": 1}
_INPUT_NAMES = ("motion", "colour")


def _check(context, coherences, stimulus_steps, gap_steps, integration_steps, noise):
    if context not in CONTEXTS:
        raise ConfigError(f"context: expected one of {tuple(CONTEXTS)}, got {context!r}."
                          + did_you_mean(str(context), CONTEXTS))
    coh = np.asarray(coherences, dtype=float)
    if coh.ndim != 1 or coh.size < 2 or not np.all(np.isfinite(coh)):
        raise ConfigError(f"coherences: expected a list of at least 2 finite numbers, got "
                          f"{coherences!r}.")
    return (coh, _integer("stimulus_steps", stimulus_steps, minimum=1),
            _integer("gap_steps", gap_steps, minimum=0),
            _integer("integration_steps", integration_steps, minimum=1),
            _real("noise", noise, nonnegative=True))


def leaky_evidence(stream, integration_steps: int) -> np.ndarray:
    """``E_t = (1 − 1/T) E_{t−1} + stream_t`` from ``E_{−1} = 0`` along the last axis (time).

    Parameters
    ----------
    stream : array, shape (..., time)
    integration_steps : int
        ``T`` ≥ 1 (1: no memory, ``E_t = stream_t``).

    Returns
    -------
    ndarray, shape (..., time)

    Examples
    --------
    >>> from brainbias.data.targets import leaky_evidence
    >>> leaky_evidence([1.0, 1.0, 0.0], 2).tolist()
    [1.0, 1.5, 0.75]
    """
    s = np.asarray(stream, dtype=float)
    keep = 1.0 - 1.0 / _integer("integration_steps", integration_steps, minimum=1)
    out = np.empty_like(s)
    e = np.zeros(s.shape[:-1])
    for t in range(s.shape[-1]):
        e = keep * e + s[..., t]
        out[..., t] = e
    return out


def context_integration(*, n_steps: int, context: str = "motion",
                        coherences=(-0.5, -0.15, -0.05, 0.05, 0.15, 0.5),
                        stimulus_steps: int = 50, gap_steps: int = 150,
                        integration_steps: int = 50, noise: float = 1.0, dt: float = 0.01,
                        seed: int = 0, name: str | None = None) -> Trajectory:
    """One context of the Mante et al. (2013) task: two noisy streams in, the sign of the
    relevant one's integrated evidence out.

    Parameters
    ----------
    n_steps : int
        Samples ``T`` (trials of ``stimulus_steps + gap_steps`` follow one another; the last
        may be cut).
    context : {"motion", "colour"}
        Which stream counts (input 0 or 1).
    coherences : sequence of float
        The coherences each trial draws (uniformly, independently per stream).
    stimulus_steps, gap_steps : int
        Steps of noisy evidence, then steps of zero input, per trial.
    integration_steps : int
        ``T`` of the leaky integral (module docstring).
    noise : float
        Standard deviation of the per-step noise on each stream during the stimulus.
    dt : float
        Time per step.
    seed : int
        Draws coherences and noise; the same seed gives both contexts the same inputs.
    name : str, optional
        Context name; default ``"context_" + context``.

    Returns
    -------
    Trajectory
        inputs (time, 2) named ``motion``, ``colour``; outputs (time, 1) ``choice`` in
        {−1, 0, 1}; ``kind="other"``; ``attrs`` hold the settings.

    Raises
    ------
    ConfigError
        Unknown context (with a suggestion), fewer than 2 coherences, non-positive step counts,
        negative noise, non-positive dt.

    Examples
    --------
    >>> from brainbias.data.targets import context_integration
    >>> m = context_integration(n_steps=400, context="motion", seed=1)
    >>> c = context_integration(n_steps=400, context="colour", seed=1)
    >>> bool((m.inputs == c.inputs).all()), m.inputs.shape, m.outputs.shape
    (True, (400, 2), (400, 1))
    """
    n_steps = _integer("n_steps", n_steps, minimum=2)
    coh, stim, gap, t_int, noise = _check(context, coherences, stimulus_steps, gap_steps,
                                          integration_steps, noise)
    dt = _real("dt", dt, positive=True)
    _integer("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    length = stim + gap
    n_trials = -(-n_steps // length)
    trial_coh = rng.choice(coh, size=(n_trials, 2))
    on = (np.arange(length) < stim).astype(float)
    u = on[None, :, None] * (trial_coh[:, None, :]
                             + noise * rng.standard_normal((n_trials, length, 2)))
    u = u.reshape(-1, 2)[:n_steps]
    choice = np.sign(leaky_evidence(u[:, CONTEXTS[context]], t_int))
    attrs = {"generator": "context_integration", "context": context,
             "coherences": coh.tolist(), "stimulus_steps": stim, "gap_steps": gap,
             "integration_steps": t_int, "noise": noise, "seed": seed}
    return Trajectory(outputs=choice[:, None], inputs=u, dt=dt,
                      name=name or f"context_{context}", output_names=("choice",),
                      input_names=_INPUT_NAMES, kind="other", attrs=attrs)


def context_integration_trials(*, n_trials: int, coherences, stimulus_steps: int = 50,
                               integration_steps: int = 50, noise: float = 1.0, seed: int = 0):
    """Test trials of the task: the stimulus period alone, for psychometric curves.

    Every (motion, colour) coherence pair of ``coherences`` appears equally often (``n_trials``
    per pair); each trial starts, as in the training trajectory, after a long zero-input gap.

    Parameters
    ----------
    n_trials : int
        Trials per coherence pair.
    coherences : sequence of float
    stimulus_steps, integration_steps : int
    noise : float
    seed : int
        As in :func:`context_integration`.

    Returns
    -------
    dict
        ``inputs`` (trial, time, 2); ``motion``, ``colour`` (trial,): the coherences;
        ``evidence`` (trial, time, 2): each stream's leaky integral from 0 at the trial's start
        (:func:`leaky_evidence`), whose sign the context's target is.

    Raises
    ------
    ConfigError
        As in :func:`context_integration`.

    Examples
    --------
    >>> from brainbias.data.targets import context_integration_trials
    >>> trials = context_integration_trials(n_trials=2, coherences=(-0.1, 0.1))
    >>> trials["inputs"].shape, trials["motion"].tolist()[:4]
    ((8, 50, 2), [-0.1, -0.1, -0.1, -0.1])
    """
    coh, stim, _, t_int, noise = _check("motion", coherences, stimulus_steps, 0,
                                        integration_steps, noise)
    n_trials = _integer("n_trials", n_trials, minimum=1)
    _integer("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    motion, colour = (a.ravel() for a in np.meshgrid(coh, coh, indexing="ij"))
    motion, colour = np.repeat(motion, n_trials), np.repeat(colour, n_trials)
    mean = np.stack([motion, colour], axis=1)[:, None, :]
    inputs = mean + noise * rng.standard_normal((len(motion), stim, 2))
    return {"inputs": inputs, "motion": motion, "colour": colour,
            "evidence": np.moveaxis(leaky_evidence(np.moveaxis(inputs, 1, 2), t_int), 2, 1)}
