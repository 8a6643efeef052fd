"""The cosine generator study (analyses/cosine_generator): its linearisation against the
analytic Jacobian, and a smoke run of its tiny config whose written numbers are checked
against the run files."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _studies import load_study

import brainbias as bb

STUDY = Path(__file__).parents[1] / "analyses" / "cosine_generator"


@pytest.fixture(scope="module")
def run():
    return load_study("cosine_generator")


def test_fixed_point_and_jacobian_match_the_discrete_form(run):
    # discrete form F(r) = (1 − a) r + a tanh(W r + b): at a fixed point r*, the Jacobian is
    # (1 − a) I + a diag(1 − tanh²(W r* + b)) W (design.md, Conventions)
    net = bb.make_network(30, n_outputs=1, dt=1.0, tau=2.0, form="discrete",
                          connectivity=bb.ConnectivityConfig(gain=1.2),
                          key=jax.random.PRNGKey(3))
    bias = 0.3 * jax.random.normal(jax.random.PRNGKey(4), (30,))
    x, res, jac = run._newton_jit(net, bias, jnp.zeros(30))
    f = bb.autonomous_map(net, bias)
    assert float(res) < 1e-12 and float(jnp.max(jnp.abs(f(x) - x))) < 1e-12  # Newton, float64
    d = 1.0 - jnp.tanh(net.recurrent_weights @ x + bias) ** 2
    analytic = 0.5 * jnp.eye(30) + 0.5 * d[:, None] * net.recurrent_weights
    np.testing.assert_allclose(jac, analytic, atol=1e-13)   # jacfwd is exact up to rounding


def test_period_of_an_exact_cosine_and_the_leading_pair(run):
    y = np.cos(2 * np.pi * np.arange(400) / 25.0)
    assert run.period_of(y, start=100, min_std=0.01) == pytest.approx(25.0, abs=1e-3)
    assert run.period_of(1e-4 * y, start=100, min_std=0.01) is None          # died out
    lam = np.array([1.1, 0.9 * np.exp(0.25j), 0.9 * np.exp(-0.25j), 0.95 * np.exp(1j)])
    assert run.leading_pair(lam) == 0.95 * np.exp(1j)
    recs = [{"iteration": i, "pair_modulus": m} for i, m in
            enumerate([0.9, 1.01, 0.99, 1.02, 1.05])]
    assert run.crossing(recs) == 3                     # the last crossing that stays outside


def test_tiny_study_writes_numbers_consistent_with_its_files(run, tmp_path):
    assert run.main([str(STUDY / "config_tiny.toml"), "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    recs = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    spectra = np.load(tmp_path / "eigenvalues.npz")
    assert [r["seed"] for r in rows] == [0, 1, 2] and all(r["n_units"] == 24 for r in rows)
    for r in rows:
        mine = [q for q in recs if q["seed"] == r["seed"]]
        # one record before training, then one per chunk of 20 iterations
        assert [q["iteration"] for q in mine] == [0, 20, 40, 60]
        np.testing.assert_array_equal(spectra[f"iterations_{r['seed']}"], [0, 20, 40, 60])
        lam = spectra[f"seed_{r['seed']}"]
        assert lam.shape == (4, 24)
        for q, row_lam in zip(mine, lam, strict=True):
            pair = run.leading_pair(row_lam)
            assert q["pair_modulus"] == pytest.approx(abs(pair), rel=1e-12)
            assert q["eigen_period"] == pytest.approx(2 * np.pi / np.angle(pair), rel=1e-12)
            assert q["fixed_point_residual"] < 1e-8     # a fixed point, not a slow point
        if r["free_run_period"] is not None:
            assert r["period_error"] == pytest.approx(abs(r["free_run_period"] - 25) / 25)
        assert r["pair_modulus"] == mine[-1]["pair_modulus"]
        assert r["crossing_iteration"] == run.crossing(mine)
    table = (tmp_path / "table.md").read_text()
    s = run.summary(rows)
    assert f"{s['free_run_period'][0]:.3f} ± {s['free_run_period'][1]:.3f}" in table
    assert (tmp_path / "eigenvalues_over_training.png").stat().st_size > 10_000
