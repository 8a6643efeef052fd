"""kill -9 in the middle of ``brainbias fit``, then ``--resume``: the results file is
bit-identical to an uninterrupted run's (issue 14). A damaged or foreign checkpoint is refused
with a clear message."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from brainbias.cli import main

N_ITERATIONS = 40
#: chunks of 2 iterations, a checkpoint after each (20 atomic writes, each flushed to disk), so
#: the kill lands mid-fit (often mid-write) rather than after the last chunk
CONFIG = f"""seed = 3
[network]
n_units = 24
tau = 0.1
[training]
n_iterations = {N_ITERATIONS}
chunk_size = 2
checkpoint_every = 1
batch_size = 4
window = 20
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
ARGS = ["--no-progress", "--no-figures"]


def _cli(*args):
    """The command line of ``brainbias`` run by this Python (a fresh process)."""
    return [sys.executable, "-m", "brainbias", *map(str, args)]


def _iteration(checkpoint: Path) -> int:
    with np.load(checkpoint) as z:
        return json.loads(str(z["meta"]))["iteration"]


def _assert_identical(a: Path, b: Path):
    with xr.open_dataset(a, engine="h5netcdf") as x, xr.open_dataset(b, engine="h5netcdf") as y:
        x, y = x.load(), y.load()
    assert sorted(x.variables) == sorted(y.variables)
    for name in x.variables:
        u, v = x[name].values, y[name].values
        assert u.dtype == v.dtype and u.shape == v.shape, name
        if u.dtype.kind == "f":  # bit for bit, NaN (undefined metrics) in the same places
            assert np.array_equal(u.view(np.uint8), v.view(np.uint8)), name
        else:
            assert np.array_equal(u, v), name
    timing = {"training_wall_time"}  # the only attribute allowed to differ
    assert {k: v for k, v in x.attrs.items() if k not in timing} == \
        {k: v for k, v in y.attrs.items() if k not in timing}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    config = folder / "tiny.toml"
    config.write_text(CONFIG)
    assert main(["fit", str(config), "--out", str(folder / "full"), *ARGS]) == 0
    return config, folder / "full"


@pytest.mark.slow  # three fits, two of them in fresh processes: ~20 s on a quiet 2-core machine
def test_kill_9_then_resume_is_bit_identical(uninterrupted, tmp_path):
    config, full = uninterrupted
    out = tmp_path / "killed"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen(_cli("fit", config, "--out", out, *ARGS), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = out / "checkpoint.npz"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    killed_at = _iteration(checkpoint)
    assert 0 < killed_at < N_ITERATIONS and not (out / "run.nc").exists()  # really mid-fit

    done = subprocess.run(_cli("fit", config, "--out", out, "--resume", *ARGS), env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    _assert_identical(full / "run.nc", out / "run.nc")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "run.nc"]  # no temp


def _resume(config, out, capsys):
    rc = main(["fit", str(config), "--out", str(out), "--resume", *ARGS])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


@pytest.mark.parametrize("damage", ["truncated", "bit_flip", "not_a_checkpoint"])
def test_damaged_checkpoint_is_refused(uninterrupted, tmp_path, capsys, damage):
    config, full = uninterrupted
    out = tmp_path / "o"
    out.mkdir()
    data = (full / "checkpoint.npz").read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "bit_flip":  # inside the stored arrays: the zip's CRC-32 catches it
        i = data.index(b"trainable_0.npy") + 200
        data = data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1:]
    else:
        data = b"PK\x03\x04 not really a zip"
    (out / "checkpoint.npz").write_bytes(data)
    rc, err = _resume(config, out, capsys)
    assert rc == 2 and "is damaged or not a brainbias checkpoint" in err, err
    assert "to start the fit afresh" in err
    assert not (out / "run.nc").exists()


@pytest.mark.parametrize("change, words", [
    (("n_iterations", "learning_rate = 0.02\nn_iterations"),
     "a different training config (changed: learning_rate 0.01 → 0.02)"),
    (("seed = 3", "seed = 4"), "was written for a different network"),
])
def test_foreign_checkpoint_is_refused(uninterrupted, tmp_path, capsys, change, words):
    config, full = uninterrupted
    other = tmp_path / "other.toml"
    other.write_text(CONFIG.replace(*change))
    out = tmp_path / "o"
    out.mkdir()
    shutil.copy(full / "checkpoint.npz", out / "checkpoint.npz")
    rc, err = _resume(other, out, capsys)
    assert rc == 2 and words in err, err
    assert not (out / "run.nc").exists()
