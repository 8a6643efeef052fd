"""The CLI: smoke runs of every *_tiny.toml (with the numbers of each run checked), and user
errors as messages with exit code 2."""

import re
from pathlib import Path

import numpy as np
import pytest

from brainbias import results
from brainbias.cli import main
from brainbias.config import ExperimentConfig
from brainbias.experiment import pipeline

CONFIGS = Path(__file__).parents[1] / "analyses" / "configs"
TINY = sorted(CONFIGS.glob("*_tiny.toml"))


def _initial(config, ds):
    """The network and the initial (untrained) controller the run started from, rebuilt from
    the config's seed (:func:`brainbias.experiment.pipeline.build`)."""
    source = pipeline.source_of(config)
    tau = float(ds.attrs.get("initial_tau", ds.attrs["tau"]))  # the τ the fit started from
    network, controller, _ = pipeline.build(source.config, source, tau=tau)
    return network, controller


def exp_model(config):
    return ExperimentConfig.from_toml(config).network.model


def _rows(text, names):
    """The first printed row of each of ``names``: its cells (columns are 2+ spaces apart)."""
    rows = {}
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] in names and cells[0] not in rows:
            rows[cells[0]] = cells
    assert sorted(rows) == sorted(names), (sorted(rows), text)
    return rows


def _check_printed(cell, value, decimals):
    """``cell`` is ``value`` printed with ``decimals`` decimals ("—" for NaN)."""
    if not np.isfinite(value):
        assert cell == "—", (cell, value)
    else:
        # printing rounds: at most half a unit of the last printed digit (+ float slack)
        assert float(cell) == pytest.approx(float(value), abs=0.5 * 10.0 ** -decimals + 1e-12)


def _check_target_table(text, ds):
    contexts = [str(c) for c in ds.context.values]
    for c, cells in _rows(text, contexts).items():
        d = ds.sel(context=c)
        assert cells[1] == str(d.target_kind.values)
        for cell, name, decimals in zip(cells[2:], ("nrmse", "valid_prediction_steps",
                                                     "valid_prediction_lyapunov_times",
                                                     "period_error", "amplitude_error"),
                                        (3, 0, 2, 3, 3), strict=True):
            _check_printed(cell, float(d[name]), decimals)


def _check_recording_table(text, ds):
    contexts = [str(c) for c in ds.context.values]
    scores = ("psth_r2", "pvar", "co_bps")
    for c, cells in _rows(text, contexts + ["overall"]).items():
        if c == "overall":  # no NRMSE column
            pairs, model, base = cells[1:], [f"{s}_overall" for s in scores], \
                [f"{s}_baseline_overall" for s in scores]
            sel = {}
        else:
            _check_printed(cells[1], float(ds.nrmse.sel(context=c)), 3)
            pairs, model, base = cells[2:], scores, [f"{s}_baseline" for s in scores]
            sel = {"context": c}
        assert len(pairs) == 3, cells
        for pair, m, b in zip(pairs, model, base, strict=True):
            printed_model, printed_base = pair.split(" / ")
            _check_printed(printed_model, float(ds[m].sel(sel)), 3)
            _check_printed(printed_base, float(ds[b].sel(sel)), 3)


@pytest.mark.parametrize("config", TINY, ids=lambda p: p.name)
def test_tiny_configs_smoke_run(config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["fit", str(config), "--out", str(out), "--no-progress"]) == 0
    ds = results.load(out / "run.nc")
    assert ds.sizes["context"] >= 1
    printed = capsys.readouterr().out
    assert "NRMSE" in printed and str(out / "run.nc") in printed
    assert (out / "loss.png").exists()
    assert main(["summary", str(out / "run.nc")]) == 0
    summary = capsys.readouterr().out
    # the table printed after the fit (from memory) is the one printed from the file
    assert printed.split("\nresults: ")[0] + "\n" == summary
    # ... and its numbers are the file's
    if results.is_recording_run(ds):
        _check_recording_table(summary, ds)
        for name, dims in results.RECORDING_VARIABLES.items():
            assert ds[name].dims == dims, name
    else:
        _check_target_table(summary, ds)
    # the schema's variables with their dimensions
    for name, dims in {**results.VARIABLES,
                       **results.MODEL_VARIABLES[exp_model(config)]}.items():
        assert ds[name].dims == dims, name
    for name in results.METRICS:
        assert ds[name].dims == ("context",), name

    exp = ExperimentConfig.from_toml(config)
    network, initial = _initial(exp, ds)
    # the fixed network is the one drawn from the seed, untouched by training (all tiny
    # configs keep the weights fixed; a trained readout is stored on its own)
    assert ds.attrs["model"] == network.family == exp.network.model
    for name in network.array_dims:
        np.testing.assert_array_equal(ds[name].values,
                                      np.asarray(getattr(network, name), dtype=np.float64))
    mode = ds.attrs["mode"]
    if mode == "readout":
        # the reservoir baseline trains the readout only: biases and initial state bit-identical
        np.testing.assert_array_equal(ds.bias.values, np.asarray(initial.bias, dtype=float))
        assert ds.sizes["iteration"] == 0  # ridge regression, no iterations
        assert np.abs(ds.trained_readout_weights.values - ds.readout_weights.values).max() > 0.1
        # the ridge readout fits the limit cycle: free-running NRMSE@20 measured 0.195; the
        # untrained readout of the same network measures 9.6 (far above 1 = predicting the mean)
        assert float(ds.nrmse.max()) < 0.5
    else:
        # the trained biases moved away from their initial draw: max change measured 0.10-0.17
        # after 20 iterations (on an initial scale of max |b| = 0.24); 0.01 is 10x below that
        assert np.abs(ds.bias.values - np.asarray(initial.bias, dtype=float)).max() > 0.01
        # training lowered the loss: mean over the last chunk below the first, every context.
        # Measured first -> last (chunk of 10 iterations): demo lorenz 1.86 -> 1.09,
        # van_der_pol 0.77 -> 0.46; forecast 1.97 -> 1.86; recording 0.068 -> 0.058,
        # 0.085 -> 0.053; timescales 0.094 -> 0.060, 0.081 -> 0.054
        chunk = exp.training.chunk_size
        loss = ds.loss.values
        assert loss.shape[0] == exp.training.n_iterations and np.all(np.isfinite(loss))
        assert np.all(loss[-chunk:].mean(axis=0) < loss[:chunk].mean(axis=0)), loss
    x0_moved = np.abs(ds.initial_state.values - np.asarray(initial.initial_state, dtype=float))
    if exp.training.train_initial_state:
        assert x0_moved.max() > 0.01  # measured 0.10 (recording), 0.13 (timescales)
    else:
        assert x0_moved.max() == 0.0


def test_existing_output_is_refused_unless_force(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["fit", str(CONFIGS / "readout_tiny.toml"), "--out", str(out), "--no-progress",
            "--no-figures"]
    assert main(args) == 0
    before = (out / "run.nc").read_bytes()
    assert main(args) == 2
    assert "exists" in capsys.readouterr().err
    assert (out / "run.nc").read_bytes() == before  # nothing lost
    assert main(args + ["--force"]) == 0


def test_user_errors_exit_2_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[trainnig]\nmode = "bias"\n[[targets]]\nkind = "lorenz"\n')
    assert main(["fit", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'training'" in err and "Traceback" not in err
    assert main(["fit", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["fit", str(CONFIGS / "readout_tiny.toml"), "--out", str(blocker / "o")]) == 2
    assert "cannot create output folder" in capsys.readouterr().err
    assert main(["summary", str(tmp_path / "missing.nc")]) == 2


def test_bad_target_config_is_a_user_error(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[network]\ntau = 0.01\n[[targets]]\nkind = "lorenz"\nn_steps = 300\n'
                   'dt = 0.02\n')
    assert main(["fit", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "dt=0.02 > tau=0.01" in capsys.readouterr().err
    cfg.write_text('[[targets]]\nkind = "lorenzz"\nn_steps = 300\n')
    assert main(["fit", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "lorenz" in capsys.readouterr().err


def test_model_option_switches_the_family_and_says_what_it_dropped(tmp_path, capsys):
    out = tmp_path / "ltc"
    args = ["fit", str(CONFIGS / "demo_tiny.toml"), "--out", str(out), "--no-progress",
            "--no-figures", "--model", "ltc"]
    assert main(args) == 0
    ds = results.load(out / "run.nc")
    assert ds.attrs["model"] == "ltc" and "synapse_weight" in ds and "recurrent_weights" not in ds
    assert ExperimentConfig.from_toml(CONFIGS / "demo_tiny.toml").network.model == "rate"
    # back to rate from an LTC config: the [network.ltc] table is dropped, and a line says so
    capsys.readouterr()
    assert main(["fit", str(CONFIGS / "ltc_tiny.toml"), "--out", str(tmp_path / "rate"),
                 "--no-progress", "--no-figures", "--model", "rate"]) == 0
    printed = capsys.readouterr().out
    assert "--model rate: ignoring the ltc family's [network] keys ltc" in printed
    assert results.load(tmp_path / "rate" / "run.nc").attrs["model"] == "rate"
    with pytest.raises(SystemExit) as exc:  # argparse: exit 2 with the choices
        main(["fit", str(CONFIGS / "demo_tiny.toml"), "--out", str(tmp_path / "x"),
              "--model", "ltcc"])
    assert exc.value.code == 2
    assert "invalid choice: 'ltcc' (choose from 'rate', 'ltc')" in capsys.readouterr().err
