"""The shipped ground-truth dataset: what the file holds, that the teacher file rebuilds it, and
that the fixed-point structure the README states is what the teacher has."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("neo")
pytest.importorskip("pynwb")

from brainbias._errors import ConfigError  # noqa: E402
from brainbias.data.recordings import bin_and_smooth, psth, read_recording  # noqa: E402
from brainbias.data.scores import (  # noqa: E402
    co_smoothing_bits_per_spike,
    psth_r2,
    smoothed_psth_baseline,
    split_neurons,
    split_trials,
)

DATASETS = pathlib.Path(__file__).resolve().parents[2] / "datasets"
NWB = DATASETS / "ground_truth.nwb"
TEACHER = DATASETS / "ground_truth_teacher.npz"
CONDITIONS = ("limit_cycle", "bistable", "fixed_point", "bistable_cycles")


@pytest.fixture(scope="module")
def teacher():
    if not TEACHER.is_file():
        pytest.fail(f"{TEACHER} is missing: run datasets/make_ground_truth.py")
    with np.load(TEACHER, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def recording():
    if not NWB.is_file():
        pytest.fail(f"{NWB} is missing: run datasets/make_ground_truth.py")
    return read_recording(NWB, trial_key="trials", align_event="stimulus_onset")


def test_file_sizes_stay_small():
    assert NWB.stat().st_size < 2e6 and TEACHER.stat().st_size < 1e6


def test_shipped_file_holds_what_the_script_wrote(recording, teacher):
    assert tuple(teacher["conditions"]) == CONDITIONS
    assert (recording.n_trials, recording.n_neurons) == (80, 100)
    assert recording.neuron_names == tuple(f"neuron{k:03d}" for k in range(100))
    expected = tuple(CONDITIONS[c] for c in teacher["trial_condition"])
    assert recording.conditions == expected
    assert {c: recording.conditions.count(c) for c in CONDITIONS} == dict.fromkeys(CONDITIONS, 20)
    # aligned on stimulus onset: 0.2 s baseline before, 1.0 s after; zero = trial start + 0.2 s
    np.testing.assert_allclose(recording.trial_t_start, -0.2, atol=1e-9)
    np.testing.assert_allclose(recording.trial_t_stop, 1.0, atol=1e-9)
    np.testing.assert_allclose(recording.trial_offsets, teacher["trial_start_time"] + 0.2,
                               atol=1e-9)
    counts = [sum(row[k].size for row in recording.spiketrains) for k in range(100)]
    np.testing.assert_array_equal(counts, teacher["spike_count"])
    # mean rates per neuron in the stated 4–25 Hz band
    rates = np.array(counts) / (80 * 1.2)
    assert 4.0 < rates.min() and rates.max() < 25.0


def test_reading_without_trial_key_explains_what_to_pass():
    with pytest.raises(ConfigError, match="trial_key"):
        read_recording(NWB)


def _simulate(teacher):
    """The teacher's Euler steps written out here (independent of brainbias.simulate, which made
    the file), run with jax.lax.scan: a NumPy loop of 1200 (80×200)·(200×200) products took
    3–20 s depending on BLAS threads on a loaded 2-core machine."""
    import jax
    import jax.numpy as jnp

    w = jnp.asarray(teacher["recurrent_weights"], dtype=jnp.float64)
    dt, tau = float(teacher["dt"]), float(teacher["tau"])
    n_base = round(float(teacher["baseline_duration"]) / dt)
    n_resp = round(float(teacher["response_duration"]) / dt)
    cond = teacher["trial_condition"]
    base = jnp.asarray(teacher["baseline_bias"], dtype=jnp.float64)
    resp = jnp.asarray(teacher["condition_bias"], dtype=jnp.float64)[cond]
    a = dt / tau

    def step(x, k):
        b = jnp.where(k < n_base, base[None, :], resp)
        return x + a * (-x + jnp.tanh(x) @ w.T + b), x  # emit the state at the start of step k

    x0 = jnp.asarray(teacher["trial_initial_state"], dtype=jnp.float64)
    _, states = jax.lax.scan(step, x0, jnp.arange(n_base + n_resp))
    return np.asarray(states).transpose(1, 0, 2)  # (trial, time, unit)


def test_teacher_file_rebuilds_the_true_psth(teacher):
    states = _simulate(teacher)
    y = np.tanh(states) @ teacher["readout_weights"].astype(np.float64).T
    z = (y - teacher["neuron_offset"]) / teacher["neuron_scale"]
    g = teacher["neuron_gain"].astype(np.float64)
    rates = (teacher["neuron_base_rate"].astype(np.float64) * np.logaddexp(0, g * z + 1.0)
             / np.logaddexp(0, 1.0))
    binned = rates.reshape(rates.shape[0], -1, 10, rates.shape[2]).mean(axis=2)
    cond = teacher["trial_condition"]
    psth_true = np.stack([binned[cond == c].mean(axis=0) for c in range(len(CONDITIONS))])
    # stored as float32 (relative precision 6e-8); the two float64 Euler implementations
    # differ by summation order only (~1e-13)
    np.testing.assert_allclose(psth_true, teacher["true_psth"], rtol=1e-6, atol=1e-6)


def test_fixed_point_structure_is_as_stated(teacher):
    w = teacher["recurrent_weights"].astype(np.float64)
    tau = float(teacher["tau"])
    stable = {}
    for x, c, max_re in zip(teacher["fixed_points"], teacher["fixed_point_condition"],
                            teacher["fixed_point_max_real_eigenvalue"], strict=True):
        b = teacher["condition_bias"][c].astype(np.float64)
        # Newton converged to 1e-10 in the script; the stored state is exact to float64
        assert np.linalg.norm(-x + w @ np.tanh(x) + b) < 1e-8
        jac = (-np.eye(len(x)) + w * (1 - np.tanh(x) ** 2)[None, :]) / tau
        ev = np.linalg.eigvals(jac)
        assert ev.real.max() == pytest.approx(max_re, abs=1e-6)
        name = CONDITIONS[c]
        stable.setdefault(name, []).append(ev.real.max() < 0)
    # the README's table: fixed points found (stable ones)
    assert {k: (len(v), sum(v)) for k, v in stable.items()} == {
        "limit_cycle": (1, 0), "bistable": (3, 2), "fixed_point": (1, 1), "bistable_cycles": (3, 0),
    }
    assert list(teacher["attractors"]) == ["1 x periodic", "2 x fixed_point", "1 x fixed_point",
                                           "2 x periodic"]
    # limit cycles: period ≈ 6.4 τ; Lyapunov exponent ≈ 0 on cycles (finite-time estimate over
    # 10 s, hence |λ| < 1 /s), clearly negative on fixed points: nothing is chaotic
    period = teacher["attractor_period"]
    assert period[0] == pytest.approx(0.32, abs=0.01) and np.isnan(period[1])
    lyap = teacher["largest_lyapunov_exponent"]
    assert np.all(np.abs(lyap[[0, 3]]) < 1.0) and np.all(lyap[[1, 2]] < -4.0)


def test_binned_data_recover_the_teacher_and_beat_the_baseline(recording, teacher):
    ds = bin_and_smooth(recording, bin_size=0.01, kernel_width=0.02)
    p = psth(ds)
    conds = list(teacher["conditions"])
    true = teacher["true_psth"][[conds.index(c) for c in p.condition.values]]
    assert p.rates.shape == true.shape == (4, 120, 100)
    np.testing.assert_allclose(p.time.values, teacher["true_psth_time"], atol=1e-9)
    # all 20 trials per condition: measured 0.78; a one-bin misalignment would cost ~0.02,
    # a wrong condition mapping or a 0.2 s shift far more
    assert psth_r2(true, p.rates.values).overall > 0.7

    # the README's evaluation protocol (window [0, 1] s after onset, 25 % held out, seed 0)
    ds = bin_and_smooth(recording, bin_size=0.01, kernel_width=0.02, t_start=0.0, t_stop=1.0)
    cond = ds.condition.values
    train, test = split_trials(recording.n_trials, cond, fraction=0.25, seed=0)
    _, held_out = split_neurons(recording.n_neurons, fraction=0.25, seed=0)
    tt = teacher["true_psth_time"]
    truth = teacher["true_psth"][:, tt > 0][[conds.index(c) for c in cond[test]]]
    base = smoothed_psth_baseline(ds.rates.values[train], cond[train], cond[test])
    k = ds.counts.values[test][..., held_out]
    bps_truth = co_smoothing_bits_per_spike(k, truth[..., held_out], bin_size=0.01).overall
    bps_base = co_smoothing_bits_per_spike(k, base[..., held_out], bin_size=0.01).overall
    # measured 0.257 (teacher) vs 0.203 (baseline): fixed numbers for the shipped file
    assert bps_truth == pytest.approx(0.257, abs=0.005)
    assert bps_base == pytest.approx(0.203, abs=0.005)


@pytest.mark.slow
def test_script_regenerates_the_shipped_data(tmp_path, teacher, recording):
    """The file is what the script makes (same data; HDF5 bytes differ by NWB object ids)."""
    script = DATASETS / "make_ground_truth.py"
    subprocess.run([sys.executable, str(script), "--out-dir", str(tmp_path)], check=True,
                   capture_output=True, timeout=120)
    with np.load(tmp_path / "ground_truth_teacher.npz") as new:
        for key in teacher:
            if teacher[key].dtype.kind in "fc":
                # bit-identical on the machine that made the file; other BLAS builds may
                # reorder sums in the Newton solves (~1e-15)
                np.testing.assert_allclose(new[key], teacher[key], rtol=1e-9, atol=1e-12,
                                           err_msg=key)
            else:
                assert np.all(new[key] == teacher[key]), key
    again = read_recording(tmp_path / "ground_truth.nwb", trial_key="trials",
                           align_event="stimulus_onset")
    assert again.conditions == recording.conditions
    for i in (0, 41, 79):
        for k in (0, 57, 99):
            np.testing.assert_array_equal(again.spike_times(i, k), recording.spike_times(i, k))
