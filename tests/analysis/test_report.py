"""`analyze_run` on a real (tiny) fitted run, its file round trip, and the `analyze` CLI."""

from pathlib import Path

import jax
import numpy as np
import pytest
import xarray as xr

from brainbias import ConfigError, SchemaError
from brainbias.analysis.report import analysis_summary, analyze_run, load_analysis, save_analysis
from brainbias.cli import main
from brainbias.config import ExperimentConfig
from brainbias.experiment import run

TINY = Path(__file__).parents[2] / "analyses" / "configs" / "demo_tiny.toml"


@pytest.fixture(scope="module")
def fitted():
    return run(ExperimentConfig.from_toml(TINY), progress=False)


@pytest.fixture(scope="module")
def analysis(fitted):
    return analyze_run(fitted, key=jax.random.PRNGKey(0), n_starts=32, lyapunov_steps=500,
                       progress=False)


def test_analysis_has_every_part_per_context(fitted, analysis):
    contexts = list(fitted["context"].values)
    assert list(analysis["context"].values) == contexts
    # fixed points of every context, labelled by context, with their linearisation
    assert set(np.unique(analysis["fixed_point_context"].values)) <= set(contexts)
    n_fp = analysis.sizes["fixed_point"]
    assert analysis["fixed_point_state"].shape == (n_fp, fitted.sizes["unit"])
    assert analysis["fixed_point_eigenvalue_real"].shape[0] == n_fp
    assert np.all(analysis["fixed_point_speed"].values >= 0)
    # counts agree with the labels
    for c in contexts:
        kinds = analysis["fixed_point_kind"].values[analysis["fixed_point_context"].values == c]
        assert int(analysis["n_fixed"].sel(context=c)) == int(np.sum(kinds == "fixed"))
    # one shared PCA basis, orthonormal
    comp = analysis["components"].values
    np.testing.assert_allclose(comp @ comp.T, np.eye(len(comp)), atol=1e-10)
    assert analysis["trajectory_pcs"].dims == ("context", "time", "component")
    assert analysis["fixed_point_pcs"].shape == (n_fp, len(comp))
    # pairwise comparison: symmetric, identity on the diagonal
    p = analysis["procrustes_distance"].values
    np.testing.assert_allclose(p, p.T)
    np.testing.assert_array_equal(np.diag(p), 0.0)
    np.testing.assert_array_equal(np.diag(analysis["cca_similarity"].values), 1.0)
    # attractor metrics and the target's known Lyapunov exponent
    assert float(analysis["lyapunov_exponent_target"].sel(context="lorenz")) == \
        pytest.approx(0.906, abs=1e-3)
    assert np.isfinite(float(analysis["lyapunov_exponent_network"].sel(context="lorenz")))
    text = analysis_summary(analysis)
    assert "lorenz vs van_der_pol" in text and "D_stsp" in text


def test_fixed_points_are_fixed_points_of_the_stored_network(fitted, analysis):
    from brainbias.analysis.report import context_step_function

    for c in fitted["context"].values:
        _, step = context_step_function(fitted, str(c))
        sel = (analysis["fixed_point_context"].values == c) & \
              (analysis["fixed_point_kind"].values == "fixed")
        for x in analysis["fixed_point_state"].values[sel]:
            q = 0.5 * np.sum((np.asarray(step(x)) - x) ** 2)
            assert q < 1e-12  # the finder's tolerance, ½·sum convention, float64


def test_analysis_file_round_trip_and_version_check(analysis, tmp_path):
    path = save_analysis(analysis, tmp_path / "analysis.nc")
    xr.testing.assert_identical(load_analysis(path), analysis)
    with pytest.raises(ConfigError, match="exists"):
        save_analysis(analysis, path)
    old = analysis.copy()
    old.attrs["analysis_schema_version"] = 0
    save_analysis(old, tmp_path / "old.nc")
    with pytest.raises(SchemaError, match="not supported"):
        load_analysis(tmp_path / "old.nc")


def test_bad_analysis_requests(fitted):
    with pytest.raises(ConfigError, match="Did you mean 'lorenz'"):
        analyze_run(fitted, contexts=["lorenzz"], key=jax.random.PRNGKey(0), progress=False)
    with pytest.raises(ConfigError, match="n_components"):
        analyze_run(fitted, n_components=10_000, key=jax.random.PRNGKey(0), progress=False)
    with pytest.raises(SchemaError):
        analyze_run(fitted.drop_vars("states"), key=jax.random.PRNGKey(0), progress=False)


def test_analyze_cli(fitted, tmp_path, capsys):
    from brainbias import results

    results.save(fitted, tmp_path / "run.nc")
    args = ["analyze", str(tmp_path / "run.nc"), "--starts", "16", "--no-progress"]
    assert main(args) == 0
    assert (tmp_path / "analysis.nc").exists() and (tmp_path / "eigenvalues.png").exists()
    assert "Procrustes" in capsys.readouterr().out
    assert main(args) == 2  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    assert main(args + ["--force", "--context", "van_der_pol", "--no-figures"]) == 0
    assert main(["analyze", str(tmp_path / "missing.nc")]) == 2
    assert main(["analyze", str(tmp_path / "run.nc"), "--context", "nope", "--force"]) == 2
