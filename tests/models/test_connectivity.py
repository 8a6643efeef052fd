"""Statistics of the fixed random weights, each bound stated as k·σ of its estimator."""

import math

import jax
import numpy as np
import pytest

from brainbias import ConfigError
from brainbias.models.connectivity import ConnectivityConfig, readout_weights, recurrent_weights

N = 400
K_SIGMA = 5  # 5σ bounds: a false failure has probability < 1e-6 per check


def draw(seed=0, **kw):
    return np.asarray(recurrent_weights(N, ConnectivityConfig(**kw), key=jax.random.PRNGKey(seed)))


@pytest.mark.parametrize("gain", [0.5, 1.5])
def test_gaussian_mean_and_variance_within_bounds(gain):
    w = draw(gain=gain)
    n = w.size
    var = gain**2 / N
    # sample mean ~ N(0, var/n); sample variance has std var*sqrt(2/n) (Gaussian entries)
    assert abs(w.mean()) < K_SIGMA * math.sqrt(var / n)
    assert abs(w.var() - var) < K_SIGMA * var * math.sqrt(2 / n)


def test_gaussian_spectral_radius_follows_circular_law():
    # Girko: eigenvalues fill the disc of radius g; finite-N edge fluctuations at N=400 are a few %
    w = draw(gain=1.5)
    radius = np.max(np.abs(np.linalg.eigvals(w)))
    assert radius == pytest.approx(1.5, rel=0.1)


def test_sparse_keeps_variance_and_connection_probability():
    p = 0.1
    w = draw(kind="sparse", gain=1.0, connection_probability=p)
    n = w.size
    frac = np.count_nonzero(w) / n
    assert abs(frac - p) < K_SIGMA * math.sqrt(p * (1 - p) / n)  # binomial
    var = 1.0 / N
    # per-entry variance is preserved; entries are a Bernoulli–Gaussian mixture with
    # E[w^4] = 3 var^2 / p, so the std of the sample variance is var*sqrt((3/p - 1)/n)
    assert abs(w.var() - var) < K_SIGMA * var * math.sqrt((3 / p - 1) / n)


@pytest.mark.parametrize("balanced", [True, False])
def test_dale_column_signs_and_balance(balanced):
    f_e = 0.8
    w = draw(kind="dale", gain=1.0, excitatory_fraction=f_e, balanced=balanced)
    n_exc = int(round(f_e * N))
    assert np.all(w[:, :n_exc] >= 0) and np.all(w[:, n_exc:] <= 0)
    assert np.all(w[:, :n_exc].any(axis=0)) and np.all(w[:, n_exc:].any(axis=0))
    var = 1.0 / N
    assert abs(np.mean(w**2) - var) < K_SIGMA * var * math.sqrt(2 / w.size) * 3  # heavier tails
    if balanced:
        # expected input to each unit is zero: the grand mean is zero within sampling error
        assert abs(w.mean()) < K_SIGMA * math.sqrt(var / w.size)
    else:
        assert w.mean() > 0.01 * math.sqrt(var)


def test_nonnegative_and_no_autapses():
    w = draw(kind="nonnegative", autapses=False)
    assert np.all(w >= 0)
    assert np.all(np.diag(w) == 0)
    assert np.count_nonzero(w) == N * N - N


def test_spectral_radius_rescaling_is_exact():
    w = draw(gain=1.5, spectral_radius=0.9)
    assert np.max(np.abs(np.linalg.eigvals(w))) == pytest.approx(0.9, rel=1e-10)


def test_same_key_same_weights_other_key_other_weights():
    np.testing.assert_array_equal(draw(seed=3), draw(seed=3))
    assert not np.array_equal(draw(seed=3), draw(seed=4))


def test_readout_scale_keeps_outputs_order_one():
    c = np.asarray(readout_weights(N, 3, key=jax.random.PRNGKey(0)))
    assert c.shape == (3, N)
    assert abs(c.var() * N - 1.0) < K_SIGMA * math.sqrt(2 / c.size)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(gain=0.0), "gain"),
        (dict(gain=-1.0), "gain"),
        (dict(kind="gausian"), "Did you mean 'gaussian'"),
        (dict(connection_probability=1.5), "connection_probability"),
        (dict(excitatory_fraction=1.0), "excitatory_fraction"),
        (dict(spectral_radius=0.0), "spectral_radius"),
    ],
)
def test_bad_connectivity_config_raises_clear_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ConnectivityConfig(**kwargs)


def test_bad_n_units():
    with pytest.raises(ConfigError, match="n_units"):
        recurrent_weights(0, key=jax.random.PRNGKey(0))
