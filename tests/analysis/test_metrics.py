"""Fit-quality metrics on signals with known answers."""

import numpy as np
import pytest

from brainbias import DataError
from brainbias.analysis.metrics import limit_cycle_errors, nrmse, oscillation, valid_prediction_time

DT = 0.01
T = np.arange(5000) * DT


def sine(period=1.0, amplitude=1.0, phase=0.0):
    return amplitude * np.sin(2 * np.pi * T / period + phase)[:, None]


def test_nrmse_reference_values():
    y = sine()
    assert nrmse(y, y) == 0.0
    assert nrmse(y, np.zeros_like(y)) == pytest.approx(1.0)  # predicting the mean
    # an independent copy with the same statistics: sqrt(2)
    assert nrmse(y, sine(phase=np.pi / 2)) == pytest.approx(np.sqrt(2), rel=1e-3)
    assert nrmse(y, y + 1.0, horizon=10) > 1.0


def test_valid_prediction_time_counts_steps_below_threshold():
    y = sine()
    pred = y.copy()
    pred[300:] += 10.0
    vpt = valid_prediction_time(y, pred, dt=DT, threshold=0.4, lyapunov_exponent=0.9)
    assert vpt["steps"] == 300
    assert vpt["time"] == pytest.approx(3.0)
    assert vpt["lyapunov_times"] == pytest.approx(2.7)
    assert valid_prediction_time(y, y, dt=DT)["steps"] == len(y)
    nan_pred = y.copy()
    nan_pred[5] = np.nan
    assert valid_prediction_time(y, nan_pred, dt=DT)["steps"] == 5


def test_oscillation_period_and_amplitude():
    osc = oscillation(sine(period=0.7, amplitude=2.0), dt=DT)
    # interpolated crossings: error << dt
    assert osc["period"] == pytest.approx(0.7, abs=1e-4)
    # sampled peaks undershoot by at most A (1 - cos(pi dt / P)) = 2.0e-3 here
    assert osc["amplitude"] == pytest.approx(2.0, abs=2 * (1 - np.cos(np.pi * DT / 0.7)))
    flat = oscillation(np.ones((100, 2)), dt=DT)
    assert np.isnan(flat["period"])


def test_limit_cycle_errors():
    err = limit_cycle_errors(sine(period=1.0), sine(period=1.1, amplitude=0.5), dt=DT)
    assert err["period_error"] == pytest.approx(0.1, abs=1e-3)
    assert err["amplitude_error"] == pytest.approx(0.5, abs=1e-3)
    collapsed = limit_cycle_errors(sine(), np.zeros((len(T), 1)), dt=DT)
    assert np.isnan(collapsed["period_error"])
    too_short = limit_cycle_errors(sine()[:50], sine()[:50], dt=DT)  # half a period
    assert np.isnan(too_short["period_error"]) and np.isnan(too_short["amplitude_error"])


def test_shape_mismatch_is_an_error():
    with pytest.raises(DataError, match="differ"):
        nrmse(np.zeros((10, 2)), np.zeros((10, 3)))
