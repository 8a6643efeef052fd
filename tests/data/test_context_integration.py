"""The context-dependent integration task (Mante et al. 2013): brainbias.data.targets
.context_integration — known answers of the leaky integral, the trial structure, the noise
statistics, and the test trials."""

import numpy as np
import pytest

from brainbias import ConfigError
from brainbias.data.targets import context_integration, context_integration_trials, leaky_evidence

COHERENCES = (-0.5, -0.15, 0.15, 0.5)


def test_leaky_evidence_matches_the_closed_form():
    # constant input 1 from E_{-1} = 0: E_t = T (1 − (1 − 1/T)^{t+1})
    for t_int in (1, 3, 50):
        e = leaky_evidence(np.ones(200), t_int)
        t = np.arange(200)
        np.testing.assert_allclose(e, t_int * (1 - (1 - 1 / t_int) ** (t + 1)), rtol=1e-12)
    # linear in the input, independent along leading axes
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 40))
    np.testing.assert_allclose(leaky_evidence(2 * a - b, 7),
                               2 * leaky_evidence(a, 7) - leaky_evidence(b, 7), atol=1e-12)
    np.testing.assert_allclose(leaky_evidence(a, 7)[1], leaky_evidence(a[1], 7), atol=0)


def test_two_contexts_share_inputs_and_integrate_their_own_stream():
    kw = dict(n_steps=3000, coherences=COHERENCES, stimulus_steps=20, gap_steps=30,
              integration_steps=10, noise=0.7, seed=4)
    m = context_integration(context="motion", **kw)
    c = context_integration(context="colour", **kw)
    np.testing.assert_array_equal(m.inputs, c.inputs)        # nothing says which context is on
    assert m.input_names == ("motion", "colour") and m.name == "context_motion"
    for traj, k in ((m, 0), (c, 1)):
        np.testing.assert_array_equal(traj.outputs[:, 0],
                                      np.sign(leaky_evidence(traj.inputs[:, k], 10)))
    assert not np.array_equal(m.outputs, c.outputs)          # the streams are independent
    # another seed, other inputs
    assert not np.array_equal(context_integration(context="motion", **(kw | {"seed": 5})).inputs,
                              m.inputs)


def test_trial_structure_without_noise_is_exact():
    traj = context_integration(n_steps=1000, context="colour", coherences=COHERENCES,
                               stimulus_steps=20, gap_steps=30, noise=0.0, seed=1)
    u = traj.inputs.reshape(20, 50, 2)                       # 20 trials of 20 + 30 steps
    assert np.all(u[:, 20:] == 0.0)                          # gaps: zero input
    for trial in u:                                          # stimulus: one coherence per stream
        for k in range(2):
            assert np.all(trial[:20, k] == trial[0, k]) and trial[0, k] in COHERENCES


def test_noise_has_the_requested_standard_deviation():
    traj = context_integration(n_steps=100_000, context="motion", coherences=COHERENCES,
                               stimulus_steps=40, gap_steps=10, noise=0.8, seed=2)
    u = traj.inputs.reshape(-1, 50, 2)[:, :40]
    residual = u - u.mean(axis=1, keepdims=True)             # minus each trial's sample mean
    n = residual.size
    # sample s.d. of n Gaussian samples (39 d.o.f. per trial and stream): sd of the estimate
    # ≈ σ / sqrt(2 n); 5 of those, times the d.o.f. correction sqrt(40/39)
    estimate = residual.std() * np.sqrt(40 / 39)
    assert abs(estimate - 0.8) < 5 * 0.8 / np.sqrt(2 * n)
    # coherences are drawn uniformly: each of the 4 values about a quarter of the trials
    means = traj.inputs.reshape(-1, 50, 2)[:, :40].mean(axis=1)
    nearest = np.abs(means[..., None] - np.asarray(COHERENCES)).argmin(-1)
    counts = np.bincount(nearest.ravel(), minlength=4) / nearest.size
    assert np.all(np.abs(counts - 0.25) < 0.05)              # 4000 draws: sd 0.007


def test_test_trials_cover_every_pair_and_carry_their_evidence():
    trials = context_integration_trials(n_trials=3, coherences=COHERENCES, stimulus_steps=15,
                                        integration_steps=6, noise=0.0, seed=0)
    assert trials["inputs"].shape == (48, 15, 2)
    pairs = {(m, c) for m, c in zip(trials["motion"], trials["colour"], strict=True)}
    assert pairs == {(m, c) for m in COHERENCES for c in COHERENCES}
    np.testing.assert_array_equal(trials["inputs"][:, 0, 0], trials["motion"])
    # no noise: the evidence is the closed form with input = the coherence
    t = np.arange(15)
    expect = trials["colour"][:, None] * 6 * (1 - (1 - 1 / 6) ** (t + 1))
    np.testing.assert_allclose(trials["evidence"][:, :, 1], expect, rtol=1e-12)
    noisy = context_integration_trials(n_trials=3, coherences=COHERENCES, stimulus_steps=15,
                                       integration_steps=6, noise=1.0, seed=0)
    np.testing.assert_allclose(noisy["evidence"],
                               np.moveaxis(leaky_evidence(np.moveaxis(noisy["inputs"], 1, 2), 6),
                                           2, 1), atol=1e-12)


def test_bad_settings_are_config_errors_that_say_the_fix():
    with pytest.raises(ConfigError, match="Did you mean 'colour'"):
        context_integration(n_steps=100, context="color")
    with pytest.raises(ConfigError, match="coherences: expected a list of at least 2"):
        context_integration(n_steps=100, coherences=(0.1,))
    with pytest.raises(ConfigError, match="noise: expected a number ≥ 0"):
        context_integration(n_steps=100, noise=-1.0)
    with pytest.raises(ConfigError, match="stimulus_steps: expected at least 1"):
        context_integration_trials(n_trials=2, coherences=COHERENCES, stimulus_steps=0)
