"""Reading spike recordings (Neo), binning and smoothing (Elephant), PSTHs, and bad input."""

import importlib.util
import pathlib
import sys
import warnings

import numpy as np
import pytest

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")
pytest.importorskip("elephant")

from brainbias._errors import ConfigError, DataError  # noqa: E402
from brainbias.data.recordings import (  # noqa: E402
    DEFAULT_SOFT_NORMALISATION,
    KERNELS,
    Recording,
    RecordingWarning,
    bin_and_smooth,
    from_spike_times,
    load_nitime_locust,
    psth,
    read_recording,
)


@pytest.fixture
def shipped_nwb():
    path = pathlib.Path(__file__).resolve().parents[2] / "datasets" / "ground_truth.nwb"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run datasets/make_ground_truth.py")
    return path


def _two_condition_recording(seed=0, n_trials=6, n_neurons=4, rate=20.0, duration=1.0):
    rng = np.random.default_rng(seed)
    trials = [[np.sort(rng.uniform(0.0, duration, rng.poisson(rate * duration)))
               for _ in range(n_neurons)] for _ in range(n_trials)]
    conditions = ["left" if i % 2 == 0 else "right" for i in range(n_trials)]
    return from_spike_times(trials, conditions, t_start=0.0, t_stop=duration)


def _segment(trains, *, t_stop=1.0, names=None, **annotations):
    seg = neo.Segment(**annotations)
    for k, times in enumerate(trains):
        name = names[k] if names else f"unit{k}"
        seg.spiketrains.append(neo.SpikeTrain(times, t_start=0.0, t_stop=t_stop, units="s",
                                              name=name))
    return seg


# --------------------------------------------------------------------------- from_spike_times


def test_from_spike_times_builds_neo_spiketrains_in_seconds():
    rec = from_spike_times([[[0.1, 0.5], [0.2]], [[0.3], []]], ["a", "b"], t_start=0.0,
                           t_stop=1.0, neuron_names=["x", "y"])
    assert (rec.n_trials, rec.n_neurons) == (2, 2)
    assert rec.neuron_names == ("x", "y")
    assert rec.conditions == ("a", "b")
    st = rec.spiketrains[0][0]
    assert isinstance(st, neo.SpikeTrain) and st.dimensionality.string == "s"
    np.testing.assert_array_equal(rec.spike_times(0, "x"), [0.1, 0.5])
    assert rec.spike_times(1, 1).size == 0
    assert (rec.t_start, rec.t_stop) == (0.0, 1.0)


def test_units_are_converted_not_guessed():
    in_s = from_spike_times([[[0.1, 0.5]]], ["a"], t_start=0.0, t_stop=1.0)
    in_ms = from_spike_times([[[100.0, 500.0]]], ["a"], t_start=0.0, t_stop=1000.0, units="ms")
    # quantities with different time units in one trial, and t_stop in a third unit
    mixed = from_spike_times([[np.array([100.0, 500.0]) * pq.ms]], ["a"], t_start=0.0 * pq.s,
                             t_stop=1e6 * pq.us)
    for rec in (in_ms, mixed):
        # exact up to the ms -> s multiplication (1 ulp)
        np.testing.assert_allclose(rec.spike_times(0, 0), in_s.spike_times(0, 0), rtol=1e-15)
        assert rec.t_stop == pytest.approx(1.0, rel=1e-15)


def test_non_time_quantities_and_bad_units_are_errors():
    with pytest.raises(DataError, match="expected times"):
        from_spike_times([[np.array([1.0]) * pq.mV]], ["a"], t_start=0.0, t_stop=2.0)
    with pytest.raises(ConfigError, match="units"):
        from_spike_times([[[0.1]]], ["a"], t_start=0.0, t_stop=1.0, units="volts")


def test_spike_times_outside_the_trial_are_an_error_naming_the_fix():
    # times in ms passed as seconds: the classic unit mistake
    with pytest.raises(DataError, match=r"outside.*units='ms'"):
        from_spike_times([[[100.0, 500.0]]], ["a"], t_start=0.0, t_stop=1.0)
    with pytest.raises(DataError, match="trial 0, neuron 1"):
        from_spike_times([[[0.1], [-0.2]]], ["a"], t_start=0.0, t_stop=1.0)
    with pytest.raises(DataError, match="NaN"):
        from_spike_times([[[0.1, np.nan]]], ["a"], t_start=0.0, t_stop=1.0)


@pytest.mark.parametrize("trials, conditions, match", [
    ([], [], "no trials"),
    ([[]], ["a"], "empty trial"),
    ([[[0.1]], [[0.2], [0.3]]], ["a", "b"], "neurons, but trial 0 has 1"),
    ([[[0.1]]], ["a", "b"], "2 labels for 1 trials"),
])
def test_structural_problems_are_data_errors(trials, conditions, match):
    with pytest.raises(DataError, match=match):
        from_spike_times(trials, conditions, t_start=0.0, t_stop=1.0)


def test_zero_duration_trial_is_an_error():
    with pytest.raises(DataError, match="must be greater than t_start"):
        from_spike_times([[[]]], ["a"], t_start=1.0, t_stop=1.0)


def test_select_and_unknown_condition_label():
    rec = _two_condition_recording()
    left = rec.select(conditions=["left"])
    assert left.conditions == ("left",) * 3
    assert left.spiketrains[1] is rec.spiketrains[2]
    with pytest.raises(ConfigError, match="Did you mean 'right'"):
        rec.select(conditions=["rigth"])
    with pytest.raises(ConfigError, match="indices"):
        rec.select(trials=[99])


def test_alignment_to_an_event_shifts_each_trial():
    rec = from_spike_times([[[0.5, 0.9]], [[0.7]]], ["a", "a"], t_start=0.0, t_stop=1.0,
                           events=[{"go": 0.4}, {"go": [0.6, 0.8]}], align_event="go")
    np.testing.assert_allclose(rec.spike_times(0, 0), [0.1, 0.5], atol=1e-15)
    np.testing.assert_allclose(rec.spike_times(1, 0), [0.1], atol=1e-15)  # first occurrence
    np.testing.assert_allclose(rec.trial_t_start, [-0.4, -0.6])
    np.testing.assert_allclose(rec.trial_offsets, [0.4, 0.6])
    assert (rec.t_start, rec.t_stop) == pytest.approx((-0.4, 0.4))


def test_alignment_errors():
    events = [{"go": 0.4}, {"stop": 0.6}]
    with pytest.raises(ConfigError, match="Did you mean 'go'"):
        from_spike_times([[[]], [[]]], ["a", "a"], t_start=0.0, t_stop=1.0, events=events,
                         align_event="goo")
    with pytest.raises(DataError, match="missing in 1 trial"):
        from_spike_times([[[]], [[]]], ["a", "a"], t_start=0.0, t_stop=1.0, events=events,
                         align_event="go")


# --------------------------------------------------------------------------- Neo objects and files


def test_segments_are_trials_with_conditions_from_annotations():
    s1 = _segment([[0.1], [0.2, 0.3]], names=["a", "b"], condition="left")
    s2 = _segment([[0.4, 0.5], [0.6]], names=["b", "a"], condition="right")  # other order
    rec = read_recording([s1, s2])
    assert rec.conditions == ("left", "right")
    assert rec.neuron_names == ("a", "b")
    # neurons are matched by name, not position
    np.testing.assert_array_equal(rec.spike_times(1, "a"), [0.6])
    block = neo.Block()
    block.segments.extend([s1, s2])
    assert read_recording(block).conditions == ("left", "right")


def test_neo_spiketrains_in_other_time_units_are_converted():
    seg = neo.Segment(condition="a")
    seg.spiketrains.append(neo.SpikeTrain([100.0, 250.0], t_start=0.0, t_stop=1000.0,
                                          units="ms", name="ms_unit"))
    seg.spiketrains.append(neo.SpikeTrain([0.5], t_start=0.0, t_stop=1.0, units="s",
                                          name="s_unit"))
    rec = read_recording(seg)
    np.testing.assert_allclose(rec.spike_times(0, "ms_unit"), [0.1, 0.25], rtol=1e-15)
    assert rec.spiketrains[0][0].dimensionality.string == "s"
    assert (rec.t_start, rec.t_stop) == (0.0, 1.0)


def test_missing_condition_annotation_suggests_the_key():
    seg = _segment([[0.1]], condition_label="left")
    with pytest.raises(ConfigError, match="Did you mean 'condition_label'"):
        read_recording([seg])
    assert read_recording([seg], condition_key="condition_label").conditions == ("left",)
    assert read_recording([seg], condition_key=None).conditions == ("all",)


def test_segment_without_spiketrains_is_an_empty_trial_error():
    with pytest.raises(DataError, match="no spike trains"):
        read_recording([_segment([[0.1]], condition="a"), neo.Segment(condition="b")])


def test_segments_with_different_neurons_are_an_error():
    s1 = _segment([[0.1]], names=["a"], condition="x")
    s2 = _segment([[0.1], [0.2]], names=["a", "b"], condition="x")
    with pytest.raises(DataError, match="different numbers of spike trains"):
        read_recording([s1, s2])


def _continuous_segment():
    """One 4 s segment: three 1 s trials marked by an Epoch and a 'go' Event in each."""
    seg = _segment([[0.2, 0.55, 1.3, 2.7, 2.9], [1.6, 2.5]], t_stop=4.0)
    seg.epochs.append(neo.Epoch(times=[0.0, 1.0, 2.0] * pq.s, durations=[1.0, 1.0, 1.0] * pq.s,
                                labels=["u", "v", "u"], name="trial",
                                array_annotations={"cond": np.array(["up", "down", "up"]),
                                                   "onset": np.array([0.5, 1.5, 2.5])}))
    seg.events.append(neo.Event(times=[0.25, 1.25, 2.25] * pq.s, labels=["go", "go", "go"],
                                name="cue"))
    return seg


def test_trials_cut_by_an_epoch():
    seg = _continuous_segment()
    rec = read_recording([seg], trial_key="trial", condition_key="cond")
    assert rec.conditions == ("up", "down", "up")
    np.testing.assert_allclose(rec.spike_times(0, 0), [0.2, 0.55])
    np.testing.assert_allclose(rec.spike_times(1, 0), [0.3], atol=1e-12)
    np.testing.assert_allclose(rec.trial_offsets, [0.0, 1.0, 2.0])
    assert read_recording([seg], trial_key="trial", condition_key="labels").conditions == (
        "u", "v", "u")
    # align to a numeric column of the epoch (like an NWB trials-table time column) and crop
    aligned = read_recording([seg], trial_key="trial", condition_key="cond",
                             align_event="onset", t_start=-0.5, t_stop=0.5)
    np.testing.assert_allclose(aligned.spike_times(0, 0), [-0.3, 0.05], atol=1e-12)
    # align to an Event label
    by_label = read_recording([seg], trial_key="trial", condition_key="cond", align_event="go")
    np.testing.assert_allclose(by_label.trial_offsets, [0.25, 1.25, 2.25])


def test_trials_cut_by_an_event_need_a_window():
    seg = _continuous_segment()
    with pytest.raises(ConfigError, match="give t_start and t_stop"):
        read_recording([seg], trial_key="cue", condition_key="labels")
    rec = read_recording([seg], trial_key="cue", condition_key="labels", t_start=-0.25,
                         t_stop=0.5)
    assert rec.conditions == ("go", "go", "go")
    np.testing.assert_allclose(rec.spike_times(0, 0), [-0.05, 0.3], atol=1e-12)
    assert (rec.t_start, rec.t_stop) == pytest.approx((-0.25, 0.5))


def test_unknown_trial_key_and_condition_column():
    seg = _continuous_segment()
    with pytest.raises(ConfigError, match="Did you mean 'trial'"):
        read_recording([seg], trial_key="trails", condition_key="cond")
    with pytest.raises(ConfigError, match="Did you mean 'cond'"):
        read_recording([seg], trial_key="trial", condition_key="condd")


def test_crop_window_outside_a_trial_is_an_error():
    seg = _continuous_segment()
    with pytest.raises(DataError, match="reaches outside 3 trial"):
        read_recording([seg], trial_key="trial", condition_key="cond", t_start=-0.1, t_stop=0.5)


def test_nix_file_round_trip(tmp_path):
    pytest.importorskip("nixio")
    block = neo.Block(name="b")
    for cond, times in (("left", [[0.1, 0.2], [0.5]]), ("right", [[0.3], [0.4, 0.9]])):
        seg = _segment(times, names=["n0", "n1"], condition=cond)
        block.segments.append(seg)
    path = tmp_path / "rec.nix"
    with neo.io.NixIO(str(path), mode="ow") as io:
        io.write_block(block)
    rec = read_recording(path)
    assert rec.conditions == ("left", "right")
    assert rec.neuron_names == ("n0", "n1")
    np.testing.assert_allclose(rec.spike_times(1, "n1"), [0.4, 0.9])
    assert read_recording(str(path), io="NixIO").n_trials == 2
    assert read_recording(path, io=neo.io.NixIO).n_trials == 2


def test_missing_truncated_and_garbage_files_name_the_path(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_recording(tmp_path / "absent.nwb")
    garbage = tmp_path / "garbage.nwb"
    garbage.write_bytes(b"this is not HDF5")
    with pytest.raises(DataError, match="garbage.nwb.*could not be read"):
        read_recording(garbage)
    unknown = tmp_path / "data.xyz"
    unknown.write_text("1 2 3")
    with pytest.raises(DataError, match="data.xyz.*no reader"):
        read_recording(unknown)
    with pytest.raises(ConfigError, match="Did you mean 'NWBIO'"):
        read_recording(garbage, io="NWBI")


def test_truncated_nwb_file(tmp_path, shipped_nwb):
    data = shipped_nwb.read_bytes()
    truncated = tmp_path / "truncated.nwb"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated.nwb"):
        read_recording(truncated, trial_key="trials")


@pytest.mark.parametrize("module, suffix", [("pynwb", ".nwb"), ("nixio", ".nix")])
def test_missing_io_dependency_names_the_package(tmp_path, monkeypatch, module, suffix):
    path = tmp_path / f"file{suffix}"
    path.write_bytes(b"\x89HDF\r\n")
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(DataError, match=rf"pip install {module}"):
        read_recording(path)


def test_pickle_files_are_refused(tmp_path):
    path = tmp_path / "data.pkl"
    path.write_bytes(b"not even a pickle")
    with pytest.raises(DataError, match="refused"):
        read_recording(path)


# --------------------------------------------------------------------------- binning


def test_counts_match_half_open_bins_including_float_edge_cases():
    # 0.3, 0.6 and 0.7 are not exact multiples of 0.1 in binary; a naive floor(t / 0.1) puts
    # 0.3 in bin 2 and 0.7 in bin 6. Spikes on edges belong to the bin they open, a spike at
    # t_stop is outside the window.
    times = [0.0, 0.1, 0.3, 0.6, 0.7, 0.999, 1.0]
    rec = from_spike_times([[times]], ["a"], t_start=0.0, t_stop=1.0)
    ds = bin_and_smooth(rec, bin_size=0.1, kernel_width=0.05)
    np.testing.assert_array_equal(ds.counts.values[0, :, 0], [1, 1, 0, 1, 0, 0, 1, 1, 0, 1])
    np.testing.assert_allclose(ds.time.values, np.arange(10) * 0.1 + 0.05, atol=1e-15)
    np.testing.assert_allclose(ds.bin_start.values, np.arange(10) * 0.1, atol=1e-15)
    np.testing.assert_allclose(ds.bin_stop.values, np.arange(1, 11) * 0.1, atol=1e-15)
    assert ds.counts.attrs["units"] == "count" and ds.rates.attrs["units"] == "Hz"


def test_negative_window_and_ms_bin_size_quantity():
    rec = from_spike_times([[[0.05, 0.2, 0.45]]], ["a"], t_start=0.0, t_stop=1.0,
                           events=[{"go": 0.25}], align_event="go")
    ds = bin_and_smooth(rec, bin_size=50 * pq.ms, t_start=-0.25, t_stop=0.25)
    assert ds.sizes["time"] == 10
    # aligned times −0.2, −0.05, 0.2 all sit on bin edges (−0.2 + 0.25 = 0.0499… in floats)
    np.testing.assert_array_equal(ds.counts.values[0, :, 0], [0, 1, 0, 0, 1, 0, 0, 0, 0, 1])
    assert ds.attrs["bin_size"] == pytest.approx(0.05)


def test_counts_agree_with_numpy_histogram_on_random_data():
    rec = _two_condition_recording(seed=3, n_trials=4, n_neurons=5, rate=40.0)
    ds = bin_and_smooth(rec, bin_size=0.02, kernel_width=0.04, drop_silent=False)
    edges = np.arange(51) * 0.02
    for i in range(rec.n_trials):
        for k in range(rec.n_neurons):
            # random uniform times are never within 1e-8 bins of an edge, so np.histogram is a
            # valid reference here (its last bin is closed; no spike sits exactly at 1.0)
            ref, _ = np.histogram(rec.spike_times(i, k), bins=edges)
            np.testing.assert_array_equal(ds.counts.values[i, :, k], ref)


def test_gaussian_rate_integrates_to_the_spike_count_and_is_centred():
    rec = from_spike_times([[[1.005]]], ["a"], t_start=0.0, t_stop=2.0)
    ds = bin_and_smooth(rec, bin_size=0.01, kernel_width=0.05)
    r = ds.rates.values[0, :, 0]
    # kernel sampled every σ/5 out to 5σ: Riemann error ≪ 1e-6, truncated mass 5.7e-7
    assert r.sum() * 0.01 == pytest.approx(1.0, abs=2e-6)
    assert int(np.argmax(r)) == 100  # the spike's bin [1.00, 1.01): no time shift
    # peak of a Gaussian with σ = 0.05 s: 1 / (σ √(2π)) Hz
    assert r.max() == pytest.approx(1 / (0.05 * np.sqrt(2 * np.pi)), rel=1e-3)


def test_causal_kernels_do_not_see_the_future():
    rec = from_spike_times([[[0.5]]], ["a"], t_start=0.0, t_stop=1.0)
    for kernel in ("exponential", "alpha"):
        r = bin_and_smooth(rec, bin_size=0.01, kernel=kernel, kernel_width=0.03).rates.values
        # before the spike's bin only FFT round-off (≈1e-15 relative) is allowed
        assert np.all(r[0, :50, 0] < 1e-9 * r.max())
        assert r[0, 50:, 0].max() > 0
        # the rate integrates to the one spike (the kernel's sampled mass is normalised out;
        # 5 widths of support leave < 1e-3 of an exponential's mass, more of an alpha's tail)
        assert r.sum() * 0.01 == pytest.approx(1.0, abs=0.05)


def test_edge_correction_keeps_a_flat_rate_flat():
    # a regular 1000 Hz train (one spike per ms, mid-ms) in a trial with no data beyond its
    # edges: symmetric kernels are divided by their mass on recorded bins, so the estimate is
    # flat up to the edges (exact: each 10 ms bin holds 10 spikes)
    rec = from_spike_times([[np.arange(1000) * 0.001 + 0.0005]], ["a"], t_start=0.0,
                           t_stop=1.0)
    for kernel in ("gaussian", "laplacian", "triangular", "rectangular", "epanechnikov"):
        r = bin_and_smooth(rec, bin_size=0.01, kernel=kernel, kernel_width=0.03).rates.values
        np.testing.assert_allclose(r[0, :, 0], 1000.0, rtol=1e-9, err_msg=kernel)


def test_every_kernel_runs_and_unknown_kernels_are_suggested():
    rec = _two_condition_recording(n_trials=2, n_neurons=2)
    for kernel in KERNELS:
        ds = bin_and_smooth(rec, bin_size=0.02, kernel=kernel, kernel_width=0.04)
        assert ds.rates.shape == (2, 50, 2)
        assert np.all(ds.rates.values >= 0)
    with pytest.raises(ConfigError, match="Did you mean 'gaussian'"):
        bin_and_smooth(rec, bin_size=0.02, kernel="gausian")


def test_rates_near_window_edges_use_spikes_outside_the_window():
    rec = _two_condition_recording(seed=5, n_trials=2, n_neurons=3, rate=30.0, duration=2.0)
    full = bin_and_smooth(rec, bin_size=0.01, kernel_width=0.03)
    # the window [0.5, 1.5] leaves ≥ 5σ = 0.15 s of recorded spikes on both sides
    part = bin_and_smooth(rec, bin_size=0.01, kernel_width=0.03, t_start=0.5, t_stop=1.5)
    sel = full.sel(time=slice(0.5, 1.5))
    np.testing.assert_allclose(part.rates.values, sel.rates.values, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(part.counts.values, sel.counts.values)


def test_bin_size_that_does_not_divide_the_window_lists_valid_sizes():
    rec = _two_condition_recording()
    with pytest.raises(ConfigError, match=r"0\.333333 s, 0\.25 s"):
        bin_and_smooth(rec, bin_size=0.3)
    with pytest.raises(ConfigError, match="bin_size"):
        bin_and_smooth(rec, bin_size=0.0)
    with pytest.raises(ConfigError, match="kernel_width"):
        bin_and_smooth(rec, bin_size=0.1, kernel_width=-1.0)


def test_window_outside_a_trial_is_an_error():
    rec = from_spike_times([[[0.1]], [[0.2]]], ["a", "b"], t_start=0.0, t_stop=[1.0, 0.5])
    assert rec.t_stop == 0.5
    with pytest.raises(DataError, match=r"reaches outside 1 trial\(s\) \[1\]"):
        bin_and_smooth(rec, bin_size=0.1, t_start=0.0, t_stop=1.0)


def test_silent_neurons_are_dropped_with_a_warning_and_empty_trials_kept():
    rec = from_spike_times([[[0.1], [], [0.3]], [[], [], []]], ["a", "b"], t_start=0.0,
                           t_stop=1.0, neuron_names=["n0", "quiet", "n2"])
    with pytest.warns(RecordingWarning) as record:
        ds = bin_and_smooth(rec, bin_size=0.1)
    messages = " ".join(str(w.message) for w in record)
    assert "quiet" in messages and "no spike" in messages
    assert list(ds.neuron.values) == ["n0", "n2"]
    assert ds.attrs["dropped_neurons"] == "quiet"
    assert ds.sizes["trial"] == 2  # the silent trial is kept
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingWarning)
        kept = bin_and_smooth(rec, bin_size=0.1, drop_silent=False)
    assert kept.sizes["neuron"] == 3


def test_all_neurons_silent_is_an_error():
    rec = from_spike_times([[[], []]], ["a"], t_start=0.0, t_stop=1.0)
    with pytest.raises(DataError, match="no neuron has a spike"):
        bin_and_smooth(rec, bin_size=0.1)


def test_psth_shapes_coords_and_values():
    rec = _two_condition_recording(n_trials=6)
    ds = bin_and_smooth(rec, bin_size=0.05, kernel_width=0.05)
    assert ds.rates.dims == ("trial", "time", "neuron")
    assert list(ds.condition.values) == list(rec.conditions)
    p = psth(ds)
    assert p.rates.dims == ("condition", "time", "neuron")
    assert list(p.condition.values) == ["left", "right"]  # order of first appearance
    assert list(p.n_trials.values) == [3, 3]
    np.testing.assert_allclose(p.rates.values[1], ds.rates.values[1::2].mean(axis=0))
    np.testing.assert_allclose(p.mean_counts.values[0], ds.counts.values[0::2].mean(axis=0))
    np.testing.assert_array_equal(p.time.values, ds.time.values)
    assert p.rates.attrs["units"] == "Hz"


def test_soft_normalisation():
    rec = _two_condition_recording(n_trials=6)
    ds = bin_and_smooth(rec, bin_size=0.05, kernel_width=0.05, soft_normalise=True)
    means = psth(ds).rates.values
    scale = means.max(axis=(0, 1)) - means.min(axis=(0, 1)) + DEFAULT_SOFT_NORMALISATION
    np.testing.assert_allclose(ds.soft_normalisation_scale.values, scale)
    np.testing.assert_allclose(ds.normalised_rates.values, ds.rates.values / scale)
    assert ds.attrs["soft_normalisation_constant"] == 5.0
    ds2 = bin_and_smooth(rec, bin_size=0.05, kernel_width=0.05, soft_normalise=2.0)
    assert ds2.attrs["soft_normalisation_constant"] == 2.0
    assert "normalised_rates" not in bin_and_smooth(rec, bin_size=0.05)


def test_realignment_in_bin_and_smooth_matches_aligned_reading():
    kwargs = dict(t_start=0.0, t_stop=1.0, events=[{"go": 0.3}, {"go": 0.5}])
    trials = [[[0.35, 0.6]], [[0.55, 0.9]]]
    late = from_spike_times(trials, ["a", "a"], align_event="go", **kwargs)
    early = from_spike_times(trials, ["a", "a"], **kwargs)
    a = bin_and_smooth(late, bin_size=0.1, t_start=-0.3, t_stop=0.5)
    b = bin_and_smooth(early, bin_size=0.1, t_start=-0.3, t_stop=0.5, align_event="go")
    np.testing.assert_array_equal(a.counts.values, b.counts.values)
    np.testing.assert_allclose(a.rates.values, b.rates.values, atol=1e-9)
    assert b.attrs["align_event"] == "go"


def test_dataset_round_trips_through_netcdf(tmp_path):
    pytest.importorskip("h5netcdf")
    import xarray as xr

    rec = from_spike_times([[[0.1], [], [0.3]]], ["a"], t_start=0.0, t_stop=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingWarning)
        ds = bin_and_smooth(rec, bin_size=0.1, soft_normalise=True)
    ds.to_netcdf(tmp_path / "binned.nc", engine="h5netcdf")
    back = xr.load_dataset(tmp_path / "binned.nc", engine="h5netcdf")
    xr.testing.assert_identical(back.counts, ds.counts)
    assert back.attrs["dropped_neurons"] == "neuron1"


def test_recording_validates_itself():
    st = neo.SpikeTrain([1.0], t_stop=2.0, units="ms")
    with pytest.raises(DataError, match="not in seconds"):
        Recording(spiketrains=((st,),), conditions=("a",), neuron_names=("n",))
    with pytest.raises(DataError, match="no trials"):
        Recording(spiketrains=(), conditions=(), neuron_names=())


# --------------------------------------------------------------------------- nitime


def test_nitime_locust_loader():
    if importlib.util.find_spec("nitime") is None:
        pytest.skip("nitime is not installed (pip install nitime) — the loader is optional")
    rec, stimulus = load_nitime_locust()
    assert (rec.n_trials, rec.n_neurons) == (2, 1)
    assert rec.conditions == ("cutoff_200Hz", "cutoff_800Hz")
    assert rec.t_stop == pytest.approx(10.0)  # 200 000 stimulus samples × 50 µs
    n_spikes = [rec.spike_times(i, 0).size for i in range(2)]
    assert n_spikes == [929, 868]  # the numeric lines in nitime 0.12's two spike files
    assert stimulus.dims == ("trial", "time") and stimulus.shape == (2, 200_000)
    assert stimulus.attrs["units"] == "dB SPL"
    # the maximum of each envelope is the header's intensity
    np.testing.assert_allclose(stimulus.max("time").values, [76.4286, 71.2])
    ds = bin_and_smooth(rec, bin_size=0.01, kernel_width=0.02)
    mean_rate = ds.counts.sum(("time", "neuron")).values / 10.0
    assert 80 < mean_rate[0] < 100  # ≈ 93 Hz, the header asked for 100 Hz


def test_nitime_missing_is_a_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "nitime" else real(name, *a))
    with pytest.raises(DataError, match="pip install nitime"):
        load_nitime_locust()
