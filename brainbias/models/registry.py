"""The model families by name, and drawing a network of any family.

``[network] model = "rate" | "ltc"`` picks one; results files record it (attribute ``model``)
so that :func:`brainbias.results.network_from_dataset` rebuilds the same family.
"""

from __future__ import annotations

from .._errors import ConfigError, did_you_mean
from .ltc import LTCNetwork, make_ltc_network
from .rate import Network, make_network

__all__ = ["FAMILIES", "family_class", "make_model"]

#: family name → its :class:`~brainbias.models.base.Model` class
FAMILIES = {"rate": Network, "ltc": LTCNetwork}


def family_class(name: str):
    """The class of family ``name``; ConfigError naming the known families if unknown."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"network.model: expected one of {tuple(FAMILIES)}, got {name!r}."
                          + did_you_mean(name, FAMILIES)) from None


def make_model(family: str, n_units: int, *, options=None, **common):
    """Draw a network of ``family`` with fixed random parameters.

    Parameters
    ----------
    family : {"rate", "ltc"}
    n_units : int
    options : dict, optional
        The family's own keyword arguments: ``connectivity``, ``nonlinearity``, ``form`` for
        ``rate`` (:func:`~brainbias.models.rate.make_network`); ``config`` (an
        :class:`~brainbias.models.ltc.LTCConfig`) for ``ltc``
        (:func:`~brainbias.models.ltc.make_ltc_network`).
    **common
        What every family takes: ``n_inputs``, ``n_outputs``, ``input_scale``,
        ``feedback_scale``, ``readout_scale``, ``dt``, ``tau``, ``key``, ``dtype``.
    """
    family_class(family)
    make = {"rate": make_network, "ltc": make_ltc_network}[family]
    return make(n_units, **dict(options or {}), **common)
