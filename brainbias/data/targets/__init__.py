"""Target trajectories: chaotic and periodic systems, the forecasting task, arrays, BrainPy models.

Every generator returns a :class:`~brainbias.data.trajectory.Trajectory` sampled on the grid
``t_k = transient + k·dt``, ``k = 0 … n_steps − 1``. ODE systems are integrated with scipy's
8th-order Dormand–Prince method (DOP853, ``scipy.integrate.ode``, ``rtol = 1e-10``,
``atol = 1e-12``, integrated to each grid time), so the samples agree with an independent tight
solution to about 1e-8 over a few time units; the first ``transient`` time units are integrated
and dropped. (On a chaotic attractor any two integrators part after tens of time units: the
samples are *a* true orbit to that accuracy locally, not *the* orbit from the initial state.)
``standardise=True`` z-scores each output dimension; the means and standard deviations are kept
in ``attrs["mean"]`` and ``attrs["std"]`` so that ``raw = outputs · std + mean``.

``transient`` and ``dt`` are in the time unit of the system; ``n_steps`` counts samples.
Nothing here draws random numbers unless a ``seed`` is given.

:data:`TARGETS` maps config names to generators and :func:`make_target` builds a target from a
config table such as ``{"kind": "lorenz", "n_steps": 5000, "dt": 0.02}``.

Which file holds what:

``chaotic``       :func:`lorenz`, :func:`lorenz_forecast`, :data:`LORENZ_LYAPUNOV_EXPONENT`;
``limit_cycles``  :func:`van_der_pol`, :func:`stuart_landau`, :func:`cosine`,
                  :func:`estimate_period`;
``external``      :func:`from_array` (arrays) and :func:`from_brainpy` (any BrainPy model);
``context_integration``  :func:`context_integration` (Mante et al. 2013: two noisy streams,
                         the context picks one), :func:`context_integration_trials`,
                         :func:`leaky_evidence`;
``registry``      :data:`TARGETS` and :func:`make_target`;
``_common``       argument checks, the ODE integrator and standardisation they share.
"""

from .chaotic import LORENZ_LYAPUNOV_EXPONENT, lorenz, lorenz_forecast
from .context_integration import context_integration, context_integration_trials, leaky_evidence
from .external import from_array, from_brainpy
from .limit_cycles import cosine, estimate_period, stuart_landau, van_der_pol
from .registry import TARGETS, make_target

__all__ = [
    "LORENZ_LYAPUNOV_EXPONENT",
    "TARGETS",
    "lorenz",
    "lorenz_forecast",
    "van_der_pol",
    "stuart_landau",
    "cosine",
    "context_integration",
    "context_integration_trials",
    "leaky_evidence",
    "from_array",
    "from_brainpy",
    "make_target",
    "estimate_period",
]
