"""`analyze_run` on a real (tiny) fitted run, its file round trip, and the `analyze` CLI."""

import itertools
import re

import jax
import numpy as np
import pytest
import xarray as xr

from brainbias import ConfigError, SchemaError
from brainbias.analysis.report import analysis_summary, analyze_run, load_analysis, save_analysis
from brainbias.cli import main


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
    # the network's exponent is the QR method's on the context's map from the end of the stored
    # free run: an independent call (its own, deterministic initial tangents) agrees. The two
    # differ only in the initial tangent: measured |Δ| = 0.021 /s at the lorenz context (a
    # stable focus: its complex pair keeps the tangent rotating, 500 steps average that out to
    # ~1e-2) and 1e-5 /s at van_der_pol's stable node; the exponents are -4.50 and -1.18 /s
    from brainbias.analysis.attractor_metrics import lyapunov_exponent
    from brainbias.analysis.report import context_step_function

    for c in contexts:
        _, step = context_step_function(fitted, str(c))
        states = fitted["states"].sel(context=c).values
        end = states[np.all(np.isfinite(states), axis=1)][-1]
        independent = lyapunov_exponent(step, end, n_steps=500, transient=500,
                                        dt=float(fitted.attrs["dt"]))
        assert float(analysis["lyapunov_exponent_network"].sel(context=c)) == pytest.approx(
            float(independent[0]), abs=0.1), c
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


def test_lyapunov_exponent_of_a_contracting_network_is_known(fitted):
    """The tiny run with its weights replaced: W symmetric with eigenvalues 0.8 (once) and
    U(-0.3, 0.3) (the rest), no feedback, zero bias. Then ‖W‖₂ = 0.8 and |tanh'| ≤ 1 make the
    Euler map x ← (1 − a) x + a W tanh(x) (a = dt/τ = 0.2) a contraction onto x = 0, where its
    Jacobian is (1 − a) I + a W: the largest Lyapunov exponent of every orbit is
    ln(1 − a (1 − 0.8)) / dt = ln(0.96) / 0.02 = −2.0411 /s, the next ln(0.86) / dt = −7.5 /s.
    The census's attractor and the fixed point at 0 decay at the same rate (their slowest
    mode's |multiplier| is 0.96)."""
    from brainbias import results

    ds = fitted.copy(deep=True)
    n, dt = ds.sizes["unit"], float(ds.attrs["dt"])
    a = dt / float(ds.attrs["tau"])
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    mu = np.concatenate([[0.8], rng.uniform(-0.3, 0.3, n - 1)])
    ds["recurrent_weights"][:] = (q * mu) @ q.T
    ds["feedback_weights"][:] = 0.0
    ds["bias"][:] = 0.0
    np.testing.assert_allclose(np.linalg.eigvalsh(results.network_from_dataset(ds)
                                                  .recurrent_weights).max(), 0.8, atol=1e-12)
    expected = np.log(1 - a * (1 - 0.8)) / dt
    # van_der_pol: a limit-cycle context (no long-run chaotic measures to compute)
    an = analyze_run(ds, contexts=["van_der_pol"], key=jax.random.PRNGKey(1), n_starts=16,
                     lyapunov_steps=500, census_starts=16, progress=False)
    # after the 500-step transient the state is within 0.96^500 ≈ 1e-9 of 0 (J differs from
    # J(0) by O(|x|²)) and the tangent's misalignment has shrunk by (0.86/0.96)^500 ≈ 1e-24:
    # what is left is float64 rounding of 500 logs (measured |Δ| = 7e-15)
    assert float(an["lyapunov_exponent_network"].sel(context="van_der_pol")) == pytest.approx(
        expected, abs=1e-9)
    # one attractor, the node at 0, reached by every run; linearised there (by the census and
    # by the fixed-point analysis) it decays at −expected. The finder's point is 0 to 1e-27
    # (measured), so the rates are exact to rounding: measured |Δ| = 1e-13 for both
    assert an["attractor_kind"].values.tolist() == ["stable_node"]
    assert int(an["attractor_n_starts"][0]) == 16
    assert float(an["attractor_decay_rate"][0]) == pytest.approx(-expected, abs=1e-9)
    fixed = an["fixed_point_kind"].values == "fixed"
    assert fixed.sum() == 1
    assert np.max(np.abs(an["fixed_point_state"].values[fixed])) < 1e-9
    assert float(an["fixed_point_decay_rate"].values[fixed][0]) == pytest.approx(-expected,
                                                                                 abs=1e-9)


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


def _check_printed(cell, value, decimals):
    """``cell`` is ``value`` printed with ``decimals`` decimals ("—" for NaN)."""
    if not np.isfinite(value):
        assert cell == "—", (cell, value)
    else:
        # printing rounds: at most half a unit of the last printed digit (+ float slack)
        assert float(cell) == pytest.approx(float(value), abs=0.5 * 10.0 ** -decimals + 1e-12)


def _check_printed_numbers(printed, an):
    """The numbers `brainbias analyze` printed are those of the analysis file it wrote."""
    contexts = [str(c) for c in an["context"].values]
    lines = printed.splitlines()
    for c in contexts:
        # the table: context, fixed, slow, stable, leading |λ|, λ_max net, λ_max target,
        # D_stsp (floor), D_H (floor)
        cells = next(re.split(r"\s{2,}", line.strip()) for line in lines
                     if line.startswith(c + " "))
        d = an.sel(context=c)
        assert cells[1:3] == [str(int(d["n_fixed"])), str(int(d["n_slow"]))], cells
        _check_printed(cells[5], float(d["lyapunov_exponent_network"]), 3)
        _check_printed(cells[6], float(d["lyapunov_exponent_target"]), 3)
        for cell, name in zip(cells[7:], ("state_space_divergence", "power_spectrum_distance"),
                              strict=True):
            value, floor = re.fullmatch(r"(\S+) \((\S+)\)", cell).groups()
            _check_printed(value, float(d[name]), 3)
            _check_printed(floor, float(d[f"{name}_noise_floor"]), 3)
        # the census line: how many of the context's runs reached each resolved attractor
        census = next(line for line in lines if line.strip().startswith(f"context {c}:"))
        reached = re.findall(r"reached by (\d+)/(\d+)", census)
        mine = (an["attractor_context"].values == c) & (an["attractor_kind"] != "unresolved")
        assert [int(k) for k, _ in reached] == an["attractor_n_starts"].values[mine].tolist()
        runs = int(np.sum(an["start_context"].values == c))
        assert reached and {int(n) for _, n in reached} == {runs}, census
    for a, b in itertools.combinations(contexts, 2):
        line = next(line for line in lines if line.strip().startswith(f"{a} vs {b}:"))
        p = an.sel(context=a, other_context=b)
        for cell, name in zip(line.split(":")[1].split(" / "),
                              ("procrustes_distance", "cca_similarity", "dsa_distance"),
                              strict=True):
            _check_printed(cell.strip(), float(p[name]), 3)
    share = re.search(r"explain (\S+)% of the pooled", printed).group(1)
    _check_printed(share, 100 * float(an["explained_variance_ratio"].sum()), 1)


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
    _check_printed_numbers(printed, load_analysis(tmp_path / "analysis.nc"))
    assert main(args) == 2  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    assert main(args + ["--force", "--context", "van_der_pol", "--no-figures"]) == 0
    assert main(["analyze", str(tmp_path / "missing.nc")]) == 2
    assert main(["analyze", str(tmp_path / "run.nc"), "--context", "nope", "--force"]) == 2
