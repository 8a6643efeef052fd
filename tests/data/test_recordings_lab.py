"""Lab files in (issue 14, reading): NWB, NIX and MATLAB files written here by Neo's own writers
(NWBIO, NixIO, NeoMatlabIO) in every layout — one segment per trial or one segment cut by a
trials table, with or without the table — conditions from each source, alignment, unit
selection, spike sanity, laziness, `brainbias inspect` and `brainbias fit` end to end."""

import datetime
import logging
import warnings

import numpy as np
import pytest

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")
pytest.importorskip("elephant")
pynwb = pytest.importorskip("pynwb")
pytest.importorskip("nixio")

from brainbias._errors import ConfigError, DataError  # noqa: E402
from brainbias.cli import main  # noqa: E402
from brainbias.config import ExperimentConfig, RecordingConfig, from_dict, to_dict  # noqa: E402
from brainbias.data.recordings import (  # noqa: E402
    RecordingWarning,
    bin_and_smooth,
    inspect_file,
    read_recording,
)
from brainbias.data.recordings import sources as _sources  # noqa: E402
from brainbias.experiment.recording import load_binned  # noqa: E402

N_TRIALS = 6
CONDITIONS = ["left" if i % 2 else "right" for i in range(N_TRIALS)]
UNITS = [  # name, quality, area, rate (Hz)
    ("u0", "good", "V1", 40.0), ("u1", "good", "V1", 30.0), ("u2", "good", "V2", 35.0),
    ("u3", "good", "V1", 25.0), ("u4", "good", "V2", 45.0), ("u5", "mua", "V1", 1.0),
]
TRIAL_LEN, STIM, GO, CUE = 0.8, 0.2, 0.5, 0.1  # s after each trial's start

logging.getLogger().setLevel(logging.ERROR)  # NWBIO logs every event it renames


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pynwb|hdmf|neo")
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def _spikes(seed=0):
    """Spike times (trial, unit) on the session clock: trial i spans [i, i + 0.8] s."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(N_TRIALS):
        row = []
        for k, (_, _, _, rate) in enumerate(UNITS):
            n = max(1, rng.poisson(rate * TRIAL_LEN)) if k < 5 else 1
            row.append(np.sort(rng.uniform(i + 0.01, i + TRIAL_LEN - 0.01, n)))
        out.append(row)
    return out


def _block(*, annotate=True, events=True, n_trials=N_TRIALS, n_units=None):
    """One segment per trial: names trial_<i>_<condition>, a 'condition' annotation, unit
    annotations, events 'markers' (stim, go) and 'cue' (labelled with the condition)."""
    n_units = len(UNITS) if n_units is None else n_units
    blk = neo.Block(name="session", session_start_time=datetime.datetime(
        2024, 1, 1, tzinfo=datetime.UTC), identifier="x", session_description="test")
    for i, (row, cond) in enumerate(zip(_spikes()[:n_trials], CONDITIONS[:n_trials],
                                        strict=True)):
        seg = neo.Segment(name=f"trial_{i}_{cond}", **({"condition": cond} if annotate else {}))
        for (name, quality, area, _), times in zip(UNITS[:n_units], row[:n_units],
                                                   strict=True):
            ann = {"quality": quality, "area": area} if annotate else {}
            seg.spiketrains.append(neo.SpikeTrain(times, t_start=i, t_stop=i + TRIAL_LEN,
                                                  units="s", name=name, **ann))
        if events:
            seg.events.append(neo.Event(np.array([i + STIM, i + GO]) * pq.s,
                                        labels=np.array(["stim", "go"]), name="markers"))
            seg.events.append(neo.Event(np.array([i + CUE]) * pq.s, labels=np.array([cond]),
                                        name="cue"))
        blk.segments.append(seg)
    return blk


def _single_segment_block():
    """The same spikes in one segment [0, 8] s, with a 'trials' Epoch (the NIX layout)."""
    blk = neo.Block(name="session")
    seg = neo.Segment(name="session")
    spikes = _spikes()
    for k, (name, quality, area, _) in enumerate(UNITS):
        times = np.concatenate([row[k] for row in spikes])
        seg.spiketrains.append(neo.SpikeTrain(times, t_start=0.0, t_stop=float(N_TRIALS),
                                              units="s", name=name, quality=quality, area=area))
    starts = np.arange(N_TRIALS, dtype=float)
    seg.epochs.append(neo.Epoch(starts * pq.s, durations=np.full(N_TRIALS, TRIAL_LEN) * pq.s,
                                labels=np.array([f"trial_{i}_{c}" for i, c in
                                                 enumerate(CONDITIONS)]), name="trials",
                                array_annotations={"condition": np.array(CONDITIONS),
                                                   "stim_onset": starts + STIM}))
    blk.segments.append(seg)
    return blk


def _add_trials_table(path, *, units_columns=True):
    with pynwb.NWBHDF5IO(str(path), "a") as io:
        nwb = io.read()
        nwb.add_trial_column("condition", "the condition")
        nwb.add_trial_column("stim_onset", "stimulus onset (s)")
        for i, cond in enumerate(CONDITIONS):
            nwb.add_trial(start_time=float(i), stop_time=i + TRIAL_LEN, condition=cond,
                          stim_onset=i + STIM)
        if units_columns:
            n = len(nwb.units)
            nwb.units.add_column("quality", "sorting quality",
                                 data=[UNITS[k % len(UNITS)][1] for k in range(n)])
        io.write(nwb)


def _write_pynwb(path):
    """An NWB file as labs write them with pynwb (not Neo): one session, units with
    electrodes (their ``location`` is the area), no ``obs_intervals``, a trials table."""
    nwb = pynwb.NWBFile(session_description="pynwb session", identifier="p",
                        session_start_time=datetime.datetime(2024, 1, 1,
                                                             tzinfo=datetime.UTC))
    device = nwb.create_device(name="probe")
    group = nwb.create_electrode_group(name="shank", description="", location="brain",
                                       device=device)
    for area in ("V1", "V2"):
        nwb.add_electrode(group=group, location=area)
    nwb.add_unit_column("quality", "sorting quality")
    spikes = _spikes()
    for k, (_, quality, area, _) in enumerate(UNITS):
        nwb.add_unit(spike_times=np.concatenate([row[k] for row in spikes]),
                     electrodes=[0 if area == "V1" else 1], quality=quality)
    nwb.add_trial_column("condition", "the condition")
    nwb.add_trial_column("stim_onset", "stimulus onset (s)")
    for i, cond in enumerate(CONDITIONS):
        nwb.add_trial(start_time=float(i), stop_time=i + TRIAL_LEN, condition=cond,
                      stim_onset=i + STIM)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every layout, written once by Neo's writers (+ pynwb for the NWB trials table)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pynwb: AnnotationSeries is deprecated (NWBIO uses it)
        return _write_all(tmp_path_factory.mktemp("lab"))


def _write_all(d):
    out = {"nwb_table": d / "table.nwb", "nwb_plain": d / "plain.nwb",
           "nwb_single": d / "single.nwb", "nix": d / "multi.nix", "nix_single": d / "single.nix",
           "mat": d / "multi.mat", "pynwb": d / "pynwb.nwb"}
    _write_pynwb(out["pynwb"])
    neo.io.NWBIO(str(out["nwb_table"]), mode="w").write_all_blocks([_block()])
    _add_trials_table(out["nwb_table"])
    neo.io.NWBIO(str(out["nwb_plain"]), mode="w").write_all_blocks([_block()])
    single = _single_segment_block()
    single.segments[0].epochs = []
    single.annotate(session_start_time=datetime.datetime(2024, 1, 1,
                                                         tzinfo=datetime.UTC))
    neo.io.NWBIO(str(out["nwb_single"]), mode="w").write_all_blocks([single])
    _add_trials_table(out["nwb_single"])
    with neo.io.NixIO(str(out["nix"]), mode="ow") as io:
        io.write_block(_block())
    with neo.io.NixIO(str(out["nix_single"]), mode="ow") as io:
        io.write_block(_single_segment_block())
    neo.io.NeoMatlabIO(str(out["mat"])).write_block(_block())
    return out


def _expected(trial, unit, zero=0.0, lo=0.0, hi=TRIAL_LEN):
    t = _spikes()[trial][unit] - trial
    return t[(t >= lo) & (t <= hi)] - zero


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("key", ["nwb_table", "nix", "mat"])
def test_one_segment_per_trial_in_every_format(files, key):
    kw = {"condition_key": "condition"}
    rec = read_recording(files[key], **kw)
    assert rec.conditions == tuple(CONDITIONS)
    assert rec.trial_names[3] == "trial_3_left"
    assert rec.neuron_names == tuple(u[0] for u in UNITS)
    np.testing.assert_allclose(rec.spike_times(3, "u2"), _expected(3, 2), atol=1e-9)
    np.testing.assert_allclose(rec.trial_offsets, np.arange(N_TRIALS))


def test_nwb_trials_table_in_the_multi_segment_layout(files):
    """NWBIO keeps neither segment annotations nor the trials table: the table's row of each
    segment gives the condition and its time columns the alignment events."""
    rec = read_recording(files["nwb_table"], condition_key="condition", align_event="stim_onset")
    assert rec.conditions == tuple(CONDITIONS)
    np.testing.assert_allclose(rec.trial_offsets, np.arange(N_TRIALS) + STIM)
    np.testing.assert_allclose(rec.spike_times(5, "u0"), _expected(5, 0, zero=STIM), atol=1e-9)
    # the table also cuts trials in this layout (one row per segment)
    cut = read_recording(files["nwb_table"], trial_key="trials", align_event="stim_onset")
    assert cut.conditions == rec.conditions and cut.n_trials == N_TRIALS
    np.testing.assert_allclose(cut.spike_times(5, "u0"), rec.spike_times(5, "u0"))


def test_single_segment_nwb_cut_by_its_trials_table(files):
    rec = read_recording(files["nwb_single"], trial_key="trials", align_event="stim_onset",
                         pre=0.1, post=0.4)
    assert rec.conditions == tuple(CONDITIONS) and rec.n_trials == N_TRIALS
    assert (rec.t_start, rec.t_stop) == pytest.approx((-0.1, 0.4))
    np.testing.assert_allclose(rec.spike_times(5, "u4"),
                               _expected(5, 4, zero=STIM, lo=STIM - 0.1, hi=STIM + 0.4),
                               atol=1e-9)


def test_nwb_written_by_pynwb_units_by_electrode_location(files):
    """No Neo columns: one segment "default", units named unit<id>, the extent found from
    the spikes and the trials table, electrodes' locations as the units' ``location``."""
    rec = read_recording(files["pynwb"], trial_key="trials", align_event="stim_onset",
                         units={"location": "V2"})
    assert rec.neuron_names == ("unit2", "unit4")
    assert rec.conditions == tuple(CONDITIONS)
    np.testing.assert_allclose(rec.spike_times(4, "unit4"), _expected(4, 4, zero=STIM),
                               atol=1e-9)
    sug = inspect_file(files["pynwb"]).suggestion
    assert sug["trial_key"] == "trials" and sug["condition_key"] == "condition"


def test_single_segment_nix_cut_by_an_epoch_named_by_its_labels(files):
    rec = read_recording(files["nix_single"], trial_key="trials", condition_key="condition",
                         align_event="stim_onset")
    assert rec.conditions == tuple(CONDITIONS)
    assert rec.trial_names[:2] == ("trial_0_right", "trial_1_left")
    np.testing.assert_allclose(rec.spike_times(2, "u1"), _expected(2, 1, zero=STIM), atol=1e-9)


# --------------------------------------------------------------------------- condition sources


def test_conditions_from_segment_names_with_a_pattern(files):
    for key in ("nwb_plain", "nix", "mat"):
        rec = read_recording(files[key], condition_from_name=r"trial_\d+_(?P<condition>\w+)")
        assert rec.conditions == tuple(CONDITIONS)
    # no group: the whole match; one group: that group
    assert read_recording(files["mat"], condition_from_name="left|right").conditions == tuple(
        CONDITIONS)
    with pytest.raises(DataError, match="do not match.*trial_0_right"):
        read_recording(files["mat"], condition_from_name=r"cond_(\w+)")


def test_conditions_from_an_events_channel(files):
    """NWBIO renames events "<segment>  cue 0"; the reader gives them their names back."""
    for key in ("nwb_plain", "mat"):
        assert read_recording(files[key], condition_events="cue").conditions == tuple(CONDITIONS)
    with pytest.raises(DataError, match="different labels.*'trial_0_right'"):
        read_recording(files["mat"], condition_events="markers")
    with pytest.raises(ConfigError, match="Did you mean 'cue'"):
        read_recording(files["mat"], condition_events="cues")


def test_conditions_from_a_csv_by_name_or_position(files, tmp_path):
    by_name = tmp_path / "by_name.csv"
    by_name.write_text("trial,condition\n" + "".join(
        f"trial_{i}_{c},{'A' if c == 'left' else 'B'}\n" for i, c in enumerate(CONDITIONS)))
    rec = read_recording(files["nwb_plain"], condition_csv=by_name)
    assert rec.conditions == tuple("A" if c == "left" else "B" for c in CONDITIONS)
    by_position = tmp_path / "by_position.csv"
    by_position.write_text("condition,trial\n" + "".join(f"c{i % 3},{i}\n"
                                                         for i in range(N_TRIALS)))
    rec = read_recording(files["nix_single"], trial_key="trials", condition_csv=by_position)
    assert rec.conditions == tuple(f"c{i % 3}" for i in range(N_TRIALS))
    short = tmp_path / "short.csv"
    short.write_text("trial,condition\ntrial_0_right,a\n")
    with pytest.raises(DataError, match=f"no condition for {N_TRIALS - 1} trial"):
        read_recording(files["mat"], condition_csv=short)
    typo = tmp_path / "typo.csv"
    typo.write_text(by_name.read_text().replace("trial_0_right", "trail_0_right"))
    with pytest.raises(DataError, match="not in the recording.*trail_0_right"):
        read_recording(files["mat"], condition_csv=typo)
    with pytest.raises(ConfigError, match="one source"):
        read_recording(files["mat"], condition_csv=by_name, condition_events="cue")


def test_a_missing_condition_points_at_the_other_sources(files):
    with pytest.raises(ConfigError, match="condition_from_name.*condition_events.*inspect"):
        read_recording(files["nwb_plain"])


# --------------------------------------------------------------------------- alignment, units


def test_alignment_on_an_event_label_with_pre_and_post(files):
    rec = read_recording(files["mat"], align_event="go", pre=0.3, post=0.2)
    np.testing.assert_allclose(rec.trial_offsets, np.arange(N_TRIALS) + GO)
    np.testing.assert_allclose(rec.spike_times(4, "u3"),
                               _expected(4, 3, zero=GO, lo=GO - 0.3, hi=GO + 0.2), atol=1e-9)
    with pytest.raises(DataError, match=rf"reaches outside {N_TRIALS} trial.*trial_0_right"):
        read_recording(files["mat"], align_event="go", pre=0.6, post=0.2)
    with pytest.raises(ConfigError, match="not both"):
        read_recording(files["mat"], align_event="go", pre=0.1, t_stop=0.2)


def test_unit_selection_by_annotation_and_rate(files):
    good_v1 = read_recording(files["mat"], units={"quality": "good", "area": "V1"})
    assert good_v1.neuron_names == ("u0", "u1", "u3")
    either = read_recording(files["mat"], units={"area": ["V2", "V9"]})
    assert either.neuron_names == ("u2", "u4")
    # NWB: NWBIO drops the units' annotations; the units-table column 'quality' is read
    assert read_recording(files["nwb_table"], units={"quality": "mua"}).neuron_names == ("u5",)
    with pytest.warns(RecordingWarning, match=r"min_rate=5 Hz: dropped 1 of 6 unit.*u5"):
        fast = read_recording(files["mat"], min_rate=5.0)
    assert "u5" not in fast.neuron_names and len(fast.neuron_names) == 5
    with pytest.raises(ConfigError, match="Did you mean 'quality'"):
        read_recording(files["mat"], units={"qualty": "good"})
    with pytest.raises(DataError, match="no unit matches.*good.*mua"):
        read_recording(files["mat"], units={"quality": "excellent"})
    with pytest.raises(DataError, match="no unit is that fast"):
        read_recording(files["mat"], min_rate=1000.0)


# --------------------------------------------------------------------------- spike sanity


def _write(blk, path):
    if path.suffix == ".nix":
        with neo.io.NixIO(str(path), mode="ow") as io:
            io.write_block(blk)
    else:
        neo.io.NeoMatlabIO(str(path)).write_block(blk)
    return path


def _bad_file(path, times):
    """The multi-segment file with the first spike times of unit u1 of trial_1_left replaced
    by ``times`` (+ 1 s, the trial's start; written in place: Neo's constructor would refuse
    them)."""
    blk = _block(n_trials=3, n_units=2)  # small: NIX files are slow to write
    view = np.asarray(blk.segments[1].spiketrains[1].magnitude)
    view[: len(times)] = np.asarray(times) + 1.0
    return _write(blk, path), view.copy()


@pytest.mark.parametrize("name, times, match", [
    # NixIO reads it (Neo checks only the first and the last spike): checked here
    ("outside.nix", [0.1, 0.95], r"outside the spike train's recorded extent \[1, 1.8\]"),
    # NixIO refuses it; the fallback raw reader (nixio_fr) is read through raw timestamps
    ("negative.nix", [-1.3, 0.1], "Negative spike times with t_start >= 0"),
    ("nan.mat", [0.1, np.nan], "NaN or infinite"),
])
def test_bad_spike_times_are_errors_naming_the_trial(tmp_path, name, times, match):
    path, _ = _bad_file(tmp_path / name, times)
    with pytest.raises(DataError, match=match) as err:
        read_recording(path)
    assert "trial 'trial_1_left' (condition 'left'), unit 'u1'" in str(err.value)


def test_unsorted_and_duplicated_spikes_are_repaired_with_a_warning(tmp_path):
    path, stored = _bad_file(tmp_path / "unsorted.nix", [0.5, 0.3, 0.3])
    with pytest.warns(RecordingWarning) as record:
        rec = read_recording(path)
    text = " ".join(str(w.message) for w in record)
    assert "sorted for 1 unit(s): unit 'u1' in trial 'trial_1_left' (condition 'left')" in text
    assert "dropped" in text and "duplicated" in text and "'trial_1_left'" in text
    got = rec.spike_times(1, "u1") + rec.trial_offsets[1]
    np.testing.assert_allclose(got, np.unique(stored), atol=1e-12)


def test_empty_units_are_dropped_and_silent_trials_named(tmp_path):
    blk = _block()
    for seg in blk.segments:  # u5 never fires
        seg.spiketrains[5] = neo.SpikeTrain([], t_start=seg.spiketrains[0].t_start,
                                            t_stop=seg.spiketrains[0].t_stop, units="s",
                                            name="u5")
    for k in range(len(UNITS)):  # trial_2_right is silent
        st = blk.segments[2].spiketrains[k]
        blk.segments[2].spiketrains[k] = neo.SpikeTrain([], t_start=st.t_start,
                                                        t_stop=st.t_stop, units="s",
                                                        name=st.name)
    path = _write(blk, tmp_path / "empty.mat")
    with pytest.warns(RecordingWarning, match="without a spike in any trial.*u5"):
        rec = read_recording(path)
    assert "u5" not in rec.neuron_names
    with pytest.warns(RecordingWarning, match=r"no spike.*kept.*trial 'trial_2_right' "
                                              r"\(condition 'right'\)"):
        bin_and_smooth(rec, bin_size=0.01, t_start=0.0, t_stop=0.8)


# --------------------------------------------------------------------------- laziness, progress


def test_spike_trains_are_loaded_one_by_one_and_only_when_needed(files, monkeypatch):
    loaded = []
    load = _sources._Train.load

    def counting(self):
        loaded.append(self.name)
        return load(self)

    monkeypatch.setattr(_sources._Train, "load", counting)
    rec = read_recording(files["nwb_table"], condition_key="condition",
                         units={"quality": "good"})
    assert rec.n_neurons == 5
    assert sorted(set(loaded)) == ["u0", "u1", "u2", "u3", "u4"]  # u5 is never read
    assert len(loaded) == 5 * N_TRIALS  # each train once


def test_progress_bar_only_when_asked_or_on_a_terminal(files, capsys):
    read_recording(files["mat"], progress=True)
    assert "reading spike trains" in capsys.readouterr().err
    read_recording(files["mat"])  # stderr is not a terminal under pytest
    read_recording(files["mat"], progress=False)
    assert "reading spike trains" not in capsys.readouterr().err


# --------------------------------------------------------------------------- inspect


def test_inspect_lists_the_file_and_suggests_a_table_that_reads_it(files):
    summary = inspect_file(files["nwb_table"])
    text = summary.text()
    for expected in (f"segments: {N_TRIALS}", "trial_3_left", "units: 6", "quality=good", "Hz",
                     "trials", "condition (right, left)", "stim_onset (number)",
                     "markers", "labels stim, go", "[recording]"):
        assert expected in text, expected
    assert summary.suggestion["condition_key"] == "condition"
    assert summary.suggestion["align_event"] == "stim_onset"
    rates = {u["name"]: u["rate"] for u in summary.units}
    spikes = _spikes()
    assert rates["u0"] == pytest.approx(sum(len(r[0]) for r in spikes) / (N_TRIALS * TRIAL_LEN))
    assert "condition_from_name = 'trial_\\d+_(?P<condition>\\w+)'" in text
    for key in ("nwb_table", "nwb_plain", "nix_single", "mat"):
        sug = inspect_file(files[key], rates=False).suggestion
        rc = RecordingConfig(**sug)
        ds = load_binned(rc)
        assert list(dict.fromkeys(ds.condition.values)) == ["right", "left"], key


def test_cli_inspect_prints_the_report(files, capsys):
    assert main(["inspect", str(files["nix_single"]), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert 'trial_key = "trials"' in out and 'condition_key = "condition"' in out
    assert main(["inspect", str(files["nix_single"].with_name("absent.nix"))]) == 2
    assert "no such file" in capsys.readouterr().err


# --------------------------------------------------------------------------- config and CLI


def test_recording_table_keys_validate_and_round_trip(tmp_path):
    rc = RecordingConfig(condition_from_name=r"trial_\d+_(?P<condition>\w+)", align_event="go",
                         pre=0.1, post=0.3, units={"quality": "good", "area": ["V1", "V2"]},
                         min_rate=1.0)
    assert rc.window() == (-0.1, 0.3)
    assert from_dict(RecordingConfig, to_dict(rc)) == rc
    for bad, match in [
        ({"condition_from_name": "trial_(("}, "not a valid regular expression"),
        ({"condition_from_name": r"(\w+)_(\w+)"}, "none named 'condition'"),
        ({"condition_events": "cue", "condition_csv": "c.csv"}, "one source"),
        ({"pre": 0.1, "t_start": -0.1, "align_event": "go"}, "not both"),
        ({"pre": 0.1}, "set align_event"),
        ({"units": "good"}, "units"),
        ({"units": {"quality": []}}, "non-empty list"),
        ({"min_rate": -1.0}, "min_rate"),
    ]:
        with pytest.raises(ConfigError, match=match):
            RecordingConfig(**bad)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[training]\nrun_mode = "autonomous"\ntrain_initial_state = true\n'
                   'test_fraction = 0.0\n[recording]\npath = "x.nwb"\n'
                   'condition_csv = "meta/conditions.csv"\nunits = {quality = "good"}\n')
    rec = ExperimentConfig.from_toml(cfg).recording
    assert rec.condition_csv == str(tmp_path / "meta" / "conditions.csv")
    assert rec.units == {"quality": "good"}


TINY = """seed = 0
[network]
n_units = 16
tau = 0.05
[training]
mode = "bias"
run_mode = "autonomous"
train_initial_state = true
test_fraction = 0.0
window = 40
n_iterations = 10
chunk_size = 10
[recording]
path = "{path}"
{source}
align_event = "stim"
pre = 0.1
post = 0.3
units = {{quality = "good"}}
bin_size = 0.01
kernel_width = 0.02
"""


def test_cli_fits_a_multi_segment_nwb_file(files, tmp_path, capsys):
    cfg = tmp_path / "fit.toml"
    cfg.write_text(TINY.format(path=files["nwb_table"],
                               source="condition_from_name = 'trial_\\d+_(?P<condition>\\w+)'"))
    out = tmp_path / "out"
    assert main(["fit", str(cfg), "--out", str(out), "--no-progress", "--no-figures"]) == 0
    assert (out / "run.nc").is_file()
    printed = capsys.readouterr().out
    assert "left" in printed and "right" in printed


@pytest.mark.parametrize("key, source", [
    ("nix", 'condition_events = "cue"'),
    ("nwb_table", 'condition_key = "condition"'),
    ("nix", 'condition_key = "condition"'),
])
def test_each_condition_source_reads_from_the_config(files, tmp_path, key, source):
    cfg = tmp_path / "c.toml"
    cfg.write_text(TINY.format(path=files[key], source=source))
    ds = load_binned(ExperimentConfig.from_toml(cfg).recording)
    assert ds.sizes == {"trial": N_TRIALS, "time": 40, "neuron": 5}
    assert list(ds.condition.values) == CONDITIONS
