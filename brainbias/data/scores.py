"""How well do model rates explain recorded activity? Held-out metrics and seeded splits (NumPy).

Definitions (each function's docstring repeats its own):

PSTH R² — Neural Latents Benchmark (Pei et al. 2021, NeurIPS Datasets & Benchmarks;
``nlb_tools.evaluation.eval_psth``): stack the conditions' PSTHs along time, compute for each
neuron ``R² = 1 − SS_res / SS_tot`` (SS_tot around that neuron's mean over all conditions and
times), and average over neurons with equal weights (scikit-learn's ``r2_score``
``multioutput="uniform_average"``; a neuron whose data PSTH is constant scores 1 if predicted
exactly, else 0, as scikit-learn's ``force_finite``). *Per condition* we apply the same formula to
one condition's time course — a stricter number, since SS_tot then excludes the between-condition
variance.

pVar — CURBD (Perich et al. 2020): ``pVar = 1 − (‖data − model‖_F / (√(N·T) · std(data)))²`` over
all entries, with the population standard deviation (NumPy ``ddof=0``, as CURBD's Python port;
the MATLAB original's ``std`` divides by N·T − 1, which shifts pVar by a factor (N·T − 1)/(N·T)).
Predicting the data's grand mean gives exactly 0, a perfect model 1.

Co-smoothing bits per spike — NLB (``nlb_tools.evaluation.bits_per_spike``): Poisson
log-likelihood of the held-out neurons' counts under the predicted rates minus that under each
neuron's mean count (over held-out trials and time), divided by the total number of spikes and by
ln 2. ``log k!`` cancels between the two. Zero predicted rates are replaced by 1e-9 spikes per bin
as in nlb_tools (with a warning); NaN counts are ignored (masked).

Baseline — :func:`smoothed_psth_baseline`: each held-out trial is predicted by the mean smoothed
rate of the training trials of its condition (a PSTH model without dynamics).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .._errors import ConfigError, DataError, did_you_mean

__all__ = [
    "Score",
    "psth_r2",
    "pvar",
    "co_smoothing_bits_per_spike",
    "smoothed_psth_baseline",
    "split_trials",
    "split_neurons",
    "ZERO_RATE_FLOOR",
]

#: Floor for zero predicted counts per bin, as in nlb_tools.
ZERO_RATE_FLOOR = 1e-9


class Score(NamedTuple):
    """A metric overall, per condition and per neuron.

    Attributes
    ----------
    overall : float
    per_condition : ndarray, shape (condition,)
        In the order of ``conditions``.
    per_neuron : ndarray, shape (neuron,)
    conditions : tuple of str
        Labels of ``per_condition``.
    """

    overall: float
    per_condition: np.ndarray
    per_neuron: np.ndarray
    conditions: tuple


def _array(name, x, ndim=None):
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name}: expected a numeric array, got {type(x).__name__}.") from None
    if ndim is not None and arr.ndim != ndim:
        raise DataError(f"{name}: expected {ndim} dimensions, got shape {arr.shape}.")
    return arr


def _same_shape(a_name, a, b_name, b):
    if a.shape != b.shape:
        raise DataError(f"{b_name}: shape {b.shape} does not match {a_name} {a.shape}; both must "
                        "index the same conditions/trials, times and neurons.")


def _finite(name, arr):
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name}: contains NaN or infinite values.")


def _labels(conditions, n, what):
    if conditions is None:
        return tuple(str(i) for i in range(n))
    labels = tuple(str(c) for c in conditions)
    if len(labels) != n:
        raise DataError(f"conditions: {len(labels)} labels for {n} {what}.")
    return labels


def _r2_columns(y_true, y_pred):
    """R² per column (neuron) of (sample, neuron) arrays, scikit-learn's force_finite rule."""
    ss_res = np.sum((y_true - y_pred) ** 2, axis=0)
    ss_tot = np.sum((y_true - y_true.mean(axis=0)) ** 2, axis=0)
    out = np.empty(y_true.shape[1])
    ok = ss_tot > 0
    out[ok] = 1.0 - ss_res[ok] / ss_tot[ok]
    out[~ok] = np.where(ss_res[~ok] == 0, 1.0, 0.0)
    return out


def psth_r2(data_psth, model_psth, *, conditions=None) -> Score:
    """PSTH R² (Neural Latents Benchmark convention), overall and per condition.

    Parameters
    ----------
    data_psth, model_psth : array_like, shape (condition, time, neuron)
        Condition-averaged rates of the data (held-out trials) and of the model.
    conditions : sequence of str, optional
        Labels of the condition axis.

    Returns
    -------
    Score
        ``overall``: conditions stacked along time, per-neuron R² averaged over neurons
        (``per_neuron`` holds those R²). ``per_condition``: the same within each condition.

    Raises
    ------
    DataError
        Shapes that differ or are not 3-D, non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbias.data.scores import psth_r2
    >>> data = np.random.default_rng(0).random((2, 10, 3))
    >>> psth_r2(data, data).overall
    1.0
    """
    data = _array("data_psth", data_psth, 3)
    model = _array("model_psth", model_psth, 3)
    _same_shape("data_psth", data, "model_psth", model)
    _finite("data_psth", data)
    _finite("model_psth", model)
    n_cond, n_time, n_neuron = data.shape
    labels = _labels(conditions, n_cond, "conditions")
    per_neuron = _r2_columns(data.reshape(-1, n_neuron), model.reshape(-1, n_neuron))
    per_condition = np.array([_r2_columns(data[c], model[c]).mean() for c in range(n_cond)])
    return Score(float(per_neuron.mean()), per_condition, per_neuron, labels)


def pvar(data, model) -> float:
    """Fraction of variance explained, CURBD's pVar.

    ``pVar = 1 − (‖data − model‖_F / (√(N·T) · std(data)))²`` over all entries (N·T =
    ``data.size``), ``std`` the population standard deviation of all entries (Perich et al.
    2020; ddof = 0 as in CURBD's Python code). Equals ``1 − SS_res / SS_tot`` around the grand
    mean: 1 for a perfect model, 0 for predicting the grand mean, negative when worse.

    Parameters
    ----------
    data, model : array_like, any shape (e.g. (neuron, time) or (condition, time, neuron))

    Returns
    -------
    float
        pVar, at most 1.

    Raises
    ------
    DataError
        Different shapes, non-finite values, or constant data (std = 0: pVar undefined).

    Examples
    --------
    >>> import numpy as np
    >>> from brainbias.data.scores import pvar
    >>> x = np.arange(6.0).reshape(2, 3)
    >>> pvar(x, x), abs(pvar(x, np.full_like(x, x.mean()))) < 1e-12
    (1.0, True)
    """
    d = _array("data", data)
    m = _array("model", model)
    _same_shape("data", d, "model", m)
    _finite("data", d)
    _finite("model", m)
    sd = d.std()
    if not sd > 0:
        raise DataError("pvar: the data are constant (std = 0), so the fraction of variance "
                        "explained is undefined.")
    ratio = np.linalg.norm((d - m).ravel()) / (np.sqrt(d.size) * sd)
    return float(1.0 - ratio**2)


def co_smoothing_bits_per_spike(counts_heldout, predicted_rates_heldout, *, bin_size,
                                conditions=None) -> Score:
    """Co-smoothing bits per spike on held-out neurons (Neural Latents Benchmark definition).

    ``bits/spike = (log L(model) − log L(null)) / (n_spikes · ln 2)`` with Poisson likelihoods of
    the counts ``k`` given expected counts ``λ = rate · bin_size``; the null model predicts each
    neuron's mean count over all held-out trials and times.

    Parameters
    ----------
    counts_heldout : array_like, shape (trial, time, neuron)
        Spike counts of the held-out neurons on the evaluation trials (NaN = not observed).
    predicted_rates_heldout : array_like, shape (trial, time, neuron)
        Predicted firing rates, Hz (not counts per bin).
    bin_size : float
        Bin width, seconds.
    conditions : sequence of str, shape (trial,), optional
        Condition of each trial, for ``per_condition`` (each condition's log-likelihood gain over
        its own spikes, with the *global* null model, so that the per-condition gains add up to
        the overall one). Without it ``per_condition`` is empty.

    Returns
    -------
    Score
        ``per_neuron`` uses each neuron's own spikes (NaN for a neuron without spikes).

    Raises
    ------
    DataError
        Shapes that differ or are not 3-D; negative, NaN or infinite predicted rates; negative
        or non-integer counts; no spikes at all.
    ConfigError
        Non-positive or non-finite ``bin_size``.

    Warns
    -----
    RuntimeWarning
        Zero predicted rates (replaced by ``ZERO_RATE_FLOOR`` counts per bin, as nlb_tools).

    Examples
    --------
    >>> import numpy as np
    >>> from brainbias.data.scores import co_smoothing_bits_per_spike
    >>> k = np.array([[[0.0], [2.0]], [[1.0], [1.0]]])   # (trial, time, neuron)
    >>> mean_rate = np.full_like(k, k.mean() / 0.01)    # the null model itself, in Hz
    >>> co_smoothing_bits_per_spike(k, mean_rate, bin_size=0.01).overall
    0.0
    """
    if (isinstance(bin_size, bool) or not isinstance(bin_size, (int, float))
            or not np.isfinite(bin_size) or not bin_size > 0):
        raise ConfigError(f"bin_size: expected a positive number of seconds, got {bin_size!r}.")
    k = _array("counts_heldout", counts_heldout, 3)
    rates = _array("predicted_rates_heldout", predicted_rates_heldout, 3)
    _same_shape("counts_heldout", k, "predicted_rates_heldout", rates)
    observed = ~np.isnan(k)
    kk = np.where(observed, k, 0.0)
    if np.any(np.isinf(kk)) or np.any(kk < 0) or np.any(kk != np.round(kk)):
        raise DataError("counts_heldout: expected non-negative integer spike counts (NaN allowed "
                        "for bins that were not observed).")
    if np.any(~np.isfinite(rates[observed])) or np.any(rates[observed] < 0):
        raise DataError("predicted_rates_heldout: expected finite, non-negative rates (Hz).")
    lam = np.where(observed, rates * bin_size, 1.0)
    zero = observed & (lam == 0)
    if zero.any():
        warnings.warn(f"{int(zero.sum())} zero predicted rate(s) replaced by {ZERO_RATE_FLOOR} "
                      "spikes per bin (as nlb_tools).", RuntimeWarning, stacklevel=2)
        lam = np.where(zero, ZERO_RATE_FLOOR, lam)
    n_obs = observed.sum(axis=(0, 1))
    null = np.divide(kk.sum(axis=(0, 1)), n_obs, out=np.zeros(k.shape[2]), where=n_obs > 0)
    null = np.where(null > 0, null, ZERO_RATE_FLOOR)  # a silent neuron: nlb_tools' floor too
    # Poisson log-likelihood without log k! (it cancels): k log λ − λ, per entry.
    gain = np.where(observed,
                    (kk * np.log(lam) - lam) - (kk * np.log(null) - null), 0.0)
    total = kk.sum()
    if not total > 0:
        raise DataError("counts_heldout: no spikes at all; bits per spike is undefined.")
    ln2 = np.log(2.0)
    spikes_per_neuron = kk.sum(axis=(0, 1))
    gain_per_neuron = gain.sum(axis=(0, 1))
    per_neuron = np.divide(gain_per_neuron, spikes_per_neuron * ln2,
                           out=np.full(k.shape[2], np.nan), where=spikes_per_neuron > 0)
    if conditions is None:
        labels, per_condition = (), np.array([])
    else:
        cond = np.array(_labels(conditions, k.shape[0], "trials"))
        labels = tuple(dict.fromkeys(cond.tolist()))
        per_condition = np.array([
            gain[cond == c].sum() / (kk[cond == c].sum() * ln2) if kk[cond == c].sum() > 0
            else np.nan for c in labels])
    return Score(float(gain.sum() / (total * ln2)), per_condition, per_neuron, labels)


def smoothed_psth_baseline(train_rates, train_conditions, test_conditions):
    """The reference model: predict each held-out trial by its condition's training PSTH.

    Parameters
    ----------
    train_rates : array_like, shape (trial, time, neuron)
        Smoothed rates of the training trials.
    train_conditions : sequence of str, shape (trial,)
    test_conditions : sequence of str, shape (test_trial,)

    Returns
    -------
    ndarray, shape (test_trial, time, neuron)
        For each held-out trial, the mean of ``train_rates`` over training trials of the same
        condition.

    Raises
    ------
    DataError
        ``train_rates`` not 3-D or non-finite, or a label count that does not match.
    ConfigError
        A held-out condition with no training trial (with a "did you mean" suggestion).

    Examples
    --------
    >>> import numpy as np
    >>> from brainbias.data.scores import smoothed_psth_baseline
    >>> r = np.array([[[1.0]], [[3.0]], [[10.0]]])
    >>> smoothed_psth_baseline(r, ["a", "a", "b"], ["b", "a"])[:, 0, 0]
    array([10.,  2.])
    """
    rates = _array("train_rates", train_rates, 3)
    _finite("train_rates", rates)
    train = np.array([str(c) for c in _as_list(train_conditions)])
    test = [str(c) for c in _as_list(test_conditions)]
    if len(train) != rates.shape[0]:
        raise DataError(f"train_conditions: {len(train)} labels for {rates.shape[0]} training "
                        "trials.")
    known = list(dict.fromkeys(train.tolist()))
    means = {}
    for c in dict.fromkeys(test):
        if c not in known:
            raise ConfigError(f"test_conditions: condition {c!r} has no training trial (training "
                              f"conditions: {known})." + did_you_mean(c, known))
        means[c] = rates[train == c].mean(axis=0)
    if not test:
        return np.zeros((0,) + rates.shape[1:])
    return np.stack([means[c] for c in test])


def _as_list(x):
    return [x] if isinstance(x, str) else list(x)


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, got {seed!r}.")
    return int(seed)


def _check_fraction(fraction):
    if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
            or not 0 < fraction < 1):
        raise ConfigError(f"fraction: expected a number strictly between 0 and 1 (the held-out "
                          f"share), got {fraction!r}.")
    return float(fraction)


def split_trials(n_trials: int, conditions: Sequence, *, fraction: float, seed: int):
    """Seeded train/test split of trials, stratified by condition.

    Each condition with ``n`` trials contributes ``round(fraction · n)`` test trials, clipped to
    ``[1, n − 1]`` so that every condition is both trained and tested.

    Parameters
    ----------
    n_trials : int
    conditions : sequence of str, shape (trial,)
    fraction : float
        Share of trials held out, in (0, 1).
    seed : int
        Seed of ``numpy.random.default_rng``; store it with the results.

    Returns
    -------
    train, test : ndarray of int
        Sorted trial indices.

    Raises
    ------
    ConfigError
        Bad ``fraction``/``seed``/``n_trials``, a label count that does not match, or a
        condition with fewer than 2 trials (it cannot be both trained and tested).

    Examples
    --------
    >>> from brainbias.data.scores import split_trials
    >>> train, test = split_trials(6, ["a", "a", "a", "b", "b", "b"], fraction=0.34, seed=0)
    >>> len(train), len(test)
    (4, 2)
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 2:
        raise ConfigError(f"n_trials: expected an integer >= 2, got {n_trials!r}.")
    fraction = _check_fraction(fraction)
    rng = np.random.default_rng(_check_seed(seed))
    cond = np.array([str(c) for c in _as_list(conditions)])
    if len(cond) != n_trials:
        raise ConfigError(f"conditions: {len(cond)} labels for n_trials={n_trials}.")
    labels = list(dict.fromkeys(cond.tolist()))
    small = [c for c in labels if np.sum(cond == c) < 2]
    if small:
        raise ConfigError(f"split_trials: condition(s) {small} have fewer than 2 trials, so they "
                          "cannot be both trained and tested; drop them (Recording.select) or "
                          "record more trials.")
    test = []
    for c in labels:
        idx = np.nonzero(cond == c)[0]
        n_test = min(max(round(fraction * idx.size), 1), idx.size - 1)
        test.extend(rng.permutation(idx)[:n_test].tolist())
    test = np.sort(np.array(test, dtype=int))
    train = np.setdiff1d(np.arange(n_trials), test)
    return train, test


def split_neurons(n_neurons: int, *, fraction: float, seed: int):
    """Seeded split of neurons into held-in and held-out (co-smoothing) sets.

    Parameters
    ----------
    n_neurons : int
    fraction : float
        Share of neurons held out, in (0, 1); ``round(fraction · n)`` clipped to [1, n − 1].
    seed : int

    Returns
    -------
    held_in, held_out : ndarray of int
        Sorted neuron indices.

    Raises
    ------
    ConfigError
        Fewer than 2 neurons, bad ``fraction`` or ``seed``.

    Examples
    --------
    >>> from brainbias.data.scores import split_neurons
    >>> held_in, held_out = split_neurons(10, fraction=0.3, seed=1)
    >>> len(held_in), len(held_out)
    (7, 3)
    """
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, (int, np.integer)) or n_neurons < 2:
        raise ConfigError(f"n_neurons: expected an integer >= 2 (some held in, some held out), "
                          f"got {n_neurons!r}.")
    fraction = _check_fraction(fraction)
    rng = np.random.default_rng(_check_seed(seed))
    n_out = min(max(round(fraction * n_neurons), 1), n_neurons - 1)
    perm = rng.permutation(n_neurons)
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])
