"""The sign-constraint study (analyses/sign_constraints): its pieces against references (the
isotonic fit against scikit-learn's, the order-violation rate on maps of known order, the
non-monotone escape hatch), the benchmark sharing its code, and a smoke run of its tiny config
whose numbers are checked against the theorem and the run files."""

import json
from pathlib import Path

import numpy as np
import pytest
from _studies import load_module

ROOT = Path(__file__).parents[1]
STUDY = ROOT / "analyses" / "sign_constraints"


@pytest.fixture(scope="module")
def run():
    return load_module("sign_constraints_run", STUDY / "run.py")


def test_isotonic_fit_matches_scikit_learn(run):
    from sklearn.isotonic import IsotonicRegression

    tasks = run.load_tasks()
    rng = np.random.default_rng(0)
    for y in (rng.normal(size=50), np.exp(-np.linspace(-1, 1, 41) ** 2 / 0.1),
              np.linspace(0, 1, 10)):
        x = np.arange(len(y))
        np.testing.assert_allclose(tasks.isotonic(y), IsotonicRegression().fit_transform(x, y),
                                   atol=1e-12)


def test_order_violation_rate_on_maps_of_known_order(run):
    tasks = run.load_tasks()
    x, y = tasks.ordered_pairs(5000, seed=1)
    assert np.all(y >= x) and np.all((0 <= x) & (y <= 1))
    assert tasks.order_violation_rate(lambda z: z.sum(1), x, y) == 0.0      # monotone
    strict = np.mean(y.sum(1) - x.sum(1) > 1e-9 * (1 + x.sum(1) + y.sum(1)))
    assert tasks.order_violation_rate(lambda z: -z.sum(1), x, y) == pytest.approx(strict)
    assert 0.5 < strict < 1.0              # d = 0 in both components for some pairs only
    # XOR's own labels as a map: (0,0)→0 ≤ (0,1)→1 fine, (0,1)→1 > (1,1)→0 a violation
    xor = lambda z: np.logical_xor(z[:, 0] > 0.5, z[:, 1] > 0.5).astype(float)  # noqa: E731
    assert tasks.order_violation_rate(xor, x, y) > 0


def test_non_monotone_activation_solves_xor_with_nonnegative_weights(run):
    tasks = run.load_tasks()
    predict, accuracy, loss, nonneg = tasks.xor_fit("non-monotone activation", 0, n_steps=1500)
    assert nonneg and accuracy == 1.0 and loss < 0.3
    # and the map is not order-preserving
    x, y = tasks.ordered_pairs(2000)
    assert tasks.order_violation_rate(predict, x, y) > 0.05


def test_benchmark_uses_the_study_code(run):
    bench = load_module("bench_sign_constraints_mod",
                        ROOT / "benchmarks" / "bench_sign_constraints.py")
    assert bench._tasks() is run.load_tasks()          # one module, not a copy
    assert not hasattr(bench, "isotonic") and not hasattr(bench, "_xor_case")


def test_tiny_study_obeys_the_theorem_and_its_files(run, tmp_path):
    assert run.main([str(STUDY / "config_tiny.toml"), "--out", str(tmp_path)]) == 0
    tasks = run.load_tasks()
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    xor = [r for r in rows if r["task"] == "xor"]
    rec = [r for r in rows if r["task"] == "recurrent"]
    assert len(xor) == len(tasks.XOR_CASES) * 3 and len(rec) == 2 * len(tasks.TARGETS) * 3
    for r in xor:
        if r["case"] in tasks.ORDER_PRESERVING:
            # Wang et al.: order-preserving ⇒ no violations and at most 3 of 4 XOR points
            assert r["violation_rate"] == 0.0 and r["accuracy"] <= 0.75
            assert r["weights_nonnegative"]
    for r in rec:
        if r["weights"] == "nonnegative":
            assert r["output_monotone"] and r["violation_rate"] == 0.0
        assert r["monotone_ceiling_R2"] == pytest.approx(
            tasks.r2(tasks.isotonic(tasks.TARGETS[r["target"]](np.asarray(r["u"]))),
                     tasks.TARGETS[r["target"]](np.asarray(r["u"]))))
    table = (tmp_path / "table.md").read_text()
    s = run.summary(rows, "xor", ("case",), ("accuracy",))
    acc = s[("gaussian, bias",)]["accuracy"]
    assert f"| gaussian, bias | 3 | {acc[0]:.3f} ± {acc[1]:.3f} |" in table
    assert (tmp_path / "sign_constraints.png").stat().st_size > 10_000
