"""Sparse recurrent weights (``connectivity.sparse``): the same network as dense, the draw's
statistics and size, results round-trip, training and the fixed-point finder on them."""

import dataclasses
import importlib.util
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import brainbias as bb
from brainbias import ConfigError
from brainbias.models.base import autonomous_map, simulate
from brainbias.models.connectivity import ConnectivityConfig, recurrent_weights
from brainbias.models.rate import make_network
from brainbias.models.sparse import SparseWeights, draw_sparse, expected_synapses, is_sparse

K_SIGMA = 5  # 5σ bounds: a false failure has probability < 1e-6 per check
SPARSE = ConnectivityConfig(kind="sparse", connection_probability=0.1, gain=1.3, sparse=True)


def pair(n=60, dtype=jnp.float64, form="continuous", seed=0, **kw):
    """The same network with sparse and with dense recurrent weights."""
    sparse = make_network(n, n_inputs=2, n_outputs=2, connectivity=SPARSE, form=form,
                          key=jax.random.PRNGKey(seed), dtype=dtype, **kw)
    dense = dataclasses.replace(sparse, recurrent_weights=sparse.recurrent_weights.todense())
    return sparse, dense


def test_the_draw_is_a_sparse_network():
    net, _ = pair()
    assert is_sparse(net.recurrent_weights) and net.n_units == 60
    assert net.recurrent_weights.rows.dtype == jnp.int32
    net.validate()


@pytest.mark.parametrize("dtype, tol", [(jnp.float32, 1e-6), (jnp.float64, 1e-12)])
@pytest.mark.parametrize("form", ["continuous", "discrete"])
def test_sparse_and_dense_simulate_alike(dtype, tol, form):
    sparse, dense = pair(dtype=dtype, form=form)
    n, t = sparse.n_units, 50
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(3), 3)
    bias = 0.3 * jax.random.normal(k1, (n,), dtype)
    x0 = jax.random.normal(k2, (n,), dtype)
    u = jax.random.normal(k3, (t, 2), dtype)
    for mode, kw in (("autonomous", {"n_steps": t}), ("driven", {"inputs": u}),
                     ("closed_loop", {"inputs": u})):
        runs = [jax.jit(lambda b, x, net=net, mode=mode, kw=kw: simulate(
            net, b, x, mode=mode, **kw))(bias, x0) for net in (sparse, dense)]
        for a, b in zip(runs[0], runs[1], strict=True):
            assert a.dtype == dtype
            # the sums differ only in summation order: a few ulps of O(1) states per step
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, tol", [(jnp.float32, 1e-6), (jnp.float64, 1e-12)])
def test_the_bias_gradient_is_the_same(dtype, tol):
    sparse, dense = pair(dtype=dtype)
    n = sparse.n_units
    key = jax.random.PRNGKey(5)
    bias = 0.2 * jax.random.normal(key, (4, n), dtype)
    x0 = jnp.full((n,), 0.1, dtype)

    def loss(b, net):  # vmapped over a (context, unit) bias, scanned over time: the fit's form
        states, outputs = jax.vmap(lambda bi: simulate(net, bi, x0, n_steps=40))(b)
        return jnp.mean(outputs**2) + jnp.mean(states[:, -1] ** 2)

    grads = [jax.jit(jax.grad(loss))(bias, net) for net in (sparse, dense)]
    scale = float(jnp.max(jnp.abs(grads[1])))
    np.testing.assert_allclose(grads[0], grads[1], rtol=0, atol=tol * max(scale, 1.0) * 10)


def test_matmul_both_sides_and_transpose():
    w, _ = pair()
    w = w.recurrent_weights
    d = np.asarray(w.todense())
    rng = np.random.default_rng(0)
    x, xs = rng.normal(size=60), rng.normal(size=(60, 3))
    np.testing.assert_allclose(w @ x, d @ x, atol=1e-12)
    np.testing.assert_allclose(w @ xs, d @ xs, atol=1e-12)
    np.testing.assert_allclose(x @ w, x @ d, atol=1e-12)  # numpy defers to __rmatmul__
    np.testing.assert_allclose(xs.T @ w.T, xs.T @ d.T, atol=1e-12)
    # a JAX array on the left defers too (analysis.active_units computes x @ W.T)
    np.testing.assert_allclose(jnp.asarray(xs.T) @ w.T, xs.T @ d.T, atol=1e-12)
    np.testing.assert_allclose(w.T @ x, d.T @ x, atol=1e-12)
    np.testing.assert_array_equal(SparseWeights.from_dense(d).todense(), d)


def test_connection_statistics_of_the_draw():
    n, p, g = 400, 0.05, 1.2
    for autapses in (True, False):
        cfg = ConnectivityConfig(kind="sparse", connection_probability=p, gain=g,
                                 autapses=autapses, sparse=True)
        w = recurrent_weights(n, cfg, key=jax.random.PRNGKey(1)).validate()
        m = n if autapses else n - 1
        # S ~ Binomial(n m, p)
        assert abs(w.n_synapses - n * m * p) < K_SIGMA * math.sqrt(n * m * p * (1 - p))
        assert w.n_synapses == pytest.approx(expected_synapses(n, cfg), rel=0.05)
        d = np.asarray(w.todense())
        if not autapses:
            assert not np.any(np.diag(d))
        # entries N(0, g²/(pN)): the sample variance has std var·√(2/S)
        var = g**2 / (p * n)
        assert abs(w.values.var() - var) < K_SIGMA * var * math.sqrt(2 / w.n_synapses)
        # in-degrees Binomial(m, p): their mean over rows has std √(m p (1 − p) / n)
        indeg = np.bincount(np.asarray(w.rows), minlength=n)
        assert abs(indeg.mean() - m * p) < K_SIGMA * math.sqrt(m * p * (1 - p) / n)
        assert indeg.var() == pytest.approx(m * p * (1 - p), rel=0.3)


def test_dense_mask_branch_and_spectral_radius():
    # p above the mask threshold takes the Bernoulli-mask branch; spectral radius via ARPACK
    cfg = ConnectivityConfig(kind="sparse", connection_probability=0.3, sparse=True,
                             autapses=False, spectral_radius=0.9)
    w = recurrent_weights(200, cfg, key=jax.random.PRNGKey(2)).validate()
    d = np.asarray(w.todense())
    assert not np.any(np.diag(d))
    assert abs(w.n_synapses - 0.3 * 200 * 199) < K_SIGMA * math.sqrt(200 * 199 * 0.21)
    np.testing.assert_allclose(np.max(np.abs(np.linalg.eigvals(d))), 0.9, rtol=1e-8)


def test_memory_is_linear_in_synapses():
    # fixed synapses per unit (p = K / N): the stored arrays grow like N K, never N²
    k = 20
    sizes = []
    for n in (1000, 4000, 16000):
        cfg = ConnectivityConfig(kind="sparse", connection_probability=k / n, sparse=True)
        w = draw_sparse(n, cfg, key=jax.random.PRNGKey(0), dtype=jnp.float32)
        assert w.nbytes == 12 * w.n_synapses  # int32 row + int32 column + float32 value
        assert abs(w.n_synapses - n * k) < K_SIGMA * math.sqrt(n * k)
        sizes.append(w.nbytes / n)
    assert max(sizes) / min(sizes) < 1.1  # bytes per unit constant while N grows 16-fold


def test_sparse_needs_the_sparse_kind():
    with pytest.raises(ConfigError, match='kind = "sparse"'):
        ConnectivityConfig(kind="gaussian", sparse=True)
    with pytest.raises(ConfigError, match="sparse"):
        ConnectivityConfig(kind="sparse", sparse="yes")


def test_bad_sparse_weights_are_refused():
    w, _ = pair()
    w = w.recurrent_weights
    with pytest.raises(ConfigError, match="sorted"):
        dataclasses.replace(w, rows=w.rows[::-1], columns=w.columns[::-1]).validate()
    with pytest.raises(ConfigError, match=r"in \[0, 60\)"):
        dataclasses.replace(w, columns=w.columns.at[0].set(60)).validate()
    with pytest.raises(ConfigError, match="NaN"):
        dataclasses.replace(w, values=w.values.at[0].set(jnp.nan)).validate()


def test_jacobian_of_the_map_is_the_dense_one_and_fixed_points_agree():
    from brainbias.analysis.fixed_points import find_fixed_points

    sparse, dense = pair(n=40)
    bias = 0.1 * jax.random.normal(jax.random.PRNGKey(7), (40,))
    x = jax.random.normal(jax.random.PRNGKey(8), (40,))
    jac = [jax.jacfwd(autonomous_map(net, bias))(x) for net in (sparse, dense)]
    np.testing.assert_allclose(jac[0], jac[1], atol=1e-13)
    starts = jax.vmap(lambda x0: simulate(dense, bias, x0, n_steps=30)[0][-1])(
        jax.random.normal(jax.random.PRNGKey(9), (4, 40)))
    found = [find_fixed_points(autonomous_map(net, bias), starts, key=jax.random.PRNGKey(0),
                               n_iterations=50, newton_iterations=20)
             for net in (sparse, dense)]
    points = []
    for ds in found:
        x = ds["state"].values[ds["kind"].values == "fixed"]
        points.append(x[np.argsort(x[:, 0])])
    assert points[0].shape == points[1].shape and points[0].shape[0] >= 1
    np.testing.assert_allclose(points[0], points[1], atol=1e-8)


def _run_config():
    from brainbias.config import ExperimentConfig, from_dict

    return from_dict(ExperimentConfig, {
        "seed": 0,
        "network": {"n_units": 48, "tau": 0.1, "connectivity": {
            "kind": "sparse", "connection_probability": 0.2, "gain": 1.0, "sparse": True}},
        "training": {"n_iterations": 20, "chunk_size": 10, "window": 30, "washout": 10,
                     "batch_size": 4, "dtype": "float64"},
        "evaluation": {"washout": 20},
        "targets": [{"kind": "stuart_landau", "n_steps": 600, "dt": 0.05}]})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A bias-only fit of a sparse network through brainbias.run, saved: (Dataset, folder)."""
    out = tmp_path_factory.mktemp("sparse_run")
    return bb.run(_run_config(), out_dir=out, progress=False, figures=False), out


def test_a_bias_fit_through_run_and_the_results_round_trip(fitted):
    ds, tmp_path = fitted
    assert "recurrent_weights" not in ds and ds["recurrent_weights_value"].dims == ("synapse",)
    assert ds["recurrent_weights_row"].dtype == np.int32
    loss = ds["loss"].values[:, 0]
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]
    loaded = bb.results.load(tmp_path / "run.nc")
    net = bb.results.network_from_dataset(loaded)
    assert is_sparse(net.recurrent_weights) and net.n_units == 48
    ctrl = bb.results.controller_from_dataset(loaded)
    # the rebuilt network re-runs the evaluation (warm-up on the target, then free run)
    from brainbias.config import EvaluationConfig, TrainingConfig
    from brainbias.data.targets import make_target
    from brainbias.experiment.pipeline import evaluate

    cfg = json.loads(loaded.attrs["config"])
    ev = evaluate(net, ctrl, [make_target(t) for t in cfg["targets"]],
                  TrainingConfig(**cfg["training"]), EvaluationConfig(**cfg["evaluation"]))
    np.testing.assert_allclose(ev["prediction"], loaded["prediction"].values, rtol=1e-12)


def test_schema_refuses_half_sparse_storage(fitted):
    from brainbias.results import validate
    from brainbias.results.schema import SchemaError

    ds = fitted[0]
    with pytest.raises(SchemaError, match="recurrent_weights_column"):
        validate(ds.drop_vars("recurrent_weights_column"))
    with pytest.raises(SchemaError, match="both"):
        validate(ds.assign(recurrent_weights=(("unit", "source_unit"), np.zeros((48, 48)))))


@pytest.mark.brainpy
@pytest.mark.skipif(importlib.util.find_spec("brainpy") is None, reason="brainpy not installed")
def test_brainpy_export_of_a_sparse_network_reproduces_simulate():
    from brainbias.interop.brainpy import import_brainpy, to_brainpy

    bp, bm = import_brainpy()
    sparse, _ = pair(n=30)
    bias = 0.3 * jax.random.normal(jax.random.PRNGKey(4), (30,))
    states, _ = simulate(sparse, bias, jnp.zeros(30), mode="closed_loop", n_steps=50)
    model = to_brainpy(sparse, bias[None], context=0, mode="closed_loop")
    runner = bp.DSRunner(model, monitors=["x"], dt=model.dt, progress_bar=False)
    with bm.environment(dt=model.dt):
        runner.run(duration=50.5 * model.dt)  # half a step more: DSRunner floors T / dt
    # the BrainPy update calls brainbias's own step (same sparse matvec) in float64
    np.testing.assert_allclose(np.asarray(runner.mon["x"]), states, rtol=0, atol=1e-11)
