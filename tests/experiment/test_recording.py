"""Fitting recorded population activity (brainbias.experiment.recording): configs, splits, held-out
scores,
results, figures, bad input, and the ground-truth check against the teacher network."""

import dataclasses
import itertools
import pathlib

import numpy as np
import pytest

pytest.importorskip("neo")
pytest.importorskip("elephant")

from brainbias import results  # noqa: E402
from brainbias._errors import ConfigError, DataError  # noqa: E402
from brainbias.analysis.compare import procrustes_distance  # noqa: E402
from brainbias.cli import main  # noqa: E402
from brainbias.config import ExperimentConfig, RecordingConfig, from_dict  # noqa: E402
from brainbias.data.recordings import from_spike_times, read_recording  # noqa: E402
from brainbias.data.scores import co_smoothing_bits_per_spike, psth_r2, pvar  # noqa: E402
from brainbias.experiment import pipeline  # noqa: E402
from brainbias.experiment import recording as population  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
NWB = ROOT / "datasets" / "ground_truth.nwb"
TEACHER = ROOT / "datasets" / "ground_truth_teacher.npz"
CONFIGS = ROOT / "analyses" / "configs"

RECORDING_TRAINING = {"run_mode": "autonomous", "train_initial_state": True,
                      "test_fraction": 0.0}


def _config(*, recording=None, network=None, **training):
    data = {"seed": 0,
            "network": {"n_units": 24, "tau": 0.05, **(network or {})},
            "training": {**RECORDING_TRAINING, "window": 40, "n_iterations": 20,
                         "chunk_size": 10, **training},
            "recording": {"bin_size": 0.01, "kernel_width": 0.02, **(recording or {})}}
    return from_dict(ExperimentConfig, data)


def _synthetic_recording(seed=0, n_per_condition=8, n_neurons=10, duration=0.4):
    """Two conditions whose rates differ in phase: a sine and a cosine at 4 Hz (Poisson spikes
    by thinning)."""
    rng = np.random.default_rng(seed)
    peak = 40.0
    trials, conditions = [], []
    for c, label in enumerate(("sine", "cosine")):
        for _ in range(n_per_condition):
            row = []
            for n in range(n_neurons):
                t = np.sort(rng.uniform(0.0, duration, rng.poisson(peak * duration)))
                rate = 20.0 + 18.0 * np.sin(2 * np.pi * 4.0 * t + n + c * np.pi / 2)
                row.append(t[rng.uniform(0.0, peak, t.size) < rate])
            trials.append(row)
            conditions.append(label)
    return from_spike_times(trials, conditions, t_start=0.0, t_stop=duration)


@pytest.fixture(scope="module")
def synthetic():
    return _synthetic_recording()


@pytest.fixture(scope="module")
def bias_run(synthetic):
    return pipeline.run(_config(mode="bias"), recording=synthetic, progress=False)


def _untrained_scores(config, recording):
    """Overall held-out scores of the network and controller a run of ``config`` starts from
    (same seed, data and splits; before any training): {score name: overall}."""
    source = population.RecordingSource.read(config, recording)
    network, controller, _ = pipeline.build(source.config, source)
    ev = population.evaluate(network, controller, source.data,
                             split_seed=source.config.recording.split_seed)
    return {name: overall for name, (_, overall) in ev["scores"].items()}


# --------------------------------------------------------------------------- config


def test_recording_table_round_trips_and_resolves_paths_against_the_config(tmp_path):
    sub = tmp_path / "configs"
    sub.mkdir()
    text = (CONFIGS / "recording_tiny.toml").read_text()
    (sub / "c.toml").write_text(text.replace("../../datasets/ground_truth.nwb", "data/x.nwb"))
    config = ExperimentConfig.from_toml(sub / "c.toml")
    assert config.recording.path == str(sub / "data" / "x.nwb")
    assert config.recording.conditions == ("limit_cycle", "bistable")
    assert from_dict(ExperimentConfig, config.to_dict()) == config
    # an absolute path is kept; outside TOML a relative path stays relative (to the CWD)
    (sub / "d.toml").write_text(text.replace("../../datasets/ground_truth.nwb", str(NWB)))
    assert ExperimentConfig.from_toml(sub / "d.toml").recording.path == str(NWB)
    assert RecordingConfig(path="x.nwb").path == "x.nwb"


@pytest.mark.parametrize("change, match", [
    ({"targets": [{"kind": "lorenz"}]}, "either \\[\\[targets\\]\\] tables or a \\[recording\\]"),
    ({"training": {"run_mode": "closed_loop"}}, 'run_mode = "autonomous"'),
    ({"training": {"train_initial_state": False}}, "train_initial_state = true"),
    ({"training": {"test_fraction": 0.2}}, "test_fraction = 0.0"),
    ({"recording": {"test_trial_fraction": 0.0}}, "held-out trials and neurons"),
    ({"recording": {"test_neuron_fraction": 1.0}}, "test_neuron_fraction"),
    ({"recording": {"conditions": ["a", "a"]}}, "unique"),
    ({"recording": {"conditions": "a"}}, "expected tuple"),
    ({"recording": {"t_start": 1.0, "t_stop": 0.5}}, "greater than t_start"),
    ({"recording": {"bin_sise": 0.01}}, "Did you mean 'bin_size'"),
    ({"recording": {"soft_normalise": -1.0}}, "non-negative"),
])
def test_bad_recording_configs_are_config_errors(change, match):
    data = {"training": dict(RECORDING_TRAINING), "recording": {"path": "x.nwb"}}
    for key, value in change.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    with pytest.raises(ConfigError, match=match):
        from_dict(ExperimentConfig, data)


def test_window_must_cover_the_whole_analysis_window(synthetic):
    with pytest.raises(ConfigError, match="Set window = 40"):
        pipeline.run(_config(window=39), recording=synthetic, progress=False)


def test_unknown_condition_is_a_config_error_with_a_suggestion(synthetic):
    rec = RecordingConfig(conditions=("sine", "cosin"))
    with pytest.raises(ConfigError, match="no condition 'cosin'.*Did you mean 'cosine'"):
        population.load_binned(rec, synthetic)
    with pytest.raises(ConfigError, match="expected a brainbias.data.recordings.Recording"):
        population.load_binned(RecordingConfig(), recording=[[0.1]])
    with pytest.raises(ConfigError, match="no file given"):
        population.load_binned(RecordingConfig())


# --------------------------------------------------------------------------- CLI: bad input


def _write_config(tmp_path, **replace):
    text = (CONFIGS / "recording_tiny.toml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "c.toml"
    path.write_text(text.replace("../../datasets/ground_truth.nwb", str(NWB)))
    return path


def test_cli_missing_recording_file_exits_2(tmp_path, capsys):
    cfg = _write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace(str(NWB), "nowhere/missing.nwb"))
    assert main(["fit", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "file not found" in err and str(tmp_path / "nowhere" / "missing.nwb") in err
    assert "Traceback" not in err
    assert not (tmp_path / "o" / "run.nc").exists()


def test_cli_unknown_condition_and_targets_plus_recording_exit_2(tmp_path, capsys):
    cfg = _write_config(tmp_path, **{'"bistable"]': '"bistabel"]'})
    assert main(["fit", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no condition 'bistabel'" in err and "Did you mean 'bistable'" in err
    cfg = _write_config(tmp_path)
    cfg.write_text(cfg.read_text() + '\n[[targets]]\nkind = "lorenz"\n')
    assert main(["fit", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "not both" in capsys.readouterr().err


# --------------------------------------------------------------------------- pieces


def _binned(synthetic, **rec):
    rec = RecordingConfig(**rec)
    return population.load_binned(rec, synthetic), rec


@pytest.mark.parametrize("loss", ["mse", "poisson"])
@pytest.mark.parametrize("soft", [True, 10.0, False])
def test_fit_units_and_hz_are_inverse_maps(synthetic, loss, soft):
    binned, rec = _binned(synthetic, soft_normalise=soft)
    data = population.prepare(binned, rec, loss=loss)
    hin = data.held_in
    y = data.to_fit_units(data.train_psth[..., hin], data.train_mean_counts[..., hin])
    if loss == "mse":
        # float64 round trip of an affine map
        np.testing.assert_allclose(data.to_hz(y), data.train_psth[..., hin], rtol=1e-12,
                                   atol=1e-9)
        # normalisation from the training trials only: targets have zero mean per neuron
        np.testing.assert_allclose(y.mean(axis=(0, 1)), 0.0, atol=1e-12)
        if soft is not False:
            c = 5.0 if soft is True else soft
            rng_ = data.train_psth.max(axis=(0, 1)) - data.train_psth.min(axis=(0, 1))
            np.testing.assert_allclose(data.scale, rng_ + c, rtol=1e-12)
    else:
        # expected counts = scale · softplus(y): the scaled targets average ln 2 per neuron,
        # i.e. a zero output predicts the neuron's mean count
        np.testing.assert_allclose(data.to_hz(y) * data.bin_size,
                                   data.train_mean_counts[..., hin], rtol=1e-12)
        np.testing.assert_allclose(y.mean(axis=(0, 1)), np.log(2.0), rtol=1e-12)
    targets = data.targets()
    assert [t.name for t in targets] == ["sine", "cosine"]
    for c, t in enumerate(targets):
        # row 0 repeats bin 0 (never scored); rows 1… are the bins
        assert t.n_steps == data.n_bins + 1 and t.kind == "recording" and t.dt == 0.01
        np.testing.assert_array_equal(t.outputs[1:], y[c])
        np.testing.assert_array_equal(t.outputs[0], y[c, 0])


def test_prepare_keeps_only_the_chosen_conditions(synthetic):
    binned, _ = _binned(synthetic)
    data = population.prepare(binned, RecordingConfig(conditions=("cosine",)))
    assert data.conditions == ("cosine",) and data.train_psth.shape[0] == 1
    assert set(data.trial_conditions) == {"cosine"} and data.binned.sizes["trial"] == 8
    assert len(data.train_trials) + len(data.test_trials) == 8


def test_splits_are_seeded_stratified_and_disjoint(synthetic):
    binned, rec = _binned(synthetic)
    a = population.prepare(binned, rec)
    b = population.prepare(binned, rec)
    c = population.prepare(binned, dataclasses.replace(rec, split_seed=1))
    np.testing.assert_array_equal(a.test_trials, b.test_trials)
    np.testing.assert_array_equal(a.held_out, b.held_out)
    assert not (np.array_equal(a.test_trials, c.test_trials)
                and np.array_equal(a.held_out, c.held_out))
    cond = a.trial_conditions
    # 25 % of 8 trials per condition = 2 held out per condition; 25 % of 10 neurons → 2 (round)
    assert [int(np.sum(cond[a.test_trials] == k)) for k in ("sine", "cosine")] == [2, 2]
    assert len(a.held_out) == 2 and not set(a.held_out) & set(a.held_in)
    assert not set(a.test_trials) & set(a.train_trials)
    assert len(a.train_trials) + len(a.test_trials) == 16


def test_co_smoothing_readout_recovers_a_linear_population():
    """Held-out neurons whose true rates are a linear function of the unit rates: the ridge
    readout fitted on noisy training trials must predict the truth."""
    import xarray as xr

    rng = np.random.default_rng(3)
    n_ctx, n_time, n_units, n_neurons, n_trials = 3, 60, 8, 12, 40
    t = np.arange(n_time) * 0.01
    units = np.stack([np.tanh(np.sin(2 * np.pi * (1 + c) * t[:, None] + rng.normal(size=n_units)))
                      for c in range(n_ctx)])
    mixing = rng.normal(size=(n_units, n_neurons)) * 8.0
    truth = 30.0 + units @ mixing  # Hz, positive: min over the construction below
    truth = np.clip(truth, 2.0, None)
    cond = np.repeat(np.arange(n_ctx), n_trials)
    counts = rng.poisson(truth[cond] * 0.01)
    binned = xr.Dataset(
        {"counts": (("trial", "time", "neuron"), counts),
         "rates": (("trial", "time", "neuron"), truth[cond] + rng.normal(size=counts.shape))},
        coords={"trial": np.arange(len(cond)), "condition": ("trial", [f"c{k}" for k in cond]),
                "time": t, "neuron": [f"n{k}" for k in range(n_neurons)]},
        attrs={"bin_size": 0.01})
    data = population.prepare(binned, RecordingConfig(test_neuron_fraction=0.5), loss="mse")
    ro = population.fit_heldout_readout(units, data, seed=0)
    pred = ro["predict"](units)
    true_out = truth[..., data.held_out]
    # clipping at 2 Hz makes the truth slightly nonlinear; the readout must still explain
    # nearly all of it (measured R² ≈ 0.99)
    assert psth_r2(true_out, pred).overall > 0.95
    assert ro["weights"].shape == (len(data.held_out), n_units)
    assert np.all(pred >= ro["floor"])


# --------------------------------------------------------------------------- a whole run


def test_run_results_are_consistent_and_round_trip(bias_run, synthetic, tmp_path):
    ds = bias_run
    assert results.is_recording_run(ds)
    assert list(ds.context.values) == ["sine", "cosine"]
    assert ds.sizes["neuron"] == 10 and ds.sizes["trial"] == 16
    held_out = ds.neuron_held_out.values
    assert list(ds.output.values) == list(ds.neuron.values[~held_out])
    np.testing.assert_allclose(ds.time.values, 0.005 + 0.01 * np.arange(40), atol=1e-12)
    # the stored scores are those of the stored arrays
    d, m, b = (ds[v].values[..., ~held_out] for v in ("psth_data", "psth_model",
                                                       "psth_baseline"))
    assert float(ds.psth_r2_overall) == pytest.approx(psth_r2(d, m).overall, abs=1e-12)
    assert float(ds.psth_r2_baseline_overall) == pytest.approx(psth_r2(d, b).overall, abs=1e-12)
    assert float(ds.pvar_overall) == pytest.approx(pvar(d, m), abs=1e-12)
    np.testing.assert_allclose(ds.pvar.values, [pvar(d[c], m[c]) for c in range(2)], atol=1e-12)
    # held-in model PSTH = the network output mapped back to Hz; target = held-out trials
    sc = ds.normalisation_scale.values[~held_out]
    off = ds.normalisation_offset.values[~held_out]
    np.testing.assert_allclose(ds.prediction.values * sc + off, m, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ds.target.values * sc + off, d, rtol=1e-10, atol=1e-10)
    # co-smoothing: recomputed from the stored readout and rates on the held-out trials
    w = ds.co_smoothing_weights.values[held_out]
    rates = ds.rates.values.astype(float)  # stored float32: readout recomputed to ~1e-6
    pred = rates @ w.T + ds.co_smoothing_intercept.values[held_out]
    above = pred > 1.0  # the readout's floor (1 % of a ~20 Hz mean rate) is below 1 Hz
    np.testing.assert_allclose(pred[above], ds.psth_model.values[..., held_out][above],
                               rtol=1e-4, atol=1e-4)
    test = ds.trial_test.values
    assert int(test.sum()) == 4
    # the network's weights are untouched in mode="bias" (the fixed readout is the network's)
    assert "trained_readout_weights" not in ds
    path = results.save(ds, tmp_path / "run.nc")
    back = results.load(path)
    for name in results.RECORDING_VARIABLES:
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    text = population.summary_table(back)
    assert "NRMSE" in text and "overall" in text and "base" in text
    # even 20 iterations of bias training lift the held-out PSTH R² well above the untrained
    # network's: measured -0.12 vs -0.89 (pVar -0.02 vs -0.63); the bar is +0.3
    untrained = _untrained_scores(_config(mode="bias"), synthetic)
    assert float(ds.psth_r2_overall) > untrained["psth_r2"] + 0.3, untrained
    assert float(ds.pvar_overall) > untrained["pvar"] + 0.3, untrained


def test_schema_requires_all_recording_variables(bias_run):
    from brainbias._errors import SchemaError

    with pytest.raises(SchemaError, match="missing \\['pvar'\\]"):
        results.validate(bias_run.drop_vars("pvar"))
    with pytest.raises(SchemaError, match="psth_model"):
        results.validate(bias_run.assign(psth_model=bias_run.psth_model.isel(context=0)))


@pytest.mark.parametrize("mode, loss", [("bias+readout", "mse"), ("bias", "poisson"),
                                        ("bias+readout", "poisson")])
def test_both_readout_modes_and_losses_fit(synthetic, mode, loss, tmp_path):
    config = _config(mode=mode, loss=loss, n_iterations=200, learning_rate=0.03, chunk_size=100)
    ds = pipeline.run(config, recording=synthetic, progress=False, out_dir=tmp_path,
                      figures=mode == "bias+readout" and loss == "mse")
    assert ("trained_readout_weights" in ds) == (mode == "bias+readout")
    assert ds.attrs["recording_loss"] == loss
    # 200 iterations must reduce the training loss (the loss is per output and bin)
    assert np.all(ds.loss.values[-10:].mean(0) < ds.loss.values[:10].mean(0))
    # the network's PSTH is positive for Poisson (softplus link) and the scores are finite
    if loss == "poisson":
        assert np.all(ds.psth_model.values > 0)
    for name in population.RECORDING_SCORES:
        assert np.isfinite(float(ds[f"{name}_overall"]))
    # held-out trials: the fit's PSTH R² and pVar at least 0.1 above those of the untrained
    # network it started from. Measured (fit vs untrained), PSTH R²: bias+readout/mse 0.34
    # vs -0.89, bias/poisson 0.05 vs -0.18, bias+readout/poisson 0.36 vs -0.18; pVar: 0.44 vs
    # -0.63, 0.13 vs -0.07, 0.44 vs -0.07 (smallest gain +0.20)
    untrained = _untrained_scores(config, synthetic)
    for name in ("psth_r2", "pvar"):
        assert float(ds[f"{name}_overall"]) > untrained[name] + 0.1, (name, untrained)
    # held-out neurons: their rates swing 20 ± 18 Hz, and the fit's unit rates predict them,
    # co-smoothing bits/spike measured 0.22 / 0.19 / 0.23 (a network on spikes without signal,
    # constant 20 Hz, scores -0.007). The untrained network also scores 0.22 here: the
    # co-smoothing readout is fitted in both cases, so this score does not rank fit vs no fit
    assert float(ds.co_bps_overall) > 0.1
    if mode == "bias+readout" and loss == "mse":
        for name in ("loss.png", "heldout_metrics.png", "latents_pca.png", "psth_sine.png",
                     "psth_cosine.png"):
            assert (tmp_path / name).stat().st_size > 0


# --------------------------------------------------------------------------- ground truth


@pytest.fixture(scope="module")
def shipped():
    if not NWB.is_file() or not TEACHER.is_file():
        pytest.fail("datasets/ground_truth.nwb or its teacher file is missing: run "
                    "datasets/make_ground_truth.py")
    return read_recording(NWB, trial_key="trials", align_event="stimulus_onset")


@pytest.fixture(scope="module")
def teacher_latents():
    """The teacher's unit rates tanh(x) averaged over each condition's 20 trials, in 10 ms bins
    over [0, 1] s after onset, projected on the row space of its readout (the part of its
    state the recorded neurons see): (condition name → (time, 100))."""
    import jax
    import jax.numpy as jnp

    with np.load(TEACHER, allow_pickle=False) as f:
        t = {k: f[k] for k in f.files}
    w = jnp.asarray(t["recurrent_weights"], dtype=jnp.float64)
    a = float(t["dt"]) / float(t["tau"])
    n_base = round(float(t["baseline_duration"]) / float(t["dt"]))
    n_resp = round(float(t["response_duration"]) / float(t["dt"]))
    cond = t["trial_condition"]
    base = jnp.asarray(t["baseline_bias"], dtype=jnp.float64)
    resp = jnp.asarray(t["condition_bias"], dtype=jnp.float64)[cond]

    def step(x, k):
        b = jnp.where(k < n_base, base[None, :], resp)
        x = x + a * (-x + jnp.tanh(x) @ w.T + b)
        return x, jnp.tanh(x)

    _, r = jax.lax.scan(step, jnp.asarray(t["trial_initial_state"], dtype=jnp.float64),
                        jnp.arange(n_base + n_resp))
    r = np.asarray(r).transpose(1, 0, 2)[:, n_base:]  # state after each step from onset
    r = r.reshape(r.shape[0], 100, -1, r.shape[2]).mean(axis=2)
    basis = _row_space(t["readout_weights"].astype(np.float64))
    names = [str(c) for c in t["conditions"]]
    return {c: r[cond == k].mean(axis=0) @ basis for k, c in enumerate(names)}


def _row_space(readout):
    q, _ = np.linalg.qr(readout.T)
    return q


def _fitted_latents(ds):
    readout = ds["trained_readout_weights"] if "trained_readout_weights" in ds \
        else ds["readout_weights"]
    return ds["rates"].transpose("context", "time", "unit").values.astype(float) \
        @ _row_space(readout.values.astype(float))


def _latent_comparison(ds, teacher):
    """Procrustes distance (5 PCs each) between the fitted and the teacher's observable latent
    trajectories, all conditions concatenated in the fit's order, and two controls:
    every other assignment of the teacher's conditions to the fitted ones (23 relabelings),
    and 20 within-condition time shuffles of the fitted trajectories (seeded)."""
    names = [str(c) for c in ds.context.values]
    fitted = _fitted_latents(ds)
    ours = np.concatenate(list(fitted))

    def dist(blocks):
        return procrustes_distance(ours, np.concatenate(blocks), n_components=5)

    matched = dist([teacher[c] for c in names])
    relabeled = [dist([teacher[names[k]] for k in p])
                 for p in itertools.permutations(range(len(names)))
                 if p != tuple(range(len(names)))]
    rng = np.random.default_rng(0)
    shuffled = [procrustes_distance(np.concatenate(list(fitted[:, rng.permutation(
        fitted.shape[1])])), np.concatenate([teacher[c] for c in names]), n_components=5)
        for _ in range(20)]
    return matched, np.array(relabeled), np.array(shuffled)


def _late_variability(latents):
    """RMS distance from the mean over the last 0.5 s, per condition (oscillation vs rest)."""
    late = latents[:, 50:]
    return np.sqrt(((late - late.mean(axis=1, keepdims=True)) ** 2).sum(-1).mean(1))


def _ground_truth_config(mode, n_units, n_iterations):
    return _config(mode=mode, network={"n_units": n_units, "connectivity": {"gain": 1.5}},
                   recording={"path": str(NWB), "trial_key": "trials",
                              "align_event": "stimulus_onset", "t_start": 0.0, "t_stop": 1.0},
                   window=100, n_iterations=n_iterations, learning_rate=0.03, chunk_size=250)


@pytest.mark.slow
def test_ground_truth_bias_and_readout_fit_recovers_the_teacher(shipped, teacher_latents):
    """Bias + trained readout, 150 units, 1500 iterations (~15 s).

    Bar (a), held-out data: PSTH R², pVar and co-smoothing bits/spike all above the smoothed-
    PSTH baseline — the fit must denoise, not just copy the training trials' PSTH (measured
    0.44 / 0.64 / 0.229 vs baseline 0.35 / 0.58 / 0.203; the teacher's own rates score
    0.52 / 0.68 / 0.257, datasets/README.md, all neurons).
    Bar (b), the latent picture: the fitted network's observable latent trajectories match the
    teacher's (Procrustes, 5 PCs; measured 0.09) better than under every one of the 23 other
    condition assignments (best 0.15) and every one of 20 time shuffles (best 0.47) — a
    permutation test at p = 1/24; and the attractor types: the two conditions whose teacher
    trials end on limit cycles keep moving in the last 0.5 s at least twice as much as the two
    that settle on fixed points (measured ≥ 2.8×; the teacher's ratio is far larger).
    """
    cfg = _ground_truth_config("bias+readout", 150, 1500)
    ds = pipeline.run(cfg, recording=shipped, progress=False)
    for name in population.RECORDING_SCORES:
        assert float(ds[f"{name}_overall"]) > float(ds[f"{name}_baseline_overall"]), name
    matched, relabeled, shuffled = _latent_comparison(ds, teacher_latents)
    assert matched < relabeled.min(), (matched, np.sort(relabeled)[:3])
    assert matched < shuffled.min(), (matched, shuffled.min())
    names = [str(c) for c in ds.context.values]
    late = dict(zip(names, _late_variability(_fitted_latents(ds)), strict=True))
    teacher_late = dict(zip(names, _late_variability(np.stack([teacher_latents[c]
                                                               for c in names])), strict=True))
    cycles, fixed = ("limit_cycle", "bistable_cycles"), ("fixed_point", "bistable")
    assert min(teacher_late[c] for c in cycles) > 10 * max(teacher_late[c] for c in fixed)
    assert min(late[c] for c in cycles) > 2 * max(late[c] for c in fixed), late


@pytest.mark.slow
def test_ground_truth_bias_only_fit_clears_the_bar(shipped, teacher_latents):
    """Biases (and initial states) only, fixed random readout, 200 units, 3000 iterations
    (~20 s).

    Bar (a): PSTH R² at least 80 % of the baseline's and co-smoothing bits/spike above the
    baseline's (measured 0.33 vs 0.35 — 93 % — and 0.210 vs 0.203: at this budget the bias-only
    fit is a little smoother than the data but not yet better; the demo's 8000 iterations
    reach 0.38 vs 0.35). Bar (b): the latent trajectories match the teacher's better than every
    one of 20 time shuffles (measured 0.25 vs best 0.42) and better than a typical condition
    relabeling (median of the 23; measured 0.53). Against *every* relabeling the margin is only
    0.01–0.03 at this budget (the swap of fixed_point and bistable, which differ only in the
    teacher's population B, comes closest), so that stricter test is made on the bias +
    readout fit above.
    """
    cfg = _ground_truth_config("bias", 200, 3000)
    ds = pipeline.run(cfg, recording=shipped, progress=False)
    r2, r2_base = float(ds.psth_r2_overall), float(ds.psth_r2_baseline_overall)
    assert r2 > 0.8 * r2_base, (r2, r2_base)
    assert float(ds.co_bps_overall) > float(ds.co_bps_baseline_overall) > 0
    assert float(ds.pvar_overall) > 0.8 * float(ds.pvar_baseline_overall)
    matched, relabeled, shuffled = _latent_comparison(ds, teacher_latents)
    assert matched < shuffled.min(), (matched, shuffled.min())
    assert matched < np.median(relabeled), (matched, np.median(relabeled))
    assert (relabeled > matched).sum() >= 20, np.sort(relabeled)[:4]
    # bias-only leaves the random network untouched: the stored weights are those drawn
    import jax

    from brainbias import make_network

    k_net = jax.random.split(jax.random.PRNGKey(cfg.seed), 3)[0]
    net = make_network(200, n_outputs=ds.sizes["output"], connectivity=cfg.network.connectivity,
                       dt=0.01, tau=0.05, key=k_net, dtype=np.float32)
    np.testing.assert_array_equal(ds.recurrent_weights.values,
                                  np.asarray(net.recurrent_weights, dtype=np.float64))


def test_baseline_scores_match_the_dataset_readme(shipped):
    """The evaluation protocol here is the one datasets/README.md states its reference numbers
    for: the baseline's co-smoothing bits/spike on these held-out neurons is 0.203 there (all 100
    neurons' split, seed 0)."""
    rec = RecordingConfig(t_start=0.0, t_stop=1.0)
    binned = population.load_binned(rec, shipped)
    data = population.prepare(binned, rec)
    k = binned.counts.values[data.test_trials][..., data.held_out]
    cond = data.trial_conditions
    base = np.stack([data.train_psth[data.conditions.index(c)] for c in cond[data.test_trials]])
    bps = co_smoothing_bits_per_spike(k, base[..., data.held_out], bin_size=0.01).overall
    # the README's value for the same file, split and window, to its 3 printed digits
    assert bps == pytest.approx(0.203, abs=0.0015)
    with pytest.raises(DataError, match="file not found"):
        population.load_binned(RecordingConfig(path=str(NWB) + ".missing"))
