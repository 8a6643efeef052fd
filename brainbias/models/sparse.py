"""Sparse fixed recurrent weights for large networks (``[network.connectivity] sparse = true``).

A network of ``N = 10⁴–10⁵`` units cannot hold its ``N²`` recurrent weights densely (``10¹⁰``
float32 are 40 GB), and a dense step costs ``N²`` multiply-adds whatever the connection
probability. :class:`SparseWeights` holds only the ``S ≈ pN²`` synapses that exist, as COO
triplets on one ``synapse`` axis:

``rows`` (synapse,) int32
    the postsynaptic unit ``i`` of each synapse (the row of ``W``), ascending;
``columns`` (synapse,) int32
    the presynaptic unit ``j`` (the column), ascending within a row;
``values`` (synapse,) float
    ``W_ij``.

``W @ r`` is a gather of ``r`` at ``columns``, a product with ``values`` and a sorted segment
sum over ``rows`` — memory and work O(S), and so is its gradient (reverse mode turns the gather
into a scatter-add over ``columns``). The results file stores the same three arrays
(:mod:`brainbias.results.schema`, ``recurrent_weights_row`` …).

Why this format (measured, docs/benchmarks.md "Sparse networks", benchmarks/bench_sparse.py):
inside ``jit`` + ``lax.scan`` + ``grad`` with respect to the bias, vmapped over a batch, the
plain gather/segment-sum was the fastest sparse format in most cases and within 1.35× of the
fastest at N = 10 000 (``jax.experimental.sparse`` BCOO and BCSR; brainevent's CSR, whose CPU
kernels need numba, was 9–45× slower at batch 1), and it needs no dependency. Dense storage is
faster from a density of about 1–2 % at batch 16: sparse storage is for memory first.

:func:`draw_sparse` draws the ``kind = "sparse"`` family (each connection present with
probability ``p``, ``W_ij ~ N(0, g²/(pN))``) without ever forming the ``N × N`` matrix: the
in-degree of each unit is ``Binomial(N, p)`` (``N − 1`` without autapses) and its presynaptic
units a uniform subset of that size, so its cost is linear in the number of synapses.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from .._pytree import pytree_dataclass, static_field

__all__ = ["SparseWeights", "is_sparse", "draw_sparse", "expected_synapses", "spectral_radius"]

#: above this connection probability the connections are drawn from a Bernoulli mask, row
#: block by row block (cost N² ≤ S / p: still linear in synapses), below it by sampling each
#: row's presynaptic units (cost O(S), a few rounds of redrawing duplicates)
_MASK_ABOVE = 0.1
#: entries of one block of the Bernoulli mask
_MASK_BLOCK = 1 << 22


@pytree_dataclass
class SparseWeights:
    """A fixed ``(unit, source_unit)`` matrix held as COO triplets (a pytree).

    Parameters
    ----------
    rows, columns : array of int32, shape (synapse,)
        Postsynaptic (row) and presynaptic (column) unit of each synapse, sorted by row, then
        column, no pair twice (:meth:`validate` checks it).
    values : array, shape (synapse,)
        The weights ``W_ij``.
    n_units : int
        ``N``; the matrix is ``N × N``.
    rows_sorted : bool
        True for a matrix in the order above; its transpose (:attr:`T`) has unsorted rows.

    Notes
    -----
    The products trust the indices (no clamping pass per step): build through
    :func:`draw_sparse`, :meth:`from_dense` or :func:`brainbias.results.network_from_dataset`,
    or call :meth:`validate` (``Network.validate`` does).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from brainbias.models.sparse import SparseWeights
    >>> w = SparseWeights.from_dense(jnp.array([[0.0, 2.0], [1.0, 0.0]]))
    >>> w.n_synapses, (w @ jnp.array([1.0, 10.0])).tolist()
    (2, [20.0, 1.0])
    """

    #: numpy defers ``ndarray @ SparseWeights`` to :meth:`__rmatmul__`
    __array_ufunc__ = None

    rows: jax.Array
    columns: jax.Array
    values: jax.Array
    n_units: int = static_field()
    rows_sorted: bool = static_field(default=True)

    @property
    def shape(self) -> tuple:
        return (self.n_units, self.n_units)

    @property
    def ndim(self) -> int:
        return 2

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def n_synapses(self) -> int:
        """``S``, the number of stored synapses."""
        return int(self.values.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the three arrays (linear in :attr:`n_synapses`)."""
        return int(sum(np.dtype(a.dtype).itemsize * a.size
                       for a in (self.rows, self.columns, self.values)))

    @property
    def T(self) -> SparseWeights:  # noqa: N802 (numpy's name)
        """The transpose (rows and columns swapped; its rows are no longer sorted)."""
        return SparseWeights(rows=self.columns, columns=self.rows, values=self.values,
                             n_units=self.n_units, rows_sorted=False)

    def __matmul__(self, x):
        """``W @ x`` for ``x`` of shape (source_unit,) or (source_unit, k)."""
        x = jnp.asarray(x)
        if x.ndim not in (1, 2) or x.shape[0] != self.n_units:
            raise ValueError(f"SparseWeights @ x: expected x of shape ({self.n_units},) or "
                             f"({self.n_units}, k), got {x.shape}.")
        v = self.values if x.ndim == 1 else self.values[:, None]
        # indices are validated (in range, non-negative): no clamping or wrapping pass per step
        pre = x.at[self.columns].get(mode="promise_in_bounds", wrap_negative_indices=False,
                                     indices_are_sorted=not self.rows_sorted)
        return jax.ops.segment_sum(v * pre, self.rows, self.n_units,
                                   indices_are_sorted=self.rows_sorted, mode="promise_in_bounds")

    def __rmatmul__(self, x):
        """``x @ W`` for ``x`` of shape (unit,) or (m, unit): ``(Wᵀ @ xᵀ)ᵀ``."""
        x = jnp.asarray(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.n_units:
            raise ValueError(f"x @ SparseWeights: expected x of shape ({self.n_units},) or "
                             f"(m, {self.n_units}), got {x.shape}.")
        return (self.T @ x.T).T

    def todense(self):
        """The dense ``(unit, source_unit)`` array (small networks, tests)."""
        w = jnp.zeros(self.shape, self.values.dtype)
        return w.at[self.rows, self.columns].set(self.values)

    @classmethod
    def from_dense(cls, w) -> SparseWeights:
        """The nonzero entries of a square dense array, in row-major order."""
        a = np.asarray(w)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ConfigError(f"recurrent_weights: expected a square (unit, source_unit) "
                              f"array, got shape {a.shape}.")
        rows, cols = np.nonzero(a)
        return cls(rows=jnp.asarray(rows, jnp.int32), columns=jnp.asarray(cols, jnp.int32),
                   values=jnp.asarray(w)[rows, cols], n_units=int(a.shape[0]))

    def validate(self) -> SparseWeights:
        """Check index dtypes, shapes, range, order and uniqueness and finite values; return
        self.

        Raises
        ------
        ConfigError
            Mismatched lengths, non-integer or out-of-range indices, unsorted or repeated
            (row, column) pairs, or non-finite values.
        """
        n = self.n_units
        rows, cols, vals = (np.asarray(a) for a in (self.rows, self.columns, self.values))
        if not (rows.ndim == cols.ndim == vals.ndim == 1
                and rows.shape == cols.shape == vals.shape):
            raise ConfigError(f"recurrent_weights (sparse): rows, columns and values must be "
                              f"1-D of one length, got shapes {rows.shape}, {cols.shape}, "
                              f"{vals.shape}.")
        for name, a in (("rows", rows), ("columns", cols)):
            if not np.issubdtype(a.dtype, np.integer):
                raise ConfigError(f"recurrent_weights (sparse): {name} must be integers, got "
                                  f"{a.dtype}.")
            if a.size and (a.min() < 0 or a.max() >= n):
                raise ConfigError(f"recurrent_weights (sparse): {name} must lie in [0, {n}), "
                                  f"got [{a.min()}, {a.max()}].")
        if self.rows_sorted:
            flat = rows.astype(np.int64) * n + cols
            if np.any(np.diff(flat) <= 0):
                raise ConfigError("recurrent_weights (sparse): synapses must be sorted by "
                                  "(row, column) with no pair repeated.")
        if not np.all(np.isfinite(vals)):
            raise ConfigError("recurrent_weights: contains NaN or infinite entries.")
        return self


def is_sparse(w) -> bool:
    """True for :class:`SparseWeights`."""
    return isinstance(w, SparseWeights)


def expected_synapses(n_units: int, config) -> float:
    """Expected number of stored synapses of ``recurrent_weights(n_units, config)``.

    ``N²`` for dense storage; ``p N²`` (``p N (N − 1)`` without autapses) for sparse storage.
    """
    n = int(n_units)
    if not getattr(config, "sparse", False):
        return float(n * n)
    return config.connection_probability * n * (n if config.autapses else n - 1)


def draw_sparse(n_units: int, config, *, key, dtype) -> SparseWeights:
    """Draw the ``kind = "sparse"`` recurrent weights as :class:`SparseWeights`.

    Each connection ``j → i`` is present with probability ``p = connection_probability``
    (``i ≠ j`` without autapses) and has weight ``N(0, g²/(pN))``, as in the dense family, but
    the ``N × N`` matrix is never formed: memory and time are linear in the number of synapses
    (module docstring). The same ``key`` draws a different matrix than the dense family.

    Parameters
    ----------
    n_units : int
    config : ConnectivityConfig
        With ``kind = "sparse"``.
    key : jax.random.PRNGKey
    dtype : dtype

    Returns
    -------
    SparseWeights

    Raises
    ------
    ConfigError
        If the config's kind is not ``"sparse"`` or it has too many synapses for int32
        indices.
    """
    if config.kind != "sparse":
        raise ConfigError(f'connectivity sparse = true: needs kind = "sparse" (each connection '
                          f"present with probability connection_probability), got kind = "
                          f'"{config.kind}". Set kind = "sparse" or sparse = false.')
    n, p = int(n_units), float(config.connection_probability)
    if n >= 2**31 or expected_synapses(n, config) >= 2**31 * 0.9:
        raise ConfigError(f"connectivity: {expected_synapses(n, config):.3g} synapses of "
                          f"n_units={n} are too many for int32 indices; lower "
                          "connection_probability or n_units.")
    k_idx, k_val = jax.random.split(key)
    rng = np.random.default_rng(_seed_words(k_idx))
    if p > _MASK_ABOVE:
        rows, cols = _mask_connections(rng, n, p, config.autapses)
    else:
        rows, cols = _sampled_connections(rng, n, p, config.autapses)
    scale = config.gain / math.sqrt(p * n)
    values = jax.random.normal(k_val, (rows.size,), dtype) * scale
    w = SparseWeights(rows=jnp.asarray(rows, jnp.int32), columns=jnp.asarray(cols, jnp.int32),
                      values=values, n_units=n)
    if config.spectral_radius is not None:
        radius = spectral_radius(w)
        if radius == 0.0:
            raise ConfigError("spectral_radius: the drawn matrix has spectral radius 0.")
        w = SparseWeights(rows=w.rows, columns=w.columns,
                          values=w.values * (config.spectral_radius / radius), n_units=n)
    return w


def _seed_words(key) -> list:
    """The 32-bit words of a JAX key, as a numpy seed (the index draw is on the host)."""
    if jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return [int(v) for v in np.asarray(key, dtype=np.uint32).ravel()]


def _mask_connections(rng, n, p, autapses):
    """(rows, columns) of a Bernoulli(p) mask drawn block by block of rows, in row-major
    order."""
    rows, cols = [], []
    block = max(1, _MASK_BLOCK // n)
    for start in range(0, n, block):
        stop = min(n, start + block)
        mask = rng.random((stop - start, n)) < p
        if not autapses:
            mask[np.arange(stop - start), np.arange(start, stop)] = False
        r, c = np.nonzero(mask)
        rows.append(r + start)
        cols.append(c)
    return np.concatenate(rows), np.concatenate(cols)


def _sampled_connections(rng, n, p, autapses):
    """(rows, columns) sorted by (row, column): in-degree ``Binomial(m, p)`` per row and a
    uniform subset of the ``m`` candidate presynaptic units (``m = N``, or ``N − 1`` without
    autapses). Duplicates of a draw with replacement are redrawn (in their row) until none is
    left; the procedure is symmetric in the candidates, so each subset of a given size is
    equally likely."""
    m = n if autapses else n - 1
    counts = rng.binomial(m, p, size=n)
    rows = np.repeat(np.arange(n, dtype=np.int64), counts)
    flat = np.sort(rows * m + rng.integers(0, m, size=rows.size))  # row-major synapse index
    while True:
        repeated = flat[1:] == flat[:-1]
        if not repeated.any():
            break
        again = flat[1:][repeated] // m  # the row of each surplus copy
        kept = flat[np.concatenate(([True], ~repeated))]
        flat = np.sort(np.concatenate((kept, again * m + rng.integers(0, m, size=again.size))))
    rows, cols = np.divmod(flat, m)
    if not autapses:  # candidates 0 … N−2 skip the unit itself
        cols = cols + (cols >= rows)
    return rows, cols


def spectral_radius(w: SparseWeights) -> float:
    """``max |λ(W)|`` of a sparse matrix: ARPACK (``scipy.sparse.linalg.eigs``, the six
    eigenvalues of largest modulus) from the sparse matrix, dense ``numpy.linalg.eigvals`` for
    ``N < 16``.

    Raises
    ------
    ConfigError
        If ARPACK does not converge.
    """
    import scipy.sparse
    import scipy.sparse.linalg

    n = w.n_units
    a = scipy.sparse.csr_matrix((np.asarray(w.values, np.float64),
                                 (np.asarray(w.rows), np.asarray(w.columns))), shape=(n, n))
    if n < 16:
        return float(np.max(np.abs(np.linalg.eigvals(a.toarray())), initial=0.0))
    if a.nnz == 0:
        return 0.0
    try:
        lam = scipy.sparse.linalg.eigs(a, k=6, which="LM", return_eigenvectors=False,
                                       maxiter=100 * n, tol=1e-10)
    except scipy.sparse.linalg.ArpackNoConvergence as exc:
        raise ConfigError(f"spectral_radius: ARPACK did not converge for the sparse "
                          f"recurrent weights (N = {n}): {exc}. Leave spectral_radius unset "
                          "and choose the gain instead.") from None
    return float(np.max(np.abs(lam)))
