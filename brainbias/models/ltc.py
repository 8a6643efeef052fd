"""Liquid time-constant (LTC) networks with conductance-based synapses.

The membrane equation of Hasani et al. (2021) and Lemmel & Grosu (2023), potentials ``v``
(unit,), one tonic bias current per context as the controller::

    C_m dv_i/dt = −g_i (v_i − E^L_i) − Σ_j w_ij σ(γ_ij (v_j − μ_ij)) (v_i − E_ij) + I_i

with ``I = b + B u + F f`` (bias, inputs, fed-back output; :func:`brainbias.models.base.current`).
Four fixed parameters per synapse: the maximal conductance ``w_ij ≥ 0``, the steepness
``γ_ij`` and midpoint ``μ_ij`` of its sigmoid activation, and the reversal potential ``E_ij``
(set by the presynaptic unit's type: excitatory above rest, inhibitory below). Units:
conductances are relative to a unit leak, so ``C_m = tau`` is the membrane time constant at rest
and the leak of the protocol is ``a = dt / tau``; potentials are normalised, rest
``E^L = 0`` and the excitatory reversal 1 (with rest at −65 mV and excitation at 0 mV, one unit
is 65 mV and GABA_A's −80 mV is −0.23; the default inhibitory reversal −1 makes inhibition as
strong as excitation).

**Linear in v with state-dependent coefficients** (Lemmel & Grosu 2023)::

    dv/dt = A(v, I) v + c(v, I),   A = −diag(g + Σ_j w_ij s_ij) / C_m,
                                   c = (g E^L + Σ_j w_ij s_ij E_ij + I) / C_m,

``s_ij = σ(γ_ij (v_j − μ_ij))``. :func:`coefficients` returns ``A`` (its diagonal) and ``c``;
:func:`jacobian` the true Jacobian ``A + (∂A/∂v) v + ∂c/∂v``, whose entries are
``A_i δ_ik + w_ik γ_ik s_ik (1 − s_ik) (E_ik − v_i) / C_m``.

**Solvers** (``solver``; each step of ``dt`` is split into ``unfolds`` sub-steps of
``h = dt / unfolds``):

``fused``  Hasani et al.'s fused semi-implicit step, implicit in the leak and synaptic
           conductances and explicit in their activations::

               v ← (v + (h/C_m)(g E^L + Σ_j w_ij s_ij E_ij + I)) / (1 + (h/C_m)(g + Σ_j w_ij s_ij))

           A convex combination of ``v`` and the reversal potentials (plus the current term):
           bounded for any step, first order in ``h``.
``euler``  explicit Euler (a reference; unstable when ``h/C_m · (g + Σ_j w_ij) > 2``).
``rk4``    classical Runge–Kutta (the reference the tests converge the others to).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, check_int, check_positive, did_you_mean
from .._pytree import pytree_dataclass, static_field
from .base import SharedWeights

__all__ = ["LTCConfig", "LTCNetwork", "SOLVERS", "make_ltc_network", "coefficients", "field",
           "jacobian", "synaptic_conductance"]

SOLVERS = ("fused", "euler", "rk4")


def _check_range(name, value, *, positive=False):
    if (isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple))
            or len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                          and math.isfinite(v) for v in value)
            or value[0] > value[1]):
        raise ConfigError(f"network.ltc.{name}: expected [low, high] with finite low ≤ high, "
                          f"got {value!r}.")
    if positive and value[0] <= 0:
        raise ConfigError(f"network.ltc.{name}: both ends must be > 0, got {list(value)}.")
    return tuple(float(v) for v in value)


@dataclasses.dataclass(frozen=True)
class LTCConfig:
    """How to draw an LTC network's fixed synapses, and how to step it (``[network.ltc]``).

    Parameters
    ----------
    solver : {"fused", "euler", "rk4"}
        The step (module docstring); ``fused`` is bounded for any ``dt``.
    unfolds : int
        Sub-steps per time step (``h = dt / unfolds``), ≥ 1.
    synapse_scale : float
        Mean total maximal synaptic conductance onto a unit, in units of its leak
        (``Σ_j E[w_ij] = synapse_scale``); ≥ 0. Weights are uniform on
        ``[0, 2 w̄]`` with ``w̄ = synapse_scale / (p N)``, inhibitory ones scaled by
        ``balanced``.
    connection_probability : float
        ``p``: each synapse exists with this probability, in (0, 1].
    excitatory_fraction : float
        Fraction of presynaptic units that are excitatory (reversal ``reversal_excitatory``),
        in (0, 1); the others are inhibitory.
    balanced : bool
        Scale inhibitory conductances by ``f_E / f_I`` so that excitation and inhibition bring
        the same expected conductance.
    reversal_excitatory, reversal_inhibitory, leak_reversal : float
        ``E`` of excitatory and inhibitory synapses and ``E^L`` (normalised potentials); finite,
        with ``reversal_inhibitory < leak_reversal < reversal_excitatory``.
    leak_conductance : float
        ``g`` of every unit (> 0; 1 makes ``tau`` the membrane time constant at rest).
    gain_range : [low, high]
        ``γ_ij`` uniform in this range (per unit of potential), both ends > 0.
    midpoint_range : [low, high]
        ``μ_ij`` uniform in this range (potentials).
    """

    solver: str = "fused"
    unfolds: int = 1
    synapse_scale: float = 1.0
    connection_probability: float = 1.0
    excitatory_fraction: float = 0.8
    balanced: bool = True
    reversal_excitatory: float = 1.0
    reversal_inhibitory: float = -1.0
    leak_reversal: float = 0.0
    leak_conductance: float = 1.0
    gain_range: tuple = (3.0, 8.0)
    midpoint_range: tuple = (-0.5, 0.5)

    def __post_init__(self):
        if self.solver not in SOLVERS:
            raise ConfigError(f"network.ltc.solver: expected one of {SOLVERS}, got "
                              f"{self.solver!r}." + did_you_mean(self.solver, SOLVERS))
        check_int("network.ltc.unfolds", self.unfolds, minimum=1)
        check_positive("network.ltc.synapse_scale", self.synapse_scale, allow_zero=True)
        check_positive("network.ltc.leak_conductance", self.leak_conductance)
        p, f = self.connection_probability, self.excitatory_fraction
        if not (isinstance(p, (int, float)) and 0.0 < p <= 1.0):
            raise ConfigError(f"network.ltc.connection_probability: expected a number in (0, 1], "
                              f"got {p!r}.")
        if not (isinstance(f, (int, float)) and 0.0 < f < 1.0):
            raise ConfigError(f"network.ltc.excitatory_fraction: expected a number in (0, 1), "
                              f"got {f!r}.")
        _check_reversals(self.reversal_inhibitory, self.leak_reversal, self.reversal_excitatory)
        object.__setattr__(self, "gain_range", _check_range("gain_range", self.gain_range,
                                                            positive=True))
        object.__setattr__(self, "midpoint_range",
                           _check_range("midpoint_range", self.midpoint_range))


def _check_reversals(e_inh, e_leak, e_exc):
    names = ("reversal_inhibitory", "leak_reversal", "reversal_excitatory")
    for name, v in zip(names, (e_inh, e_leak, e_exc), strict=True):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"network.ltc.{name}: expected a finite potential, got {v!r}.")
    if not e_inh < e_leak < e_exc:
        raise ConfigError(
            f"network.ltc: reversal potentials must be ordered reversal_inhibitory < "
            f"leak_reversal < reversal_excitatory (inhibition pulls below rest, excitation above); "
            f"got {e_inh} < {e_leak} < {e_exc}. Swap them or set e.g. -1, 0, 1.")


@pytree_dataclass
class LTCNetwork(SharedWeights):
    """An LTC network with fixed conductance-based synapses (a pytree; arrays are leaves).

    Implements :class:`brainbias.models.base.Model`; the state is the membrane potential ``v``
    and ``rates(v) = v`` (what the readout reads, as in Hasani et al. 2021).

    Parameters
    ----------
    synapse_weight, synapse_gain, synapse_midpoint, synapse_reversal : array, (unit, source_unit)
        ``w ≥ 0``, ``γ``, ``μ``, ``E`` (rows postsynaptic).
    leak_conductance, leak_reversal : array, shape (unit,)
        ``g > 0`` and ``E^L``.
    input_weights, feedback_weights, readout_weights : array
        As for every family (:mod:`brainbias.models.base`).
    dt, tau : float
        Time step and membrane capacitance ``C_m`` (= time constant at unit leak), ``dt ≤ tau``.
    solver : {"fused", "euler", "rk4"}
    unfolds : int
    """

    family: ClassVar[str] = "ltc"
    array_dims: ClassVar[dict] = {
        "synapse_weight": ("unit", "source_unit"),
        "synapse_gain": ("unit", "source_unit"),
        "synapse_midpoint": ("unit", "source_unit"),
        "synapse_reversal": ("unit", "source_unit"),
        "leak_conductance": ("unit",),
        "leak_reversal": ("unit",),
        "input_weights": ("unit", "input"),
        "feedback_weights": ("unit", "output"),
        "readout_weights": ("output", "unit"),
    }

    synapse_weight: jax.Array
    synapse_gain: jax.Array
    synapse_midpoint: jax.Array
    synapse_reversal: jax.Array
    leak_conductance: jax.Array
    leak_reversal: jax.Array
    input_weights: jax.Array
    feedback_weights: jax.Array
    readout_weights: jax.Array
    dt: float = static_field(default=0.1)
    tau: float = static_field(default=1.0)
    solver: str = static_field(default="fused")
    unfolds: int = static_field(default=1)

    def __post_init__(self):
        # static fields only (pytree unflattening passes tracers and None holes)
        self._check_time_step()
        if self.solver not in SOLVERS:
            raise ConfigError(f"solver: expected one of {SOLVERS}, got {self.solver!r}."
                              + did_you_mean(self.solver, SOLVERS))
        check_int("unfolds", self.unfolds, minimum=1)

    @property
    def n_units(self) -> int:
        return self.synapse_weight.shape[0]

    @property
    def dtype(self):
        return self.synapse_weight.dtype

    def rates(self, state):
        """The observable: the membrane potential itself."""
        return state

    def advance(self, state, rate, current, leak):
        """One step of ``dt`` (``unfolds`` sub-steps of the chosen solver); ``leak = dt / C_m``."""
        h = leak / self.unfolds  # h / C_m of one sub-step, dimensionless
        v = state
        for _ in range(self.unfolds):
            v = _SUBSTEPS[self.solver](self, v, current, h)
        return v

    def constrain(self, reference: LTCNetwork) -> LTCNetwork:
        """Conductances projected back to their physical range after a training step that moved
        them (``mode="all"``): ``w ≥ 0`` (absent synapses of ``reference`` stay absent),
        ``g ≥ 1e-3`` × the reference's leak."""
        w = jnp.where(reference.synapse_weight > 0, jnp.maximum(self.synapse_weight, 0.0), 0.0)
        g = jnp.maximum(self.leak_conductance, 1e-3 * reference.leak_conductance)
        return dataclasses.replace(self, synapse_weight=w, leak_conductance=g)

    def validate(self) -> LTCNetwork:
        """Check shapes, finiteness and signs (conductances), and that the explicit Euler solver is
        stable at this step; return self."""
        n = self.synapse_weight.shape[0] if self.synapse_weight.ndim == 2 else -1
        for name, dims in self.array_dims.items():
            a = getattr(self, name)
            want = tuple(n if d in ("unit", "source_unit") else None for d in dims)
            if a.ndim != len(dims) or any(w is not None and s != w
                                          for s, w in zip(a.shape, want, strict=True)):
                shown = tuple("?" if w is None else w for w in want)
                raise ConfigError(f"{name}: expected shape {shown}, got {tuple(a.shape)}.")
            if not bool(np.all(np.isfinite(np.asarray(a)))):
                raise ConfigError(f"{name}: contains NaN or infinite entries.")
        if self.readout_weights.shape[0] != self.feedback_weights.shape[1]:
            raise ConfigError("feedback_weights: expected one column per output "
                              f"({self.readout_weights.shape[0]}), got "
                              f"{self.feedback_weights.shape[1]}.")
        if np.any(np.asarray(self.synapse_weight) < 0):
            raise ConfigError("synapse_weight: conductances must be ≥ 0 (a negative conductance "
                              "makes the fused step unbounded); inhibition is a reversal "
                              "potential below rest, not a negative weight.")
        if np.any(np.asarray(self.leak_conductance) <= 0):
            raise ConfigError("leak_conductance: must be > 0 (network.ltc.leak_conductance).")
        if self.solver == "euler":
            _check_euler_stable(self)
        return self


def _check_euler_stable(net: LTCNetwork):
    worst = float(np.max(np.asarray(net.leak_conductance)
                         + np.asarray(net.synapse_weight).sum(axis=1)))
    h = net.leak / net.unfolds
    need = math.ceil(h * worst * net.unfolds / 2)
    if h * worst > 2.0:
        raise ConfigError(
            f"network.ltc.solver = \"euler\" is unstable at this step: (dt/tau/unfolds) × the "
            f"largest total conductance = {h:.3g} × {worst:.3g} = {h * worst:.3g} > 2. Use "
            f'solver = "fused" (bounded for any step) or unfolds ≥ {need}.')


def synaptic_conductance(network: LTCNetwork, v):
    """``(Σ_j w_ij s_ij, Σ_j w_ij s_ij E_ij)`` at potentials ``v`` (unit,), each (unit,)."""
    return _synapses(network.synapse_weight, network.synapse_gain, network.synapse_midpoint,
                     network.synapse_reversal, v)


@jax.checkpoint  # recomputed in the backward pass: BPTT stores v, not the (unit, unit) activations
def _synapses(w, gain, mid, rev, v):
    ws = w * jax.nn.sigmoid(gain * (v[None, :] - mid))
    return ws.sum(axis=1), (ws * rev).sum(axis=1)


def _rhs(net: LTCNetwork, v, current):
    """``C_m dv/dt``."""
    g_syn, e_syn = synaptic_conductance(net, v)
    return (-net.leak_conductance * (v - net.leak_reversal) - g_syn * v + e_syn + current)


def _fused(net, v, current, h):
    g_syn, e_syn = synaptic_conductance(net, v)
    num = v + h * (net.leak_conductance * net.leak_reversal + e_syn + current)
    return num / (1.0 + h * (net.leak_conductance + g_syn))


def _euler(net, v, current, h):
    return v + h * _rhs(net, v, current)


def _rk4(net, v, current, h):
    k1 = _rhs(net, v, current)
    k2 = _rhs(net, v + 0.5 * h * k1, current)
    k3 = _rhs(net, v + 0.5 * h * k2, current)
    k4 = _rhs(net, v + h * k3, current)
    return v + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


_SUBSTEPS = {"fused": _fused, "euler": _euler, "rk4": _rk4}


def coefficients(network: LTCNetwork, v, current, *, tau=None):
    """``(A, c)`` of ``dv/dt = A v + c`` at ``v`` (unit,) with current ``I`` (unit,).

    ``A`` is diagonal and returned as its diagonal (unit,), per unit of time (``tau``
    overrides ``network.tau``, e.g. a trained time constant). ``A_i = −1 / τ_i(v)`` names the
    *liquid* time constant of unit ``i``.
    """
    cm = network.tau if tau is None else tau
    g_syn, e_syn = synaptic_conductance(network, v)
    a = -(network.leak_conductance + g_syn) / cm
    c = (network.leak_conductance * network.leak_reversal + e_syn + current) / cm
    return a, c


def field(network: LTCNetwork, v, current, *, tau=None):
    """``dv/dt = A(v, I) v + c(v, I)`` (unit,)."""
    a, c = coefficients(network, v, current, tau=tau)
    return a * v + c


def jacobian(network: LTCNetwork, v, current, *, dcurrent_dv=None, tau=None):
    """The true Jacobian of :func:`field`, ``A + (∂A/∂v) v + ∂c/∂v`` (unit, unit), in closed form.

    ``dcurrent_dv`` (unit, unit) adds a current that depends on the state, e.g. the fed-back
    output ``F C v`` in closed loop (pass ``F @ C``).
    """
    cm = network.tau if tau is None else tau
    a, _ = coefficients(network, v, current, tau=tau)
    s = jax.nn.sigmoid(network.synapse_gain * (v[None, :] - network.synapse_midpoint))
    ds = network.synapse_weight * network.synapse_gain * s * (1.0 - s)
    jac = jnp.diag(a) + ds * (network.synapse_reversal - v[:, None]) / cm
    if dcurrent_dv is not None:
        jac = jac + dcurrent_dv / cm
    return jac


def _draw_synapses(n, config: LTCConfig, key, dtype):
    k_mask, k_w, k_type, k_gain, k_mid = jax.random.split(key, 5)
    p = config.connection_probability
    w = jax.random.uniform(k_w, (n, n), dtype) * 2.0 * config.synapse_scale / (p * n)
    if p < 1.0:
        w = w * jax.random.bernoulli(k_mask, p, (n, n)).astype(dtype)
    excit = jax.random.uniform(k_type, (n,)) < config.excitatory_fraction
    if config.balanced:
        f = config.excitatory_fraction
        w = w * jnp.where(excit, 1.0, f / (1.0 - f))[None, :].astype(dtype) / (2.0 * f)
    rev = jnp.where(excit, config.reversal_excitatory, config.reversal_inhibitory).astype(dtype)
    lo, hi = config.gain_range
    gain = jax.random.uniform(k_gain, (n, n), dtype, lo, hi)
    lo, hi = config.midpoint_range
    mid = jax.random.uniform(k_mid, (n, n), dtype, lo, hi)
    return w, gain, mid, jnp.broadcast_to(rev[None, :], (n, n))


def make_ltc_network(n_units: int, *, n_inputs: int = 0, n_outputs: int = 1,
                     config: LTCConfig | None = None, input_scale: float = 1.0,
                     feedback_scale: float = 1.0, readout_scale: float = 1.0, dt: float = 0.1,
                     tau: float = 1.0, key, dtype=None) -> LTCNetwork:
    """Draw an LTC network with fixed random synapses (:class:`LTCConfig` says how).

    Input, feedback and readout weights are drawn as for the rate network
    (:mod:`brainbias.models.connectivity`). With ``balanced=True`` excitatory and inhibitory
    synapses bring the same expected conductance and the total expected conductance onto a unit
    is ``synapse_scale`` (times the leak).

    Examples
    --------
    >>> import jax
    >>> from brainbias.models.ltc import make_ltc_network
    >>> make_ltc_network(20, n_outputs=2, key=jax.random.PRNGKey(0)).synapse_weight.shape
    (20, 20)
    """
    from . import connectivity as conn

    config = LTCConfig() if config is None else config
    dtype = jnp.dtype(dtype) if dtype is not None else jnp.zeros(()).dtype
    k_syn, k_in, k_fb, k_out = jax.random.split(key, 4)
    w, gain, mid, rev = _draw_synapses(n_units, config, k_syn, dtype)
    return LTCNetwork(
        synapse_weight=w, synapse_gain=gain, synapse_midpoint=mid, synapse_reversal=rev,
        leak_conductance=jnp.full((n_units,), config.leak_conductance, dtype),
        leak_reversal=jnp.full((n_units,), config.leak_reversal, dtype),
        input_weights=conn.input_weights(n_units, n_inputs, scale=input_scale, key=k_in,
                                         dtype=dtype),
        feedback_weights=conn.feedback_weights(n_units, n_outputs, scale=feedback_scale,
                                               key=k_fb, dtype=dtype),
        readout_weights=conn.readout_weights(n_units, n_outputs, scale=readout_scale, key=k_out,
                                             dtype=dtype),
        dt=dt, tau=tau, solver=config.solver, unfolds=config.unfolds,
    ).validate()
