"""Targets by name: :data:`TARGETS` and :func:`make_target` (a target from a config table)."""

from __future__ import annotations

import inspect

from ..._errors import ConfigError, did_you_mean
from ..trajectory import Trajectory
from .chaotic import lorenz, lorenz_forecast
from .context_integration import context_integration
from .limit_cycles import cosine, stuart_landau, van_der_pol

# ---------------------------------------------------------------------------------------------
# Registry and configs
# ---------------------------------------------------------------------------------------------

TARGETS = {
    "lorenz": lorenz,
    "lorenz_forecast": lorenz_forecast,
    "van_der_pol": van_der_pol,
    "stuart_landau": stuart_landau,
    "cosine": cosine,
    "context_integration": context_integration,
}


def make_target(spec) -> Trajectory:
    """Build a target from a config table, e.g. ``{"kind": "lorenz", "n_steps": 5000}``.

    Parameters
    ----------
    spec : mapping
        ``kind`` (a key of :data:`TARGETS`) and keyword arguments of that generator.

    Returns
    -------
    Trajectory
        What the generator ``TARGETS[kind]`` returns for these keyword arguments.

    Raises
    ------
    ConfigError
        Not a mapping, missing or unknown ``kind``, unknown or missing keys (with a
        suggestion), or values the generator rejects.

    Examples
    --------
    >>> from brainbias.data.targets import make_target
    >>> make_target({"kind": "cosine", "n_steps": 100, "name": "cos25"}).name
    'cos25'
    """
    if not hasattr(spec, "keys"):
        raise ConfigError(f"target: expected a table such as {{kind = 'lorenz', n_steps = 5000}}, "
                          f"got {type(spec).__name__}.")
    spec = dict(spec)
    if "kind" not in spec:
        raise ConfigError(f"target: missing 'kind'; expected one of {sorted(TARGETS)}.")
    kind = spec.pop("kind")
    if kind not in TARGETS:
        raise ConfigError(f"target kind: expected one of {sorted(TARGETS)}, got {kind!r}."
                          + did_you_mean(kind, TARGETS))
    generator = TARGETS[kind]
    params = inspect.signature(generator).parameters
    for key in spec:
        if key not in params:
            raise ConfigError(
                f"target {kind!r}: unknown key {key!r}; allowed keys are {sorted(params)}."
                + did_you_mean(key, params)
            )
    missing = [k for k, p in params.items() if p.default is inspect.Parameter.empty
               and k not in spec]
    if missing:
        raise ConfigError(f"target {kind!r}: missing required key(s) {missing}.")
    return generator(**spec)
