"""BrainPy backend of :func:`brainbias.analysis.fixed_points.find_fixed_points`
(``method="brainpy"``): BrainPy's ``analysis.SlowPointFinder`` gradient descent in place of our
Adam and Newton polish. brainpy is imported lazily, only here and in :mod:`brainbias.interop`.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def _import_brainpy():
    """brainpy, imported without losing the caller's float64 setting (see
    :func:`brainbias.interop.brainpy.import_brainpy`)."""
    from ..interop.brainpy import import_brainpy

    return import_brainpy()[0]


def _brainpy_minimise(step_fn, starts, *, n_iterations, learning_rate, decay_rate, q_tolerance):
    """Run BrainPy's ``SlowPointFinder`` gradient descent; return its final states."""
    bp = _import_brainpy()
    n_units = starts.shape[1]
    # A pure function closing over arrays: BrainPy's finder fails with UnexpectedTracerError on
    # functions that read model state. f_type="discrete": its loss is then
    # mean((F(x) − x)²) over units = 2 q / n_units (q in our ½·sum convention).
    finder = bp.analysis.SlowPointFinder(step_fn, f_type="discrete", verbose=False)
    optimizer = bp.optim.Adam(
        lr=bp.optim.ExponentialDecayLR(learning_rate, 1, decay_rate),
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
    )
    # num_batch = num_opt: one compiled loop; BrainPy's default (100) re-enters Python every
    # 100 iterations, which dominates its run time.
    finder.find_fps_with_gd_method(
        starts,
        tolerance=2.0 * q_tolerance / n_units,
        num_batch=max(n_iterations, 1),
        num_opt=max(n_iterations, 1),
        optimizer=optimizer,
    )
    return jnp.asarray(np.asarray(finder.fixed_points), dtype=starts.dtype)
