"""The CLI: smoke runs of every *_tiny.toml, and user errors as messages with exit code 2."""

from pathlib import Path

import pytest

from brainbias import results
from brainbias.cli import main

CONFIGS = Path(__file__).parents[1] / "analyses" / "configs"
TINY = sorted(CONFIGS.glob("*_tiny.toml"))


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
