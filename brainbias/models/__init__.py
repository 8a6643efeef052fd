"""Model families: the fixed random networks that a tonic-input controller drives.

================  ================================================================================
``base``          the protocol every family implements (:class:`~brainbias.models.base.Model`) and
                  the functions written once for all of them: simulation, the one-step map, its
                  vector field
``rate``          the firing-rate network (continuous leak and discrete forms)
``ltc``           the liquid time-constant network with conductance-based synapses (Hasani et al.
                  2021; Lemmel & Grosu 2023): its solvers and the ``A(v, u) v + c(v, u)`` view
``feedforward``   a fixed random feedforward network with one bias set per task (multitask,
                  sign constraints)
``registry``      the families by name (``[network] model``) and :func:`make_model`
``connectivity``  the fixed random weight families the networks are drawn from
================  ================================================================================
"""

from .base import MODES, Model, autonomous_map, output, rates, simulate, step, vector_field
from .feedforward import (
    MONOTONE_NONLINEARITIES,
    WEIGHT_KINDS,
    Feedforward,
    activations,
    forward,
    init_biases,
    is_nonnegative,
    make_feedforward,
    project_nonnegative,
)
from .ltc import LTCConfig, LTCNetwork, make_ltc_network
from .rate import Network, make_network
from .registry import FAMILIES, family_class, make_model

__all__ = ["Model", "MODES", "rates", "output", "step", "simulate", "autonomous_map",
           "vector_field", "Network", "make_network", "LTCConfig", "LTCNetwork",
           "make_ltc_network", "FAMILIES", "family_class", "make_model", "Feedforward",
           "make_feedforward", "forward", "activations", "init_biases", "project_nonnegative",
           "is_nonnegative", "WEIGHT_KINDS", "MONOTONE_NONLINEARITIES"]
