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
from brainbias.experiment.pipeline import run

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
    # the census accounts for every free run of every context
    for c in contexts:
        runs = analysis["start_context"].values == c
        index = analysis["start_attractor"].values[runs]
        outcome = analysis["start_outcome"].values[runs]
        assert np.all((index >= 0) == np.isin(outcome, ["fixed_point", "limit_cycle"]))
        assert np.all(analysis["attractor_context"].values[index[index >= 0]] == c)
        assert f"context {c}:" in text


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


@pytest.fixture(scope="module")
def bistable(fitted):
    """The tiny run with its weights replaced: unit 0 excites itself (w = 2) and listens to no
    one, the rest is weakly coupled, no feedback, zero bias. Fixed points: a saddle at 0 and
    two stable ones with x0 = ±1.9150 (x0 = 2 tanh x0). The stored "lorenz" window is 10
    steps from near the saddle (unit 0 grows by 1 + a = 1.2 a step from 1e-3): it never gets
    near either attractor."""
    from brainbias import results, simulate

    ds = fitted.copy(deep=True)
    n = ds.sizes["unit"]
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.3 / np.sqrt(n), (n, n))
    w[0] = 0.0
    w[0, 0] = 2.0
    ds["recurrent_weights"][:] = w
    ds["feedback_weights"][:] = 0.0
    ds["bias"][:] = 0.0
    x0 = rng.normal(0, 1e-3, n)
    x0[0] = 1e-3
    states, _ = simulate(results.network_from_dataset(ds), np.zeros(n), x0, n_steps=10)
    stored = np.full(ds["states"].shape[1:], np.nan)
    stored[:10] = np.asarray(states)
    ds["states"].loc[{"context": "lorenz"}] = stored
    ds["rates"].loc[{"context": "lorenz"}] = np.tanh(stored).astype(np.float32)
    an = analyze_run(ds, contexts=["lorenz"], key=jax.random.PRNGKey(1), n_starts=16,
                     lyapunov_steps=500, census_starts=32, progress=False)
    return stored[:10], an


def test_analyze_run_finds_attractors_the_stored_window_never_reaches(bistable, tmp_path):
    stored, an = bistable
    assert an["attractor_kind"].values.tolist() == ["stable_node", "stable_node"]
    states = an["attractor_state"].values
    np.testing.assert_allclose(np.sort(states[:, 0]), [-1.9150, 1.9150], atol=1e-4)
    assert np.min(np.linalg.norm(stored[:, None] - states[None], axis=2)) > 1.0
    # every free-run end accounted for; both attractors reached
    index = an["start_attractor"].values
    assert an.sizes["start"] == 32 and np.all(index >= 0)
    assert all(an["attractor_n_starts"].values > 0) and an["attractor_n_starts"].sum() == 32
    assert int(an["n_attractors"].sel(context="lorenz")) == 2
    # the fixed-point search (seeded with the census ends too) has both, and the saddle at 0
    fp = an["fixed_point_state"].values
    kinds = an["fixed_point_classification"].values
    for x in states:
        i = int(np.argmin(np.linalg.norm(fp - x, axis=1)))
        assert np.linalg.norm(fp[i] - x) < 1e-6 and kinds[i] == "stable_node"
    saddle = np.flatnonzero(kinds == "saddle")
    assert len(saddle) == 1 and np.max(np.abs(fp[saddle[0]])) < 1e-8
    assert int(an["fixed_point_unstable_dimension_map"][saddle[0]]) == 1
    # two methods: the QR Lyapunov exponent of the run from the stored end (which goes to the
    # x0 > 0 node) is the log of that node's slowest multiplier, −decay rate. 500 steps of QR
    # at a node: the initial tangent's projection costs ~log(10)/(500 dt) ≈ 0.25 /s at most
    plus = int(np.argmax(states[:, 0]))
    assert float(an["lyapunov_exponent_network"].sel(context="lorenz")) == pytest.approx(
        -float(an["attractor_decay_rate"][plus]), abs=0.25)
    text = analysis_summary(an)
    assert "context lorenz: 2 attractors: stable node (decay" in text
    assert "reached by" in text and "saddle (1 unstable)" in text
    path = save_analysis(an, tmp_path / "bistable.nc")
    xr.testing.assert_identical(load_analysis(path), an)


def test_version_1_analysis_files_still_load_and_summarise(analysis, tmp_path):
    from brainbias.plotting import save_analysis_figures

    census_vars = [v for v in analysis.data_vars if v.startswith(("attractor_", "start_",
                                                                  "floquet_"))]
    old = analysis.drop_vars(census_vars + ["attractor_context", "start_context",
                                            "fixed_point_classification"])
    old.attrs["analysis_schema_version"] = 1
    path = save_analysis(old, tmp_path / "v1.nc")
    text = analysis_summary(load_analysis(path))
    assert "attractor census" not in text and "Procrustes" in text
    assert len(save_analysis_figures(load_analysis(path), tmp_path)) == 3


def test_analyze_cli(fitted, tmp_path, capsys):
    from brainbias import results

    results.save(fitted, tmp_path / "run.nc")
    args = ["analyze", str(tmp_path / "run.nc"), "--starts", "16", "--no-progress"]
    assert main(args) == 0
    assert (tmp_path / "analysis.nc").exists() and (tmp_path / "eigenvalues.png").exists()
    assert (tmp_path / "phase_portraits.png").exists()
    printed = capsys.readouterr().out
    assert "Procrustes" in printed and "attractor census" in printed
    assert "context lorenz:" in printed and "fixed points by kind" in printed
    assert main(args) == 2  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    assert main(args + ["--force", "--context", "van_der_pol", "--no-figures"]) == 0
    assert main(["analyze", str(tmp_path / "missing.nc")]) == 2
    assert main(["analyze", str(tmp_path / "run.nc"), "--context", "nope", "--force"]) == 2
