"""Parameter sweeps on Dask (brainbias.experiment.sweep): the grid, the embedded LocalCluster, an
external scheduler/worker pair started as subprocesses, resume, failed points and the CLI."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from brainbias import results
from brainbias._errors import ConfigError
from brainbias.cli import main
from brainbias.config import ExperimentConfig
from brainbias.experiment import pipeline
from brainbias.experiment import sweep as sweep_module
from brainbias.experiment.sweep import WORKER_ENV, open_sweep, sweep
from brainbias.experiment.sweep_grid import (
    check_keys,
    grid_points,
    normalise_grid,
    parse_grid_option,
    parse_values,
    point_config,
    point_slug,
    read_sweep_config,
)

CONFIG_FILE = Path(__file__).parents[2] / "analyses" / "configs" / "forecast_tiny.toml"
GAINS, SEEDS = [0.8, 1.2], [0, 1]


def tiny_config() -> ExperimentConfig:
    """forecast_tiny (32 units, one driven context) with 10 iterations: ~1 s a fit once
    compiled."""
    return pipeline.replace_training(ExperimentConfig.from_toml(CONFIG_FILE), n_iterations=10)


def _mtimes(out: Path) -> dict:
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "points").glob("*/run.nc")}


# ------------------------------------------------------------------------------------- the grid

def test_grid_values_ranges_and_points():
    assert parse_values("0:4") == (0, 1, 2, 3)
    assert parse_values("0:10:4") == (0, 4, 8)
    assert parse_values("0.1:0.4:0.1") == (0.1, 0.2, 0.3)  # rounded: no 0.30000000000000004
    assert parse_values('0.8,1,true,"tanh",relu') == (0.8, 1, True, "tanh", "relu")
    assert parse_grid_option("network.connectivity.gain=0.8,1.2") == (
        "network.connectivity.gain", (0.8, 1.2))
    for bad in ("0:0", "1,,2", "a:b", "0:4:-1"):
        with pytest.raises(ConfigError):
            parse_values(bad)
    with pytest.raises(ConfigError, match="KEY=VALUES"):
        parse_grid_option("seed")
    grid = normalise_grid({"network.connectivity.gain": [0.8, 1, np.float64(1.2)],
                           "seed": range(2)})
    assert grid == {"network.connectivity.gain": (0.8, 1.0, 1.2), "seed": (0, 1)}
    assert all(type(g) is float for g in grid["network.connectivity.gain"])  # one float axis
    points = grid_points(grid)
    assert len(points) == 6 and points[1] == {"network.connectivity.gain": 0.8, "seed": 1}
    for bad in ({}, {"seed": []}, {"seed": "0:4"}, {"seed": [1, 1]}, {"seed": [object()]}):
        with pytest.raises(ConfigError):
            normalise_grid(bad)


def test_slugs_are_stable_unique_and_file_names():
    a = {"network.connectivity.gain": 0.8, "seed": 3}
    slug = point_slug(a)
    assert slug.startswith("gain=0.8_seed=3-") and slug == point_slug(dict(reversed(a.items())))
    assert point_slug({"network.nonlinearity": "1"}) != point_slug({"network.nonlinearity": 1})
    assert "/" not in point_slug({"recording.path": "a/b c.nwb"})


def test_unknown_grid_keys_say_what_was_meant():
    config = tiny_config()
    for key, meant in (("network.connectivity.gian", "network.connectivity.gain"),
                       ("network.gain", "network.connectivity.gain"),
                       ("training.iterations", "training.n_iterations"), ("seeds", "seed")):
        with pytest.raises(ConfigError, match=f"Did you mean '{meant}'"):
            check_keys({key: [1]}, config)
    with pytest.raises(ConfigError, match="value, not a table"):
        check_keys({"network.n_units.x": [1]}, config)
    with pytest.raises(ConfigError, match="index below 1"):
        check_keys({"targets.1.n_steps": [1]}, config)
    check_keys({"targets.0.n_steps": [300], "network.tau": [0.05]}, config)  # known: no error


def test_point_configs_set_the_key_and_validate():
    base = tiny_config().to_dict()
    c = point_config(base, {"network.connectivity.gain": 0.9, "targets.0.n_steps": 300})
    assert c.network.connectivity.gain == 0.9 and c.targets[0]["n_steps"] == 300
    assert c.training.n_iterations == 10  # the rest is the base config
    with pytest.raises(ConfigError, match="n_units"):
        point_config(base, {"network.n_units": 0})


def test_sweep_table_of_a_config_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG_FILE.read_text()
                   + '\n[sweep]\ngrid = {"network.connectivity.gain" = [0.8, 1.2], seed = "0:3"}\n')
    config, grid = read_sweep_config(cfg)
    assert grid == {"network.connectivity.gain": [0.8, 1.2], "seed": (0, 1, 2)}
    assert config == ExperimentConfig.from_toml(CONFIG_FILE)  # the table is not a config key
    cfg.write_text(CONFIG_FILE.read_text() + "\n[sweep]\ngird = {seed = [0]}\n")
    with pytest.raises(ConfigError, match="Did you mean 'grid'"):
        read_sweep_config(cfg)


# --------------------------------------------------------------------- the embedded LocalCluster

@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A 2 × 2 sweep (gain × seed) on the embedded LocalCluster with 2 workers."""
    out = tmp_path_factory.mktemp("sweep") / "gain_seed"
    config = tiny_config()
    ds = sweep(config, {"network.connectivity.gain": GAINS, "seed": SEEDS}, out_dir=out,
               n_workers=2, progress=False)
    return config, out, ds


def test_gathered_dataset_has_the_sweep_dims(swept):
    config, out, ds = swept
    assert ds["nrmse"].dims == ("network.connectivity.gain", "seed", "context")
    assert ds["network.connectivity.gain"].values.tolist() == GAINS
    assert ds["seed"].values.tolist() == SEEDS and ds["context"].values.tolist() == ["forecast"]
    assert (ds["status"] == "done").all() and ds["tau"].dims == ("network.connectivity.gain",
                                                                   "seed")
    for name in ("final_loss", "valid_prediction_steps", "training_wall_time"):
        assert np.isfinite(ds[name]).all(), name
    for gain in GAINS:  # each cell is its own point's run.nc, fitted with that point's config
        for seed in SEEDS:
            cell = ds.sel({"network.connectivity.gain": gain, "seed": seed})
            run = results.load(out / str(cell["run_path"].values))
            stored = results.config_of(run)
            assert stored["network"]["connectivity"]["gain"] == gain and stored["seed"] == seed
            np.testing.assert_array_equal(cell["nrmse"].values, run["nrmse"].values)
            np.testing.assert_array_equal(cell["final_loss"].values, run["loss"][-1].values)
    with open_sweep(out) as lazy:  # NetCDF, opened lazily
        assert lazy["nrmse"].variable._in_memory is False
        xr.testing.assert_identical(lazy.load(), ds)
    listed = json.loads((out / "points.json").read_text())
    assert len(listed) == 4 and {p["status"] for p in listed} == {"done"}


def test_a_point_is_the_same_fit_as_brainbias_run(swept):
    config, out, ds = swept
    cell = ds.sel({"network.connectivity.gain": 0.8, "seed": 1})
    point = point_config(config.to_dict(), {"network.connectivity.gain": 0.8, "seed": 1})
    direct = pipeline.run(point, progress=False, figures=False)
    # the worker runs XLA on one thread, this process on several: float32 sums may be ordered
    # differently, so agreement to float32 rounding over 10 Adam steps, not bit for bit
    np.testing.assert_allclose(cell["final_loss"].values, direct["loss"][-1].values, rtol=1e-4)
    np.testing.assert_allclose(cell["nrmse"].values, direct["nrmse"].values, rtol=1e-3)


def test_rerun_skips_finished_points(swept, monkeypatch):
    config, out, ds = swept
    before = _mtimes(out)
    assert len(before) == 4

    def no_cluster(*args, **kwargs):
        raise AssertionError("nothing to run, yet a cluster was started")

    monkeypatch.setattr(sweep_module, "local_cluster", no_cluster)
    again = sweep(config, {"network.connectivity.gain": GAINS, "seed": SEEDS}, out_dir=out,
                  progress=False)
    assert _mtimes(out) == before
    xr.testing.assert_identical(again, ds)
    other = pipeline.replace_training(config, n_iterations=20)
    with pytest.raises(ConfigError, match="another configuration"):
        sweep(other, {"network.connectivity.gain": GAINS, "seed": SEEDS}, out_dir=out,
              progress=False)


# ------------------------------------------------- an existing cluster: dask scheduler + worker

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler_address():
    """``dask scheduler`` and one ``dask worker`` as subprocesses on localhost."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, **WORKER_ENV}
    # own sessions, so that the end can stop each of them with the processes it started
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
             "start_new_session": True}
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"], env=env, **quiet)]
    try:
        procs.append(subprocess.Popen([sys.executable, "-m", "dask", "worker", address,
                                       "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                                      env=env, **quiet))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for p in reversed(procs):  # the worker (and its nanny's child) first
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_a_failed_point_is_recorded_and_the_others_finish(scheduler_address, tmp_path):
    out = tmp_path / "tau"
    config = tiny_config()  # dt = 0.02: tau = 0.01 fails in the worker, n_units = 0 before it
    # (32 units as in the CLI test below: the worker compiles the fit once for both)
    grid = {"network.tau": [0.02, 0.01], "network.n_units": [32, 0]}
    ds = sweep(config, grid, out_dir=out, scheduler=scheduler_address, progress=False)
    status = ds["status"].to_pandas()
    assert status.loc[0.02, 32] == "done"
    assert (status.loc[0.01] == "failed").all() and status.loc[0.02, 0] == "failed"
    err = ds["error"].sel({"network.tau": 0.01, "network.n_units": 32}).item()
    assert "dt=0.02 > tau=0.01" in err
    assert "n_units" in ds["error"].sel({"network.tau": 0.02, "network.n_units": 0}).item()
    assert np.isnan(ds["nrmse"].sel({"network.tau": 0.01})).all()
    assert np.isfinite(ds["nrmse"].sel({"network.tau": 0.02, "network.n_units": 32})).all()
    failed = sorted((out / "points").glob("*/error.json"))
    assert len(failed) == 3
    recorded = {json.dumps(r["point"], sort_keys=True): r
                for r in (json.loads(f.read_text()) for f in failed)}
    in_worker = recorded[json.dumps({"network.n_units": 32, "network.tau": 0.01})]
    assert "dt=0.02 > tau=0.01" in in_worker["error"] and "make_model" in in_worker["traceback"]
    # a rerun skips the finished point and tries the failed ones again
    before = _mtimes(out)
    time.sleep(0.01)
    again = sweep(config, grid, out_dir=out, scheduler=scheduler_address, progress=False)
    assert _mtimes(out) == before and (again["status"] == ds["status"]).all()


def test_cli_on_an_existing_scheduler(scheduler_address, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(tiny_config_toml() + '\n[sweep]\ngrid = {"network.connectivity.gain" = '
                   "[0.8, 1.2, 1.5]}\n")
    out = tmp_path / "out"
    code = main(["sweep", str(cfg), "--grid", "network.connectivity.gain=0.9,1.1", "--grid",
                 "seed=0:1", "--out", str(out), "--scheduler", scheduler_address])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"Dask scheduler {scheduler_address}" in printed and "2 done, 0 failed" in printed
    with open_sweep(out / "sweep.nc") as ds:  # --grid replaced the file's gain values
        assert ds["network.connectivity.gain"].values.tolist() == [0.9, 1.1]
        assert ds["seed"].values.tolist() == [0] and ds["nrmse"].dims[:2] == (
            "network.connectivity.gain", "seed")
    assert main(["sweep", str(cfg), "--grid", "network.gian=1", "--out", str(out)]) == 2
    assert "Did you mean 'network.connectivity.gain'" in capsys.readouterr().err
    assert main(["sweep", str(CONFIG_FILE), "--out", str(out)]) == 2  # no grid
    assert "no grid" in capsys.readouterr().err


def tiny_config_toml() -> str:
    return CONFIG_FILE.read_text().replace("n_iterations = 20", "n_iterations = 10")
