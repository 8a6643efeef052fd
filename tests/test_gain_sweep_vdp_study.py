"""The gain sweep study (analyses/gain_sweep_vdp): the mechanism it rests on, what holds of
principal sub-matrices and what does not, and a smoke run of its tiny config whose written
numbers are recomputed from the saved fits."""

import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from _studies import load_study

import brainbias as bb
from brainbias.analysis.linearisation import active_units

STUDY = Path(__file__).parents[1] / "analyses" / "gain_sweep_vdp"


@pytest.fixture(scope="module")
def run():
    return load_study("gain_sweep_vdp")


def _radius(m):
    return float(np.abs(np.linalg.eigvals(m)).max()) if m.size else 0.0


def test_relu_jacobian_spectrum_is_that_of_the_active_submatrix(run):
    # discrete ReLU map F(r) = (1 − a) r + a relu(W r + b): J = (1 − a) I + a D W, D = 0/1 mask,
    # so spec J = {1 − a (inactive units)} ∪ {(1 − a) + a λ : λ ∈ spec W_AA}
    net = bb.make_network(40, n_outputs=2, dt=0.2, tau=0.4, nonlinearity="relu", form="discrete",
                          connectivity=bb.ConnectivityConfig(gain=1.3), key=jax.random.PRNGKey(0))
    bias = 0.5 * jax.random.normal(jax.random.PRNGKey(1), (40,))
    r = jnp.abs(jax.random.normal(jax.random.PRNGKey(2), (40,)))
    a = np.asarray(active_units(net, np.asarray(r)[None], np.asarray(bias)).values[0])
    assert 0 < a.sum() < 40                                   # a proper subset is active
    jac = np.asarray(jax.jacfwd(bb.autonomous_map(net, bias))(r))
    lam = np.sort_complex(np.linalg.eigvals(jac))
    w = np.asarray(net.recurrent_weights)
    expect = np.concatenate([0.5 + 0.5 * np.linalg.eigvals(w[np.ix_(a, a)]),
                             np.full(40 - a.sum(), 0.5)])
    np.testing.assert_allclose(lam, np.sort_complex(expect), atol=1e-10)   # eig rounding
    assert run.active_radius(w, a[None])[0] == pytest.approx(_radius(w[np.ix_(a, a)]))


def test_what_holds_of_principal_submatrices():
    # NOT true in general: ρ(W_AA) ≤ ρ(W). A nilpotent W has ρ = 0, its (1,1) entry is 1.
    w = np.array([[1.0, 1.0], [-1.0, -1.0]])
    assert _radius(w) < 1e-7 and _radius(w[:1, :1]) == 1.0
    rng = np.random.default_rng(0)
    g, n = rng.standard_normal((60, 60)), 60
    sym = (g + g.T) / 2
    for _ in range(50):
        a = rng.random(n) < rng.uniform(0.1, 0.9)
        # always: ρ(W_AA) ≤ ‖W_AA‖₂ ≤ ‖W‖₂ (a sub-matrix's norm is at most the matrix's)
        assert _radius(g[np.ix_(a, a)]) <= np.linalg.norm(g, 2) + 1e-12
        # symmetric (normal) W: Cauchy interlacing gives ρ(W_AA) ≤ ρ(W)
        assert _radius(sym[np.ix_(a, a)]) <= _radius(sym) + 1e-12


def test_gaussian_submatrices_stay_inside_the_circle_below_gain_one():
    # For W_ij ~ N(0, g²/N) a k-unit principal sub-matrix is itself Gaussian with variance
    # g²/N = (g² k/N)/k: circular law radius g √(k/N) ≤ g. Measured, not a theorem: at N = 100,
    # g = 0.9 (this seeded draw), over 400 random active sets of every size the largest radius
    # found is 0.997 < 1 -- a thin margin: finite-size edge fluctuations are of order k^-1/2,
    # so for g just below 1 a small network can have active sets with ρ ≥ 1.
    rng = np.random.default_rng(1)
    n, gain = 100, 0.9
    w = gain * rng.standard_normal((n, n)) / np.sqrt(n)
    radii, fractions = [], []
    for _ in range(400):
        a = rng.random(n) < rng.uniform(0.05, 1.0)
        radii.append(_radius(w[np.ix_(a, a)]))
        fractions.append(a.mean())
    assert max(radii) < 1.0
    big = np.array(fractions) > 0.5
    # the circular-law scaling g √f within 20 % for the larger sets (measured −5 % … +16 %:
    # the edge of a finite Gaussian matrix's spectrum fluctuates by ~ k^-1/2)
    assert np.all(np.abs(np.array(radii)[big] / (gain * np.sqrt(np.array(fractions)[big])) - 1)
                  < 0.2)


def test_tiny_study_numbers_are_recomputed_from_the_saved_fits(run, tmp_path):
    assert run.main([str(STUDY / "config_tiny.toml"), "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    agg = [json.loads(line) for line in (tmp_path / "aggregate.jsonl").read_text().splitlines()]
    fits = xr.open_dataset(tmp_path / "fits.nc")
    study = run.tomllib.loads((STUDY / "config_tiny.toml").read_text())
    assert len(rows) == fits.sizes["fit"] == 2 * 2 * 2
    target = run.make_target(study["study"])
    for i, r in enumerate(rows):
        assert (float(fits.gain[i]), str(fits["mode"].values[i]), int(fits.seed[i])) == (
            r["gain"], r["mode"], r["seed"])
        net = run.make_net(study, r["gain"], r["seed"])
        w = fits.recurrent_weights.values[i]
        if r["mode"] == "bias":                           # bias-only never changes W
            np.testing.assert_array_equal(w, np.asarray(net.recurrent_weights))
        net = dataclasses.replace(net, recurrent_weights=jnp.asarray(w),
                                  readout_weights=jnp.asarray(fits.readout_weights.values[i]))
        again = run.score(net, fits.bias.values[i], fits.initial_state.values[i], target,
                          study["study"])
        for key in ("success", "period_error", "amplitude_error", "active_radius_max",
                    "active_fraction"):
            if r[key] is None or isinstance(r[key], bool):       # no period / a flag
                assert again[key] == r[key], key
            else:
                assert again[key] == pytest.approx(r[key], rel=1e-9, abs=1e-12), key
    for a in agg:
        mine = [r for r in rows if r["mode"] == a["mode"] and r["gain"] == a["gain"]]
        assert a["success_rate"] == np.mean([r["success"] for r in mine])
        assert a["active_radius_mean"] == pytest.approx(
            np.mean([r["active_radius_max"] for r in mine]))
    # the mechanism on the tiny case: below g = 1 no bias leaves an active set with ρ ≥ 1
    assert all(r["active_radius_max"] < 1 for r in rows if r["mode"] == "bias" and r["gain"] < 1)
    assert "| bias | 0.7 |" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "gain_sweep.png").stat().st_size > 10_000
