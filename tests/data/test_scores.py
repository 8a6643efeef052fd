"""Held-out metrics (PSTH R², pVar, co-smoothing bits/spike), the PSTH baseline, seeded splits."""

import math
import warnings

import numpy as np
import pytest

from brainbias._errors import ConfigError, DataError
from brainbias.data.scores import (
    ZERO_RATE_FLOOR,
    co_smoothing_bits_per_spike,
    psth_r2,
    pvar,
    smoothed_psth_baseline,
    split_neurons,
    split_trials,
)

# --------------------------------------------------------------------------- PSTH R²


def test_psth_r2_perfect_and_hand_computed():
    rng = np.random.default_rng(0)
    data = rng.random((3, 20, 4))
    perfect = psth_r2(data, data, conditions=["a", "b", "c"])
    assert perfect.overall == 1.0
    np.testing.assert_array_equal(perfect.per_condition, 1.0)
    assert perfect.conditions == ("a", "b", "c")
    # one condition, one neuron: data 1,2,3 (SS_tot = 2), model 1,2,4 (SS_res = 1) → 0.5
    assert psth_r2([[[1.0], [2.0], [3.0]]], [[[1.0], [2.0], [4.0]]]).overall == pytest.approx(0.5)


def test_psth_r2_averages_neurons_and_pools_conditions_nlb_style():
    # neuron 0 perfect (R² 1), neuron 1 predicted by its mean (R² 0): uniform average 0.5
    data = np.array([[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]])  # (cond, time, neuron)
    model = data.copy()
    model[..., 1] = data[..., 1].mean()
    score = psth_r2(data, model)
    np.testing.assert_allclose(score.per_neuron, [1.0, 0.0])
    assert score.overall == pytest.approx(0.5)
    # per condition: SS_tot excludes the between-condition variance, so the same model that
    # predicts the pooled mean scores far below 0 within each condition:
    # cond 0, neuron 1: data 1, 3 (mean 2, SS_tot 2), model 4, 4 (SS_res 9 + 1 = 10) → −4
    np.testing.assert_allclose(score.per_condition, [(1.0 + -4.0) / 2, (1.0 + -4.0) / 2])


def test_psth_r2_constant_neuron_follows_sklearn_force_finite():
    data = np.ones((1, 5, 1))
    assert psth_r2(data, data).overall == 1.0
    assert psth_r2(data, data + 0.1).overall == 0.0


def test_psth_r2_bad_input():
    with pytest.raises(DataError, match="3 dimensions"):
        psth_r2(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(DataError, match="does not match"):
        psth_r2(np.zeros((1, 5, 2)), np.zeros((1, 4, 2)))
    with pytest.raises(DataError, match="NaN"):
        psth_r2(np.full((1, 2, 1), np.nan), np.zeros((1, 2, 1)))


# --------------------------------------------------------------------------- pVar


def test_pvar_known_values():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(30, 50))
    assert pvar(data, data) == 1.0
    # predicting the grand mean explains nothing (population std, as CURBD's Python code)
    assert pvar(data, np.full_like(data, data.mean())) == pytest.approx(0.0, abs=1e-12)
    # hand computed: data 0,1,2,3 (std² = 1.25, N·T = 4), model off by 1 in one entry
    assert pvar([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 4.0]) == pytest.approx(1 - 1 / 5)


def test_pvar_is_one_minus_ss_res_over_ss_tot_and_scale_free():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(4, 20, 6))
    model = data + 0.3 * rng.normal(size=data.shape)
    expected = 1 - np.sum((data - model) ** 2) / np.sum((data - data.mean()) ** 2)
    assert pvar(data, model) == pytest.approx(expected, rel=1e-12)
    # invariant to a common affine change of units (Hz ↔ spikes/bin, offsets)
    assert pvar(3.0 * data + 7.0, 3.0 * model + 7.0) == pytest.approx(pvar(data, model), rel=1e-12)


def test_pvar_bad_input():
    with pytest.raises(DataError, match="constant"):
        pvar(np.ones(4), np.ones(4))
    with pytest.raises(DataError, match="does not match"):
        pvar(np.ones(4), np.ones(5))


# --------------------------------------------------------------------------- bits per spike


def test_bits_per_spike_hand_computed():
    # one trial, two bins, one neuron; counts 0 and 2 → null λ0 = 1 per bin.
    # Model λ = 0.5, 1.5: gain = (0 − 0.5) + (2 ln 1.5 − 1.5) − [(0 − 1) + (0 − 1)] = 2 ln 1.5,
    # divided by 2 spikes and ln 2 → log2(1.5).
    k = np.array([[[0.0], [2.0]]])
    rates = np.array([[[0.5], [1.5]]]) / 0.01  # Hz with 10 ms bins
    assert co_smoothing_bits_per_spike(k, rates, bin_size=0.01).overall == pytest.approx(
        math.log2(1.5), rel=1e-12)


def test_bits_per_spike_matches_the_nlb_formula_with_log_factorials():
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(3)
    k = rng.poisson(0.5, size=(6, 30, 4)).astype(float)
    lam = rng.exponential(0.5, size=k.shape) + 0.01

    def nll(r):
        return np.sum(r - k * np.log(r) + special.gammaln(k + 1.0))

    null = np.tile(k.mean(axis=(0, 1), keepdims=True), (6, 30, 1))
    reference = (nll(null) - nll(lam)) / k.sum() / np.log(2)
    ours = co_smoothing_bits_per_spike(k, lam / 0.02, bin_size=0.02).overall
    assert ours == pytest.approx(reference, rel=1e-10)  # same formula, summation order only


def test_bits_per_spike_of_mean_rate_model_is_zero_and_of_the_truth_positive():
    rng = np.random.default_rng(4)
    bin_size = 0.01
    t = np.arange(100) * bin_size
    true_rate = 20.0 + 15.0 * np.sin(2 * np.pi * 2.0 * t)[None, :, None] * np.ones((40, 1, 8))
    k = rng.poisson(true_rate * bin_size).astype(float)
    mean_model = np.broadcast_to(k.mean(axis=(0, 1), keepdims=True) / bin_size, k.shape)
    assert co_smoothing_bits_per_spike(k, mean_model, bin_size=bin_size).overall == (
        pytest.approx(0.0, abs=1e-12))
    truth = co_smoothing_bits_per_spike(k, true_rate, bin_size=bin_size).overall
    # Expected value mean(r log(r / r̄)) / (r̄ ln 2) = 0.221 bits/spike; over 20 seeds the
    # sampling sd with ~6 400 spikes was 0.009, so the bar 0.1 is a > 13σ margin.
    assert truth > 0.1


def test_bits_per_spike_is_unit_consistent():
    rng = np.random.default_rng(5)
    k = rng.poisson(1.0, size=(3, 10, 2)).astype(float)
    rates = rng.uniform(50, 150, size=k.shape)
    a = co_smoothing_bits_per_spike(k, rates, bin_size=0.01).overall
    b = co_smoothing_bits_per_spike(k, rates / 2, bin_size=0.02).overall
    assert a == pytest.approx(b, rel=1e-12)


def test_bits_per_spike_per_condition_adds_up_and_nan_bins_are_masked():
    rng = np.random.default_rng(6)
    k = rng.poisson(0.8, size=(6, 12, 3)).astype(float)
    rates = rng.uniform(40, 120, size=k.shape)
    conditions = ["a", "b", "a", "c", "b", "c"]
    score = co_smoothing_bits_per_spike(k, rates, bin_size=0.01, conditions=conditions)
    assert score.conditions == ("a", "b", "c")
    spikes = np.array([k[np.array(conditions) == c].sum() for c in score.conditions])
    # per-condition gains use the global null, so the spike-weighted mean is the overall value
    assert np.sum(score.per_condition * spikes) / spikes.sum() == pytest.approx(score.overall)
    # NaN counts (bins not observed) are left out, null model included
    masked = k.copy()
    masked[:, 6:, :] = np.nan
    ref = co_smoothing_bits_per_spike(k[:, :6], rates[:, :6], bin_size=0.01)
    got = co_smoothing_bits_per_spike(masked, rates, bin_size=0.01)
    assert got.overall == pytest.approx(ref.overall, rel=1e-12)


def test_bits_per_spike_zero_rates_are_floored_with_a_warning():
    k = np.array([[[0.0], [1.0]]])
    rates = np.array([[[0.0], [100.0]]])
    with pytest.warns(RuntimeWarning, match="zero predicted"):
        got = co_smoothing_bits_per_spike(k, rates, bin_size=0.01).overall
    lam = np.array([ZERO_RATE_FLOOR, 1.0])
    null = 0.5
    expected = (np.sum(np.array([0, 1]) * np.log(lam) - lam)
                - np.sum(np.array([0, 1]) * np.log(null) - null)) / np.log(2)
    assert got == pytest.approx(expected, rel=1e-12)


def test_bits_per_spike_bad_input():
    k = np.ones((1, 2, 1))
    with pytest.raises(ConfigError, match="bin_size"):
        co_smoothing_bits_per_spike(k, k, bin_size=0.0)
    with pytest.raises(DataError, match="non-negative rates"):
        co_smoothing_bits_per_spike(k, -k, bin_size=0.01)
    with pytest.raises(DataError, match="integer spike counts"):
        co_smoothing_bits_per_spike(k * 0.5, k, bin_size=0.01)
    with pytest.raises(DataError, match="no spikes"):
        co_smoothing_bits_per_spike(0 * k, k, bin_size=0.01)
    with pytest.raises(DataError, match="does not match"):
        co_smoothing_bits_per_spike(k, np.ones((1, 3, 1)), bin_size=0.01)


# --------------------------------------------------------------------------- baseline and splits


def test_smoothed_psth_baseline():
    rates = np.arange(12.0).reshape(4, 3, 1)
    pred = smoothed_psth_baseline(rates, ["a", "b", "a", "b"], ["b", "a", "b"])
    np.testing.assert_allclose(pred[0], rates[[1, 3]].mean(axis=0))
    np.testing.assert_allclose(pred[1], rates[[0, 2]].mean(axis=0))
    assert pred.shape == (3, 3, 1)
    with pytest.raises(ConfigError, match="Did you mean 'left'"):
        smoothed_psth_baseline(rates, ["left"] * 4, ["lefft"])
    with pytest.raises(DataError, match="labels for 4"):
        smoothed_psth_baseline(rates, ["a"], ["a"])


def test_baseline_perfect_when_trials_repeat_exactly():
    psth = np.random.default_rng(7).random((2, 10, 3))
    cond = ["x", "y"] * 3
    rates = np.stack([psth[i % 2] for i in range(6)])
    pred = smoothed_psth_baseline(rates, cond, ["y", "x"])
    assert psth_r2(psth[::-1], pred).overall == pytest.approx(1.0)


def test_split_trials_is_stratified_seeded_and_disjoint():
    conditions = ["a"] * 10 + ["b"] * 6 + ["c"] * 4
    train, test = split_trials(20, conditions, fraction=0.25, seed=0)
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(20))
    labels = np.array(conditions)
    # round(0.25·n) per condition: 10 → 2 (round half to even), 6 → 2, 4 → 1
    assert [int(np.sum(labels[test] == c)) for c in "abc"] == [2, 2, 1]
    again = split_trials(20, conditions, fraction=0.25, seed=0)
    np.testing.assert_array_equal(again[1], test)
    other = [split_trials(20, conditions, fraction=0.25, seed=s)[1] for s in range(1, 6)]
    assert any(not np.array_equal(o, test) for o in other)


def test_split_trials_keeps_every_condition_on_both_sides():
    train, test = split_trials(4, ["a", "a", "b", "b"], fraction=0.9, seed=1)
    assert len(test) == 2 and len(train) == 2
    with pytest.raises(ConfigError, match=r"\['b'\] have fewer than 2 trials"):
        split_trials(3, ["a", "a", "b"], fraction=0.5, seed=0)
    with pytest.raises(ConfigError, match="fraction"):
        split_trials(4, ["a"] * 4, fraction=1.0, seed=0)
    with pytest.raises(ConfigError, match="seed"):
        split_trials(4, ["a"] * 4, fraction=0.5, seed=-1)
    with pytest.raises(ConfigError, match="3 labels"):
        split_trials(4, ["a"] * 3, fraction=0.5, seed=0)


def test_split_neurons():
    held_in, held_out = split_neurons(100, fraction=0.25, seed=3)
    assert (len(held_in), len(held_out)) == (75, 25)
    assert np.intersect1d(held_in, held_out).size == 0
    np.testing.assert_array_equal(split_neurons(100, fraction=0.25, seed=3)[1], held_out)
    assert split_neurons(2, fraction=0.01, seed=0)[1].size == 1
    with pytest.raises(ConfigError, match="n_neurons"):
        split_neurons(1, fraction=0.5, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split_neurons(10, fraction=0.5, seed=np.int64(4))
