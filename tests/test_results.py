"""Results files: exact round trip, validation, rebuild and re-simulate."""

import json

import numpy as np
import pytest
import xarray as xr

from brainbias import ConfigError, DataError, SchemaError, results
from brainbias.config import ExperimentConfig, from_dict
from brainbias.experiment.pipeline import run


@pytest.fixture(scope="module")
def ds():
    config = from_dict(ExperimentConfig, {
        "seed": 3,
        "network": {"n_units": 24, "tau": 0.1},
        "training": {"n_iterations": 10, "chunk_size": 5, "batch_size": 2, "window": 15,
                     "washout": 5, "dtype": "float64"},
        "evaluation": {"washout": 5, "horizon": 10},
        "targets": [{"kind": "lorenz", "n_steps": 300, "dt": 0.02},
                    {"kind": "stuart_landau", "name": "hopf", "n_steps": 300, "dt": 0.02}],
    })
    return run(config, progress=False)


def test_round_trip_is_exact(ds, tmp_path):
    path = results.save(ds, tmp_path / "run.nc")
    xr.testing.assert_identical(results.load(path), ds)


def test_results_hold_what_rebuilds_the_run(ds):
    for name in results.VARIABLES:
        assert name in ds
    assert json.loads(ds.attrs["config"])["seed"] == 3
    assert ds.attrs["seed"] == 3
    assert "jax" in json.loads(ds.attrs["versions"])
    assert list(ds["context"].values) == ["lorenz", "hopf"]


def test_rebuilt_network_resimulates_the_prediction(ds):
    network = results.network_from_dataset(ds)
    controller = results.controller_from_dataset(ds)
    # re-run the evaluation of context 0 by hand: warm-up on the held-out target, then free run
    from brainbias.config import EvaluationConfig, TrainingConfig
    from brainbias.data.targets import make_target
    from brainbias.experiment.pipeline import evaluate

    cfg = json.loads(ds.attrs["config"])
    targets = [make_target(t) for t in cfg["targets"]]
    ev = evaluate(network, controller, targets, TrainingConfig(**cfg["training"]),
                  EvaluationConfig(**cfg["evaluation"]))
    np.testing.assert_allclose(ev["prediction"], ds["prediction"].values, rtol=1e-12)


def test_save_refuses_existing_file_and_bad_folder(ds, tmp_path):
    path = results.save(ds, tmp_path / "run.nc")
    with pytest.raises(ConfigError, match="exists"):
        results.save(ds, path)
    results.save(ds, path, force=True)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot create output folder"):
        results.save(ds, blocker / "sub" / "run.nc")


def test_load_refuses_unknown_schema_and_non_results(ds, tmp_path):
    future = ds.copy()
    future.attrs["schema_version"] = 99
    future.to_netcdf(tmp_path / "future.nc", engine="h5netcdf")
    with pytest.raises(SchemaError, match="schema version 99 is not supported"):
        results.load(tmp_path / "future.nc")
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(tmp_path / "other.nc", engine="h5netcdf")
    with pytest.raises(SchemaError, match="not a brainbias results file"):
        results.load(tmp_path / "other.nc")
    (tmp_path / "garbage.nc").write_bytes(b"not netcdf")
    with pytest.raises(DataError, match="not a readable NetCDF"):
        results.load(tmp_path / "garbage.nc")
    with pytest.raises(DataError, match="not found"):
        results.load(tmp_path / "missing.nc")
    broken = ds.drop_vars("bias")
    with pytest.raises(SchemaError, match="missing variable 'bias'"):
        results.validate(broken)


def test_select_context_suggests_names(ds):
    with pytest.raises(ConfigError, match="Did you mean 'lorenz'"):
        results.select_context(ds, "lorenzz")


@pytest.fixture(scope="module")
def ds_tau():
    """A bias+tau run: biases and one global time constant trained together."""
    config = from_dict(ExperimentConfig, {
        "seed": 4,
        "network": {"n_units": 20, "tau": 0.1},
        "training": {"mode": "bias+tau", "n_iterations": 20, "chunk_size": 10, "batch_size": 2,
                     "window": 15, "washout": 5, "dtype": "float64", "learning_rate": 0.05},
        "evaluation": {"washout": 5, "horizon": 10},
        "targets": [{"kind": "stuart_landau", "name": "hopf", "n_steps": 300, "dt": 0.02}],
    })
    return run(config, progress=False)


def test_bias_and_tau_run_round_trips_and_rebuilds_exactly(ds_tau, tmp_path):
    path = results.save(ds_tau, tmp_path / "run.nc")
    back = results.load(path)
    xr.testing.assert_identical(back, ds_tau)
    assert back.attrs["mode"] == "bias+tau" and back.attrs["initial_tau"] == 0.1
    theta = float(back["trained_leak_logit"])
    # the stored τ is the fitted one: dt / sigmoid(θ), and it moved from the start
    assert back.attrs["tau"] == pytest.approx(0.02 * (1 + np.exp(-theta)), rel=1e-12)
    assert back.attrs["tau"] != 0.1
    network = results.network_from_dataset(back)
    controller = results.controller_from_dataset(back)
    assert network.tau == back.attrs["tau"] and float(controller.leak_logit) == theta
    from brainbias.config import EvaluationConfig, TrainingConfig
    from brainbias.data.targets import make_target
    from brainbias.experiment.pipeline import evaluate

    cfg = json.loads(back.attrs["config"])
    targets = [make_target(t) for t in cfg["targets"]]
    ev = evaluate(network, controller, targets, TrainingConfig(**cfg["training"]),
                  EvaluationConfig(**cfg["evaluation"]))
    # float64 training and re-simulation with the exact stored leak
    np.testing.assert_allclose(ev["prediction"], back["prediction"].values, rtol=1e-12)
