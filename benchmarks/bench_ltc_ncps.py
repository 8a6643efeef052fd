"""brainbias's LTC step against an independent implementation: the ``ncps`` package's ``LTCCell``.

``ncps`` (Lechner & Hasani; the fused solver of Hasani et al. 2021, torch) steps::

    v ← (c v + g_L E_L + Σ_j w_ji s_ji E_ji + Σ_k w'_ki s'_ki E'_ki)
        / (c + g_L + Σ_j w_ji s_ji + Σ_k w'_ki s'_ki + ε),   c = cm / (elapsed_time / ode_unfolds)

``ode_unfolds`` times per call, with ``s_ji = σ(sigma_ji (v_j − mu_ji))`` and the sensory
synapses ``w'``, ``s'``, ``E'`` driven by the inputs. brainbias's fused sub-step,
``v ← (v + h (g E^L + Σ_j w_ij s_ij E_ij + I)) / (1 + h (g + Σ_j w_ij s_ij))`` with
``h = (dt / tau) / unfolds``, is the same map divided through by ``c = 1 / h``. Mapping (ncps
matrices are (pre, post), brainbias's (post, pre), hence the transposes):

- ``cm = tau``, ``elapsed_time = dt``, ``ode_unfolds = unfolds``, ``epsilon = 0``;
- ``gleak = leak_conductance``, ``vleak = leak_reversal``;
- ``w = synapse_weight.T``, ``sigma = synapse_gain.T``, ``mu = synapse_midpoint.T``,
  ``erev = synapse_reversal.T``, ``sparsity_mask = (synapse_weight.T != 0)``;
- ``implicit_param_constraints = False`` (no softplus), ``input_mapping = output_mapping = None``
  (no affine maps);
- the bias current ``I`` has no counterpart in ncps; it enters through two sensory inputs whose
  synapses have ``sensory_sigma = 0`` (activation σ(0) = 1/2 whatever the input), weights
  ``+1`` and ``−1`` and reversals ``2 I`` and ``0``: they add ``½·2I − ½·0 = I`` to the numerator
  and ``½ − ½ = 0`` to the denominator, both exactly in floating point. (A negative sensory
  conductance is only valid because ncps's ``apply_weight_constraints`` is never called; the
  other exact route is ``vleak = E^L + I / g``.) With zero bias the sensory weights are 0.

Both sides run in float64 from the same random states (a batch of 16), one step and 100 steps of
``dt = 0.5`` with ``tau = 1`` and ``synapse_scale = 4`` (strong, state-dependent conductances).
Controls: ncps's default ``epsilon = 1e-8`` and an untransposed ``w`` show the size of a real
mismatch. One step must agree to 1e-10 (raised as an error otherwise); 100 steps are reported.

Needs torch and ncps, which the test suite does not: ``make bench-ncps`` installs them in
``.venv-ncps``. Run: ``python benchmarks/bench_ltc_ncps.py [--quick]``. Without them ``run``
returns one row saying the comparison was skipped.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import time
from pathlib import Path

import numpy as np

DT, TAU, SYNAPSE_SCALE, BATCH = 0.5, 1.0, 4.0, 16
STEPS = (1, 100)
# the two maps are algebraically equal; float64 rounding after one step is ~1e-16 per unit
ONE_STEP_TOLERANCE = 1e-10


def _network(n, density, unfolds, seed):
    import jax
    import jax.numpy as jnp

    from brainbias.models.ltc import LTCConfig, make_ltc_network

    config = LTCConfig(unfolds=unfolds, connection_probability=density,
                       synapse_scale=SYNAPSE_SCALE)
    return make_ltc_network(n, config=config, dt=DT, tau=TAU, key=jax.random.PRNGKey(seed),
                            dtype=jnp.float64)


def ncps_cell(net, bias=None, *, epsilon=0.0, transpose=True):
    """An ncps ``LTCCell`` (float64, two sensory inputs) with ``net``'s parameters (module
    docstring); ``bias`` (unit,) enters through the sensory pair, ``transpose=False`` is the
    deliberately wrong control."""
    import torch
    from ncps.torch import LTCCell
    from ncps.wirings import FullyConnected

    n = net.n_units
    cell = LTCCell(FullyConnected(n), in_features=2, input_mapping=None, output_mapping=None,
                   ode_unfolds=net.unfolds, epsilon=epsilon, implicit_param_constraints=False)
    t = (lambda a: np.asarray(a).T) if transpose else np.asarray
    w = t(net.synapse_weight)
    current = np.zeros(n) if bias is None else np.asarray(bias)
    values = {
        "gleak": net.leak_conductance, "vleak": net.leak_reversal, "cm": np.full(n, net.tau),
        "w": w, "sigma": t(net.synapse_gain), "mu": t(net.synapse_midpoint),
        "erev": t(net.synapse_reversal), "sparsity_mask": (w != 0).astype(float),
        "sensory_w": np.stack([np.ones(n), -np.ones(n)]) * (bias is not None),
        "sensory_sigma": np.zeros((2, n)), "sensory_mu": np.zeros((2, n)),
        "sensory_erev": np.stack([2.0 * current, np.zeros(n)]),
        "sensory_sparsity_mask": np.ones((2, n)),
    }
    if set(values) != set(cell._params):
        raise RuntimeError(f"ncps LTCCell parameters changed: {sorted(cell._params)}")
    for name, value in values.items():
        param = cell._params[name]
        value = torch.tensor(np.asarray(value, dtype=np.float64))
        if tuple(param.shape) != tuple(value.shape):
            raise RuntimeError(f"ncps {name}: shape {tuple(param.shape)}, mapped "
                               f"{tuple(value.shape)}")
        param.data = value
    return cell


def ncps_steps(cell, v0, n_steps, dt):
    """``n_steps`` calls of ``cell`` from the states ``v0`` (batch, unit)."""
    import torch

    v = torch.tensor(v0, dtype=torch.float64)
    inputs = torch.zeros((v.shape[0], 2), dtype=torch.float64)  # no effect: sensory_sigma = 0
    with torch.no_grad():
        for _ in range(n_steps):
            _, v = cell(inputs, v, elapsed_time=dt)
    return v.numpy()


def brainbias_steps(net, bias, v0, n_steps):
    """``n_steps`` of :func:`brainbias.models.base.step` from each row of ``v0`` (batch, unit)."""
    import jax
    import jax.numpy as jnp

    from brainbias.models.base import step

    b = jnp.zeros(net.n_units) if bias is None else jnp.asarray(bias)

    def one(v):
        return jax.lax.fori_loop(0, n_steps, lambda _, x: step(net, x, b), v)

    return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(v0)))


def _compare(net, bias, v0, n_steps, **cell_kwargs):
    cell = ncps_cell(net, bias, **cell_kwargs)
    ours = brainbias_steps(net, bias, v0, n_steps)
    return float(np.max(np.abs(ours - ncps_steps(cell, v0, n_steps, net.dt)))), ours


def comparison_rows(quick=False):
    """One row per (N, density, unfolds, bias, steps); raises if one step differs > 1e-10."""
    rows = []
    for n in (8,) if quick else (8, 32):
        for density in (1.0, 0.3):
            for unfolds in (1, 6):
                net = _network(n, density, unfolds, seed=n + unfolds)
                rng = np.random.default_rng(n * 10 + unfolds)
                v0 = rng.uniform(-1.0, 1.0, (BATCH, n))
                for label, bias in (("0", None), ("I ~ N(0, 0.5²)", rng.normal(0, 0.5, n))):
                    for n_steps in STEPS:
                        diff, ours = _compare(net, bias, v0, n_steps)
                        if n_steps == 1 and not diff < ONE_STEP_TOLERANCE:
                            raise AssertionError(
                                f"N={n} density={density} unfolds={unfolds} bias={label}: one "
                                f"step differs from ncps by {diff:.3e} > {ONE_STEP_TOLERANCE}")
                        rows.append({"N": n, "density": density, "unfolds": unfolds,
                                     "bias": label, "steps": n_steps, "max |Δv|": diff,
                                     "max |v − v0| (scale)": float(np.max(np.abs(ours - v0)))})
    return rows


def control_rows():
    """How large a real mismatch is: ncps's default epsilon, and ``w`` not transposed."""
    net = _network(32, 1.0, 6, seed=0)
    v0 = np.random.default_rng(0).uniform(-1.0, 1.0, (BATCH, 32))
    rows = []
    for label, kwargs in (("ncps default epsilon = 1e-8", {"epsilon": 1e-8}),
                          ("w, sigma, mu, erev not transposed", {"transpose": False})):
        diff, _ = _compare(net, None, v0, 1, **kwargs)
        rows.append({"control (N=32, dense, unfolds 6, 1 step)": label, "max |Δv|": diff})
    return rows


def run(quick: bool = False):
    """``[(title, rows), ...]``; one "skipped" row when torch or ncps is not installed."""
    try:
        import ncps.torch  # noqa: F401
        import torch
    except ImportError as exc:
        return [("LTC step vs ncps LTCCell",
                 [{"case": "skipped", "note": f"skipped: ncps/torch not installed ({exc})"}])]
    import jax

    jax.config.update("jax_enable_x64", True)  # entry point: float64 on both sides
    title = (f"LTC step vs ncps {importlib.metadata.version('ncps')} LTCCell "
             f"(torch {torch.__version__}), float64")
    return [(title, comparison_rows(quick)), ("controls: a real mismatch", control_rows())]


def markdown(rows):
    def cell(value, col):
        text = f"{value:.3e}" if isinstance(value, float) and col != "density" else str(value)
        return text.replace("|", "\\|")  # a bare | would split the markdown cell

    cols = list(rows[0])
    lines = ["| " + " | ".join(cell(c, "") for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r[c], c) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 8 only")
    args = parser.parse_args(argv)
    if not __package__:  # run as a script: make `brainbias` importable from the checkout
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    t0 = time.perf_counter()
    for title, rows in run(quick=args.quick):
        print(f"\n### {title}\n\n{markdown(rows)}")
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
