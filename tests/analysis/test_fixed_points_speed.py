"""The fixed-point finder's speed features: one compilation per network shape, duplicates dropped
during the polish without losing a fixed point, dense and matrix-free (Newton–Krylov) polish
giving the same points, and Newton–Krylov on a large network without forming a Jacobian."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainbias import ConfigError, autonomous_map, make_network
from brainbias.analysis import _fixed_points_newton as newton_kernels
from brainbias.analysis import _fixed_points_solvers as solvers
from brainbias.analysis.fixed_points import _deduplicate, find_fixed_points
from brainbias.models.connectivity import ConnectivityConfig

from ._helpers import network_from_weights

KEY = jax.random.PRNGKey(0)
KERNELS = (solvers._adam, solvers._batched_speed, newton_kernels._newton_round,
           newton_kernels._capture, newton_kernels._factor)


def _quiet_find(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # slow points are expected
        return find_fixed_points(*args, **kwargs)


def _symmetric_network_map():
    """Five tanh units with symmetric W (g = 2): seven fixed points, three stable, four saddles
    (the same system as in test_fixed_points.py)."""
    rng = np.random.default_rng(3)
    n = 5
    w = rng.normal(0, 2.0 / np.sqrt(n), (n, n))
    w = (w + w.T) / np.sqrt(2)
    b = rng.normal(0, 0.3, n)
    return autonomous_map(network_from_weights(w), jnp.asarray(b)), rng.normal(0, 2, (64, n))


def test_a_second_bias_or_network_of_the_same_shape_does_not_recompile():
    # Identity units: the one fixed point solves (I − W) x = b, so each call can be checked
    # against its own answer (a bias compiled in as a constant would give the first one's).
    rng = np.random.default_rng(0)
    n = 6
    kwargs = dict(key=KEY, n_iterations=30, dt=0.1)
    results, sizes = [], []
    for _ in range(3):
        w = rng.normal(0, 0.9 / np.sqrt(n), (n, n))
        b = rng.normal(0, 1, n)
        f = autonomous_map(network_from_weights(w, nonlinearity="identity"), jnp.asarray(b))
        ds = find_fixed_points(f, rng.normal(0, 2, (8, n)), **kwargs)
        results.append((ds, w, b))
        sizes.append([k._cache_size() for k in KERNELS])
    assert sizes[1] == sizes[0] and sizes[2] == sizes[0]
    for ds, w, b in results:
        assert ds.sizes["fixed_point"] == 1 and ds["speed"].item() < 1e-12
        # F(x) − x = a((W − I) x + b) is linear: |x − x*| ≤ |F(x) − x| / σ_min(a(W − I)) exactly
        # (slack for rounding: 1e-6 relative, 1e-12 absolute); the first bias would miss by O(1)
        error = np.linalg.norm(ds["state"].values[0] - np.linalg.solve(np.eye(n) - w, b))
        sigma = np.linalg.svd(0.1 * (w - np.eye(n)), compute_uv=False).min()
        assert error <= np.sqrt(2 * ds["speed"].item()) / sigma * (1 + 1e-6) + 1e-12
        assert ds.attrs["newton"] == "dense"  # "auto" at 6 units


def test_duplicates_dropped_during_the_polish_lose_no_fixed_point():
    f, starts = _symmetric_network_map()
    ds = _quiet_find(f, starts, key=KEY, learning_rate=0.05)
    fixed = ds["state"].values[ds["kind"].values == "fixed"]
    # Reference: polish every Adam end point to the end, then deduplicate.
    wrapped = solvers._AsInputDtype(f)
    x, _ = solvers._adam(wrapped, jnp.asarray(starts), 0.05, 0.999, n_iterations=500)
    xp, qp = solvers._polish(wrapped, x, jnp.asarray(1e-16), n_iterations=40, batch_size=16)
    xp, qp = np.asarray(xp), np.asarray(qp)
    ok = qp < 1e-12
    reference = xp[ok][_deduplicate(xp[ok], qp[ok], 1e-3)]
    assert len(fixed) == len(reference) == 7
    d = np.linalg.norm(fixed[:, None] - reference[None], axis=2)
    # both converged to q < 1e-12 with |J − I| ≥ 0.01: each within 1.5e-4 of the exact point
    assert d.min(axis=1).max() < 1e-3 and d.min(axis=0).max() < 1e-3
    # the polish stopped most starts early: fewer were polished in their own right than there
    # are starts, and all the others count as duplicates
    assert ds.attrs["n_polished"] < len(starts)
    assert ds.attrs["n_duplicates"] + ds.sizes["fixed_point"] == len(starts)


def test_capture_tells_which_fixed_point_a_point_converges_to():
    # Euler map of dx/dt = y, dy/dt = −(x³ − x) − (1 + 2x) y: fixed points (±1, 0), (0, 0).
    def f(s):
        x, y = s[0], s[1]
        return s + 0.05 * jnp.stack([y, -(x**3 - x) - (1 + 2 * x) * y])

    wrapped = solvers._AsInputDtype(f)
    lu, pivots = newton_kernels._factor(wrapped, jnp.array([1.0, 0.0]))
    y = jnp.array([[1.05, 0.02], [0.97, -0.03], [-0.98, 0.01], [0.02, 0.0]])
    hit = newton_kernels._capture(wrapped, y, lu, pivots, jnp.array([1.0, 0.0]),
                                  jnp.asarray(1e-16), 1e-6)
    assert hit.tolist() == [True, True, False, False]


def test_dense_and_krylov_newton_find_the_same_fixed_points():
    f, starts = _symmetric_network_map()
    found = {}
    for newton in ("dense", "krylov"):
        ds = _quiet_find(f, starts, key=KEY, learning_rate=0.05, newton=newton)
        assert ds.attrs["newton"] == newton
        found[newton] = ds["state"].values[ds["kind"].values == "fixed"]
        assert ds["speed"].values[ds["kind"].values == "fixed"].max() < 1e-12
    a, b = found["dense"], found["krylov"]
    assert len(a) == len(b) == 7
    d = np.linalg.norm(a[:, None] - b[None], axis=2)
    # both at q < 1e-12 (see above): the same points to well within the 1e-3 dedup tolerance
    assert d.min(axis=1).max() < 1e-6 and d.min(axis=0).max() < 1e-6


def _largest_intermediate(jaxpr):
    """The most elements of any value computed in ``jaxpr`` (sub-jaxprs included)."""
    largest = 0
    for eqn in jaxpr.eqns:
        for v in eqn.outvars:
            largest = max(largest, int(np.prod(getattr(v.aval, "shape", ()))))
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    largest = max(largest, _largest_intermediate(inner))
    return largest


def test_krylov_round_never_forms_a_jacobian():
    # N larger than the GMRES basis per point (restart + 1 = 31 vectors) times the batch, so
    # that only an N × N matrix per point can exceed the size of the weight matrix
    n, batch = 200, 2
    net = make_network(n, key=KEY, dtype=jnp.float64)
    f = solvers._AsInputDtype(autonomous_map(net, jnp.zeros(n)))
    x = jnp.ones((batch, n))
    q, state = jnp.ones(batch), (jnp.ones(batch), jnp.zeros(batch, jnp.int32),
                                 jnp.zeros(batch, bool))
    krylov = jax.make_jaxpr(newton_kernels._krylov_round)(f, x, q, 1e-16, *state)
    dense = jax.make_jaxpr(newton_kernels._newton_round)(f, x, q, 1e-16, *state)
    # dense: a batch of N × N Jacobians; Krylov: nothing larger than the weight matrix itself
    # (its largest values are the Krylov bases, batch × 31 × N)
    assert _largest_intermediate(dense.jaxpr) >= batch * n * n
    assert _largest_intermediate(krylov.jaxpr) <= n * n


def test_krylov_converges_on_a_large_network():
    # A contracting network (g = 0.5, a = dt/τ = 0.1): one fixed point, which iterating the map
    # reaches at rate ≤ 1 − a(1 − g) = 0.95 per step — the reference (1500 steps: 0.95^1500
    # ≈ 1e-33 of the initial distance).
    n = 3000
    k_net, k_bias, k_x = jax.random.split(KEY, 3)
    net = make_network(n, connectivity=ConnectivityConfig(gain=0.5), key=k_net,
                       dtype=jnp.float64)
    f = autonomous_map(net, 0.5 * jax.random.normal(k_bias, (n,), jnp.float64))
    starts = jax.random.normal(k_x, (3, n), jnp.float64)
    ds = find_fixed_points(f, starts, key=KEY, n_iterations=0)  # "auto": krylov above 2000
    assert ds.attrs["newton"] == "krylov"
    assert ds.sizes["fixed_point"] == 1 and ds["speed"].item() < 1e-12
    reference = jax.jit(lambda x: jax.lax.fori_loop(0, 1500, lambda _, y: f(y), x))(starts[0])
    # |x − x*| ≤ ‖r‖ / (a(1 − g)) ≈ 20 √(2q) < 3e-5 at q < 1e-12; Newton gets far below
    np.testing.assert_allclose(ds["state"].values[0], reference, atol=1e-8)


def test_unknown_newton_method_is_a_config_error():
    with pytest.raises(ConfigError, match="Did you mean 'krylov'"):
        find_fixed_points(lambda x: x, np.zeros((2, 3)), key=KEY, newton="krylv")
