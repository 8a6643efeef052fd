"""The context integration study (analyses/context_integration): its selection-vector analysis
on a linear network with a known line attractor, and a smoke run of its tiny config whose
written numbers are checked against each other and against a rerun from the saved fits."""

import dataclasses
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from _studies import load_study

import brainbias as bb

STUDY = Path(__file__).parents[1] / "analyses" / "context_integration"


@pytest.fixture(scope="module")
def run():
    return load_study("context_integration")


def test_selection_of_a_linear_line_attractor_is_known(run):
    # identity φ, continuous form: x ← (1 − a) x + a (W x + B u + b) with W = r lᵀ, lᵀ r = 1.
    # J = (1 − a) I + a r lᵀ: eigenvalue 1 along r (a line of fixed points), 1 − a elsewhere;
    # its left eigenvector is l, and one step of input k moves the state along r by a l·B_k.
    rng = np.random.default_rng(0)
    n, a = 12, 0.2
    r = rng.normal(size=n)
    r /= np.linalg.norm(r)
    left = rng.normal(size=n)
    left /= left @ r
    b_in = rng.normal(size=(n, 2))
    net = bb.Network(recurrent_weights=jnp.asarray(np.outer(r, left)),
                     input_weights=jnp.asarray(b_in), feedback_weights=jnp.zeros((n, 1)),
                     readout_weights=jnp.asarray(r[None]), dt=a, tau=1.0,
                     nonlinearity="identity").validate()
    np.testing.assert_allclose(run.input_jacobian(net, jnp.zeros(n), jnp.zeros(n)), a * b_in,
                               atol=1e-15)   # ∂x/∂u = a B exactly (one multiply)
    sel = run.selection(net, jnp.zeros(n), jnp.asarray(3.0 * r), slow_tolerance=0.05)
    assert abs(sel["eigenvalue"] - 1.0) < 1e-12
    np.testing.assert_allclose(sel["axis"], r, atol=1e-10)      # oriented: readout rᵀ r > 0
    np.testing.assert_allclose(sel["selection_vector"], left, atol=1e-9)
    np.testing.assert_allclose(sel["gain"], a * left @ b_in, atol=1e-9)
    np.testing.assert_allclose(sel["projection"], a * r @ b_in, atol=1e-10)
    assert sel["line_attractor"] and sel["slow_dimension"] == 1
    # a flipped readout flips the axis and the selection vector together (l·r stays 1)
    flipped = run.selection(dataclasses.replace(net, readout_weights=jnp.asarray(-r[None])),
                            jnp.zeros(n), jnp.asarray(3.0 * r), slow_tolerance=0.05)
    np.testing.assert_allclose(flipped["axis"], -r, atol=1e-10)
    np.testing.assert_allclose(flipped["selection_vector"], -left, atol=1e-9)


def test_psychometric_and_line_shape(run):
    choice = np.array([True, False, True, True, False, False])
    coh = np.array([0.1, 0.1, 0.5, 0.5, -0.5, -0.5])
    np.testing.assert_array_equal(run.psychometric(choice, coh, [-0.5, 0.1, 0.5]), [0, 0.5, 1])
    axis = np.array([1.0, 0.0, 0.0])
    pts = np.outer(np.linspace(-1, 1, 9), axis) + 1e-6 * np.random.default_rng(0).normal(
        size=(9, 3))
    frac, align = run.line_shape(pts, axis)
    assert frac > 0.999 and align > 0.999                 # points on a line along the axis


def test_tiny_study_numbers_agree_with_each_other_and_a_rerun(run, tmp_path):
    assert run.main([str(STUDY / "config_tiny.toml"), "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["seed"] for r in rows] == [0, 1] and rows[0]["n_units"] == 16
    for r in rows:
        for name in ("motion", "colour"):
            c = r[name]
            assert c["relevant_range"] == pytest.approx(c["relevant_curve"][-1]
                                                        - c["relevant_curve"][0])
            assert 0 <= c["accuracy"] <= 1 and len(c["ideal_curve"]) == len(r["levels"])
            lam = complex(*c["slowest_eigenvalue"])
            assert c["time_constant_steps"] == pytest.approx(-1 / np.log(abs(lam)))
    table = (tmp_path / "table.md").read_text()
    m = np.mean([r["motion"]["relevant_range"] for r in rows])
    assert f"| motion | {m:.2f} ±" in table
    assert (tmp_path / "context_integration.png").stat().st_size > 10_000
    fits = np.load(tmp_path / "fits.npz")
    assert fits["bias_0"].shape == (2, 16)               # one bias set per context
    # the analysis of the saved biases reproduces every number
    again = tmp_path / "again"
    again.mkdir()
    (again / "fits.npz").write_bytes((tmp_path / "fits.npz").read_bytes())
    assert run.main([str(STUDY / "config_tiny.toml"), "--out", str(again), "--reuse-fits"]) == 0
    rerun = [json.loads(line) for line in (again / "results.jsonl").read_text().splitlines()]
    assert rerun == rows
