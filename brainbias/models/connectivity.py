"""Fixed random connectivity: recurrent, input, feedback and readout weights.

Every function takes an explicit ``key`` (``jax.random.PRNGKey``) and returns a new array; nothing
here is ever trained by a ``bias`` fit.

Recurrent weight families (``W`` in the papers; ``recurrent_weights`` here, shape ``(unit, unit)``
with rows = postsynaptic, columns = presynaptic units):

``gaussian``
    ``W_ij ~ N(0, g²/N)``: the Sompolinsky–Crisanti–Sommers ensemble; the bulk spectrum fills the
    disc of radius ``g`` (Girko's circular law), chaotic for ``g > 1`` with tanh.
``sparse``
    each connection present with probability ``p``, ``W_ij ~ N(0, g²/(pN))`` so that the
    variance per entry, and hence the spectral radius, stays ``g²/N``.
``dale``
    Dale's law: a fraction ``excitatory_fraction`` of columns (presynaptic units) is excitatory
    (entries ≥ 0), the rest inhibitory (≤ 0). Magnitudes are half-normal, scaled so that
    ``E[W_ij²] = g²/N``. With ``balanced=True`` the inhibitory magnitudes are scaled up so that
    the expected input to every unit is zero (``f_E μ_E = f_I μ_I``, Rajan & Abbott 2006).
``nonnegative``
    all entries ``|N(0, g²/N)|``: the sign-constrained network whose limits Wang et al. (2023)
    prove (order-preserving maps only).

Options shared by all families: ``autapses=False`` zeroes the diagonal; ``spectral_radius``
rescales the finished matrix so that ``max |λ(W)| = spectral_radius``.

``sparse=True`` (``kind="sparse"`` only) stores the weights as
:class:`~brainbias.models.sparse.SparseWeights` (COO triplets) and draws them without forming
the ``N × N`` matrix, so that memory, drawing and every step are linear in the number of
synapses (networks of ``N = 10⁴–10⁵`` units, :mod:`brainbias.models.sparse`).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, check_positive, did_you_mean

__all__ = [
    "ConnectivityConfig",
    "CONNECTIVITY_KINDS",
    "recurrent_weights",
    "input_weights",
    "feedback_weights",
    "readout_weights",
]

CONNECTIVITY_KINDS = ("gaussian", "sparse", "dale", "nonnegative")


@dataclasses.dataclass(frozen=True)
class ConnectivityConfig:
    """How to draw the fixed recurrent weights.

    Parameters
    ----------
    kind : {"gaussian", "sparse", "dale", "nonnegative"}
        The weight family (module docstring): ``gaussian``, i.i.d. ``N(0, g²/N)`` entries
        (Sompolinsky–Crisanti–Sommers); ``sparse``, each connection present with probability
        ``connection_probability``, variance rescaled to keep the spectral radius ``g``;
        ``dale``, excitatory and inhibitory presynaptic units (Dale's law), optionally
        ``balanced``; ``nonnegative``, all entries ``|N(0, g²/N)|``.
    gain : float
        ``g`` in ``W_ij ~ N(0, g²/N)``; must be > 0.
    connection_probability : float
        ``p`` for ``kind="sparse"``, in (0, 1].
    excitatory_fraction : float
        Fraction of excitatory (presynaptic) units for ``kind="dale"``, in (0, 1).
    balanced : bool
        For ``kind="dale"``: scale inhibition so the expected input to each unit is zero.
    autapses : bool
        Keep self-connections (the diagonal). Default True.
    spectral_radius : float or None
        If given, rescale ``W`` so that its spectral radius equals this value (with ``sparse``:
        computed by ARPACK from the sparse matrix).
    sparse : bool
        Store the recurrent weights sparse (COO triplets of the synapses that exist,
        :class:`~brainbias.models.sparse.SparseWeights`) and draw them without the dense
        ``N × N`` matrix: memory and step cost linear in the number of synapses, for large
        networks. Needs ``kind = "sparse"``. Default False (dense).
    """

    kind: str = "gaussian"
    gain: float = 1.5
    connection_probability: float = 1.0
    excitatory_fraction: float = 0.8
    balanced: bool = True
    autapses: bool = True
    spectral_radius: float | None = None
    sparse: bool = False

    def __post_init__(self):
        if self.kind not in CONNECTIVITY_KINDS:
            raise ConfigError(
                f"connectivity kind: expected one of {CONNECTIVITY_KINDS}, got {self.kind!r}."
                + did_you_mean(self.kind, CONNECTIVITY_KINDS)
            )
        check_positive("gain", self.gain)
        p = self.connection_probability
        if not (isinstance(p, (int, float)) and 0.0 < p <= 1.0):
            raise ConfigError(f"connection_probability: expected a number in (0, 1], got {p!r}.")
        f = self.excitatory_fraction
        if not (isinstance(f, (int, float)) and 0.0 < f < 1.0):
            raise ConfigError(f"excitatory_fraction: expected a number in (0, 1), got {f!r}.")
        if self.spectral_radius is not None:
            check_positive("spectral_radius", self.spectral_radius)
        if not isinstance(self.sparse, bool):
            raise ConfigError(f"sparse: expected true or false, got {self.sparse!r}.")
        if self.sparse and self.kind != "sparse":
            raise ConfigError(
                f'sparse = true: sparse storage needs kind = "sparse" (each connection present '
                f'with probability connection_probability), got kind = "{self.kind}". Set '
                'kind = "sparse" (and connection_probability) or sparse = false.')


def recurrent_weights(n_units: int, config: ConnectivityConfig | None = None, *, key, dtype=None):
    """Draw fixed recurrent weights.

    Parameters
    ----------
    n_units : int
        ``N``, the number of units.
    config : ConnectivityConfig, optional
        Defaults to ``ConnectivityConfig()`` (Gaussian, g = 1.5).
    key : jax.random.PRNGKey
    dtype : dtype, optional
        Defaults to JAX's default float dtype.

    Returns
    -------
    jax.Array, shape (unit, unit), or SparseWeights
        Row ``i`` holds the weights onto unit ``i``; with ``config.sparse`` a
        :class:`~brainbias.models.sparse.SparseWeights` of the same matrix.

    Raises
    ------
    ConfigError
        If ``n_units`` is not a positive integer or the config is invalid.

    Examples
    --------
    >>> import jax
    >>> from brainbias.models.connectivity import ConnectivityConfig, recurrent_weights
    >>> W = recurrent_weights(100, ConnectivityConfig(gain=1.2), key=jax.random.PRNGKey(0))
    >>> W.shape
    (100, 100)
    """
    config = ConnectivityConfig() if config is None else config
    n = _n_units(n_units)
    dtype = dtype or jnp.zeros(()).dtype
    if config.sparse:
        from .sparse import draw_sparse

        return draw_sparse(n, config, key=key, dtype=dtype)
    g = config.gain
    k_mag, k_mask = jax.random.split(key)
    if config.kind == "gaussian":
        w = jax.random.normal(k_mag, (n, n), dtype) * (g / math.sqrt(n))
    elif config.kind == "sparse":
        p = config.connection_probability
        mask = jax.random.bernoulli(k_mask, p, (n, n))
        w = jnp.where(mask, jax.random.normal(k_mag, (n, n), dtype) * (g / math.sqrt(p * n)), 0.0)
    elif config.kind == "nonnegative":
        w = jnp.abs(jax.random.normal(k_mag, (n, n), dtype)) * (g / math.sqrt(n))
    else:  # dale
        n_exc = int(round(config.excitatory_fraction * n))
        if not 0 < n_exc < n:
            raise ConfigError(
                f"excitatory_fraction={config.excitatory_fraction} leaves no excitatory or no "
                f"inhibitory unit among n_units={n}."
            )
        f_e, f_i = n_exc / n, (n - n_exc) / n
        # magnitudes |z|, E[|z|] = sqrt(2/pi), E[z^2] = 1. Scale s_E, s_I with
        # f_E s_E^2 + f_I s_I^2 = 1 (variance g^2/N) and, if balanced, f_E s_E = f_I s_I.
        if config.balanced:
            s_e = math.sqrt(f_i / (f_e * (f_e + f_i)))
            s_i = f_e * s_e / f_i
        else:
            s_e = s_i = 1.0
        sign = jnp.concatenate([jnp.full(n_exc, s_e), jnp.full(n - n_exc, -s_i)]).astype(dtype)
        w = jnp.abs(jax.random.normal(k_mag, (n, n), dtype)) * sign[None, :] * (g / math.sqrt(n))
    if not config.autapses:
        w = w * (1.0 - jnp.eye(n, dtype=dtype))
    if config.spectral_radius is not None:
        radius = float(np.max(np.abs(np.linalg.eigvals(np.asarray(w, dtype=np.float64)))))
        if radius == 0.0:
            raise ConfigError("spectral_radius: the drawn matrix has spectral radius 0.")
        w = w * (config.spectral_radius / radius)
    return w


def _dense(shape, scale, *, key, dtype):
    dtype = dtype or jnp.zeros(()).dtype
    return jax.random.normal(key, shape, dtype) * scale


def input_weights(n_units: int, n_inputs: int, *, scale: float = 1.0, key, dtype=None):
    """Fixed input weights ``B``, shape (unit, input), entries ``N(0, scale²)``."""
    return _dense((_n_units(n_units), int(n_inputs)), scale, key=key, dtype=dtype)


def feedback_weights(n_units: int, n_outputs: int, *, scale: float = 1.0, key, dtype=None):
    """Fixed feedback weights ``F``, shape (unit, output), entries ``N(0, scale²)``."""
    return _dense((_n_units(n_units), int(n_outputs)), scale, key=key, dtype=dtype)


def readout_weights(n_units: int, n_outputs: int, *, scale: float = 1.0, key, dtype=None):
    """Fixed random readout ``C``, shape (output, unit), entries ``N(0, scale²/N)``.

    The ``1/N`` variance keeps outputs O(1) when rates are O(1).
    """
    n = _n_units(n_units)
    return _dense((int(n_outputs), n), scale / math.sqrt(n), key=key, dtype=dtype)


def _n_units(n_units):
    if isinstance(n_units, bool) or not isinstance(n_units, (int, np.integer)) or n_units < 1:
        raise ConfigError(f"n_units: expected a positive integer, got {n_units!r}.")
    return int(n_units)
