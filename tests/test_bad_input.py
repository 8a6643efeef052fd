"""Bad input through the CLI (issue 14): each is one clear message with exit code 2, no
traceback, and nothing left behind; defaults that apply are said out loud and recorded."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from brainbias import ConfigError, DataError
from brainbias.cli import main
from brainbias.config import ExperimentConfig, defaulted_sections, from_dict, key_index
from brainbias.experiment import resources
from brainbias.results import io

#: a ridge-readout run: no gradient iterations, so a fit takes a second
TINY = """seed = 2
[network]
n_units = 16
tau = 0.1
[training]
mode = "readout"
washout = 10
[evaluation]
washout = 10
horizon = 20
[[targets]]
kind = "stuart_landau"
name = "hopf"
n_steps = 400
dt = 0.02
"""


def _fit(config, out, *extra, capsys):
    """Exit code and stderr of ``brainbias fit config --out out``."""
    rc = main(["fit", str(config), "--out", str(out), "--no-progress", "--no-figures", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def _write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- config files


@pytest.mark.parametrize("make, words", [
    (lambda d: d, "is a folder, not a config file"),
    (lambda d: _bytes(d, os.urandom(64) + b"\xff\xfe"), "is not a text file"),
    (lambda d: _bytes(d, b'seed = 1\x00\n'), "is not a text file (it contains NUL bytes)"),
    (lambda d: _bytes(d, b""), "is empty"),
    (lambda d: _bytes(d, b"# only a comment\n\n"), "is empty"),
    (lambda d: _bytes(d, b"seed = = 1\n[["), "not valid TOML"),
    (lambda d: _sparse(d, 11 * 2**20), "a config is a small text file"),
    (lambda d: d / "missing.toml", "config file not found"),
], ids=["folder", "binary", "nul", "empty", "comments", "not-toml", "huge", "missing"])
def test_config_file_errors_are_one_paragraph(tmp_path, capsys, make, words):
    config = make(tmp_path)
    rc, err = _fit(config, tmp_path / "out", capsys=capsys)
    assert rc == 2 and words in err, err
    assert err.count("\n") == 1  # one paragraph (one line) on stderr
    assert not (tmp_path / "out").exists()


def _bytes(folder: Path, data: bytes) -> Path:
    path = folder / "c.toml"
    path.write_bytes(data)
    return path


def _sparse(folder: Path, size: int) -> Path:
    path = folder / "big.toml"
    with open(path, "wb") as fh:
        fh.truncate(size)  # a sparse file: no disk used
    return path


def test_unreadable_config(tmp_path, capsys, monkeypatch):
    config = _write(tmp_path, TINY)

    def denied(self):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    # chmod 000 does not stop root (these tests may run as root), so the refusal is simulated
    monkeypatch.setattr(Path, "read_bytes", denied)
    rc, err = _fit(config, tmp_path / "out", capsys=capsys)
    assert rc == 2 and "permission denied" in err and "chmod u+r" in err


def test_a_device_is_not_a_config(tmp_path, capsys):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    rc, err = _fit("/dev/zero", tmp_path / "out", capsys=capsys)  # reading it never ends
    assert rc == 2 and "not a regular file" in err


# ----------------------------------------------------------------------------- keys


@pytest.mark.parametrize("data, words", [
    ({"network": {"gain": 0.9}},
     "unknown key 'gain' in [network]. 'gain' is a key of [network.connectivity], not of "
     "[network]: move it under that table."),
    ({"iterations": 10}, "unknown key 'iterations'. Did you mean 'n_iterations' (a key of "
                         "[training])?"),
    ({"training": {"n_steps": 10}}, "'n_steps' is a key of [[targets]]"),
    ({"evaluation": {"window": 10}}, "'window' is a key of [training], not of [evaluation]"),
    ({"network": {"connectivity": {"n_units": 10}}},
     "'n_units' is a key of [network], not of [network.connectivity]"),
    ({"trainig": {}}, "Did you mean 'training'?"),
    ({"training": {"learning_rate": "fast"}},
     "training.learning_rate: expected float, got str 'fast'. Write a number, without quotes "
     "(e.g. learning_rate = 0.01)."),
    ({"network": {"connectivity": 1.2}}, "network.connectivity: expected a table"),
])
def test_unknown_or_misplaced_keys_say_where_they_belong(data, words):
    with pytest.raises(ConfigError) as exc:
        from_dict(ExperimentConfig, data, where="c.toml")
    assert words in str(exc.value)
    assert str(exc.value).startswith("c.toml: ")


def test_key_index_knows_every_table():
    index = key_index()
    assert index["gain"] == (("network", "connectivity"),)
    assert ("training",) in index["washout"] and ("evaluation",) in index["washout"]
    assert index["n_units"] == (("network",),)
    assert index["n_steps"] == (("targets",),)
    assert index["bin_size"] == (("recording",),)
    assert index["training"] == ((),)


def test_missing_sections_take_defaults_and_say_so(tmp_path, capsys):
    text = TINY.replace("[evaluation]\nwashout = 10\nhorizon = 20\n", "")
    text = text.replace("n_steps = 400", "n_steps = 1000")  # evaluation's default washout 50
    config = _write(tmp_path, text)
    assert defaulted_sections(ExperimentConfig.from_toml(config)) == ("evaluation",)
    rc, err = _fit(config, tmp_path / "out", capsys=capsys)
    assert rc == 0, err
    assert "has no [evaluation] table: the documented defaults apply" in err
    with xr.open_dataset(tmp_path / "out" / "run.nc", engine="h5netcdf") as ds:
        assert ds.attrs["defaulted_sections"] == "evaluation"
    from brainbias.cli import _note_defaults

    full = _write(tmp_path, TINY, "full.toml")  # every table given: no note, nothing recorded
    assert _note_defaults(full, ExperimentConfig.from_toml(full)) == ()
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- memory


def test_network_too_large_for_memory_is_refused_before_allocating(tmp_path, capsys):
    config = _write(tmp_path, TINY.replace("n_units = 16", "n_units = 10000000"))
    rc, err = _fit(config, tmp_path / "out", capsys=capsys)  # was a native abort
    assert rc == 2
    assert "network.n_units = 10000000: this run needs about" in err
    assert "but this machine has" in err and "fits here" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", ["rate", "ltc"])
def test_memory_estimate_counts_the_networks_arrays(tmp_path, model):
    import dataclasses

    from brainbias.config import NetworkConfig
    from brainbias.experiment.pipeline import build, source_of

    cfg = ExperimentConfig.from_toml(_write(tmp_path, TINY))
    cfg = dataclasses.replace(cfg, network=NetworkConfig(model=model, n_units=16, tau=0.1))
    source = source_of(cfg)
    network, _, _ = build(cfg, source)
    est = resources.estimate_resources(cfg, n_contexts=1, n_inputs=source.n_inputs,
                                       n_outputs=source.n_outputs, n_steps=400)
    held = sum(np.asarray(getattr(network, name)).nbytes for name in network.array_dims)
    assert est.memory["fixed weights"] == held  # exact: the same shapes, training dtype


def test_memory_estimate_of_sparse_weights(tmp_path):
    import dataclasses

    import jax

    from brainbias.config import NetworkConfig
    from brainbias.experiment.pipeline import build, source_of
    from brainbias.models.connectivity import ConnectivityConfig

    if "sparse" not in {f.name for f in dataclasses.fields(ConnectivityConfig)}:
        pytest.skip("no sparse storage in this version")
    conn = ConnectivityConfig(kind="sparse", connection_probability=0.1, sparse=True)
    cfg = ExperimentConfig.from_toml(_write(tmp_path, TINY))
    cfg = dataclasses.replace(cfg, network=NetworkConfig(n_units=400, tau=0.1,
                                                         connectivity=conn))
    source = source_of(cfg)
    network, _, _ = build(cfg, source)
    est = resources.estimate_resources(cfg, n_contexts=1, n_inputs=source.n_inputs,
                                       n_outputs=source.n_outputs, n_steps=400)
    held = sum(np.asarray(leaf).nbytes for leaf in jax.tree_util.tree_leaves(network)
               if hasattr(leaf, "nbytes"))
    # the estimate counts the expected p N² = 16 000 synapses, the draw a Binomial number of
    # them (sd ≈ 120, 0.75 %): 5 % is > 6 sd; dense storage would be 10 × as much
    assert est.memory["fixed weights"] == pytest.approx(held, rel=0.05)


def test_check_resources_gives_the_estimate_and_the_limit(tmp_path):
    from brainbias.experiment.pipeline import source_of

    cfg = ExperimentConfig.from_toml(_write(tmp_path, TINY.replace("n_units = 16",
                                                                   "n_units = 4000")))
    source = source_of(cfg)
    est = resources.check_resources(cfg, source, memory_limit=2**40)
    assert est.memory_total > 4000**2 * 4  # at least the float32 weights
    with pytest.raises(ConfigError, match=r"needs about .* but this machine has 1\.0 MiB given"):
        resources.check_resources(cfg, source, memory_limit=2**20)
    with pytest.raises(ConfigError, match="its disk has 1 B free"):
        resources.check_resources(cfg, source, out_dir=tmp_path / "o", memory_limit=2**40,
                                  disk_free=1)


def test_available_memory_reads_the_machine():
    n, where = resources.available_memory()
    assert n > 2**20 and where


# ----------------------------------------------------------------------------- output folder


def test_output_blocked_by_a_file_or_not_writable(tmp_path, capsys, monkeypatch):
    config = _write(tmp_path, TINY)
    (tmp_path / "file").write_text("x")
    rc, err = _fit(config, tmp_path / "file" / "o", capsys=capsys)
    assert rc == 2 and "cannot create output folder" in err and "is a file" in err
    # root writes anywhere, so a read-only folder is simulated
    monkeypatch.setattr(io.os, "access", lambda path, mode: False)
    rc, err = _fit(config, tmp_path / "new" / "o", capsys=capsys)
    assert rc == 2 and "is not writable" in err
    assert not (tmp_path / "new").exists()


def test_no_disk_space_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    config = _write(tmp_path, TINY)

    class Usage:
        free = 1000

    monkeypatch.setattr(resources.shutil, "disk_usage", lambda path: Usage)
    rc, err = _fit(config, tmp_path / "a" / "b", capsys=capsys)
    assert rc == 2 and "its disk has 1000 B free" in err
    assert not (tmp_path / "a").exists()


def test_a_failed_run_leaves_no_empty_folder(tmp_path, capsys, monkeypatch):
    from brainbias.experiment import pipeline

    config = _write(tmp_path, TINY)

    def broken(*args, **kwargs):
        (tmp_path / "a" / "b").mkdir(parents=True)  # as a checkpoint's first write would
        raise DataError("simulated failure in the fit")

    monkeypatch.setattr(pipeline, "fit", broken)
    rc, err = _fit(config, tmp_path / "a" / "b", capsys=capsys)
    assert rc == 2 and "simulated failure" in err
    assert not (tmp_path / "a").exists()


def test_removed_on_failure_keeps_folders_with_files(tmp_path):
    with pytest.raises(RuntimeError), io.removed_on_failure(tmp_path / "x" / "y"):
        (tmp_path / "x" / "y").mkdir(parents=True)
        (tmp_path / "x" / "y" / "checkpoint.npz").write_bytes(b"resumable")
        raise RuntimeError
    assert (tmp_path / "x" / "y" / "checkpoint.npz").exists()
    with io.removed_on_failure(tmp_path / "z"):  # success: nothing removed
        (tmp_path / "z").mkdir()
    assert (tmp_path / "z").is_dir()


def test_results_are_written_atomically(tmp_path, monkeypatch):
    target = tmp_path / "run.nc"
    target.write_bytes(b"the previous results")

    def full_disk(tmp):
        Path(tmp).write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DataError, match="the disk is full.*nothing was replaced"):
        io.atomic_write(target, full_disk)
    assert target.read_bytes() == b"the previous results"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]  # no temporary left

    def interrupted(tmp):
        Path(tmp).write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        io.atomic_write(target, interrupted)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    from brainbias.training import checkpoints

    path = tmp_path / "checkpoint.npz"
    path.write_bytes(b"the previous checkpoint")

    def full_disk(fh, **arrays):
        fh.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints.np, "savez", full_disk)
    with pytest.raises(DataError, match="previous checkpoint .* is kept"):
        checkpoints._save_checkpoint(path, (np.zeros(2),), (), 0, np.zeros((0, 1)),
                                     np.zeros(0), 1.0, 0, _training_config(), "digest")
    assert path.read_bytes() == b"the previous checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]


def _training_config():
    from brainbias.config import TrainingConfig

    return TrainingConfig()


# ----------------------------------------------------------------------------- the docs table


def test_docs_table_is_the_measured_one():
    """docs/bad_input.md's table is what analyses/bad_input/table.py made of its measurements
    (measured.json), for every case the script defines (rerun the script after adding one)."""
    import importlib.util
    import json

    root = Path(__file__).parents[1]
    spec = importlib.util.spec_from_file_location("bad_input_table",
                                                  root / "analyses" / "bad_input" / "table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    measured = json.loads((root / "analyses" / "bad_input" / "measured.json").read_text())
    assert [r["case"] for r in measured["after"]] == [c[1] for c in table.CASES]
    doc = (root / "docs" / "bad_input.md").read_text()
    assert table.markdown(measured["after"], measured["before"]) in doc
    # every case ends in a message or a finished run: no traceback, no abort, nothing stuck
    assert {r["kind"] for r in measured["after"]} <= {"message", "accepted"}
    assert all(r["rc"] in (0, 2) for r in measured["after"])
