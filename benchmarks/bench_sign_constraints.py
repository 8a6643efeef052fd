"""Sign constraints and their limits (Wang et al. 2023): what a non-negative network cannot learn.

Two tables, both measured in this run:

``recurrent``: a rate network (N = 100, continuous form, tanh, ``dt/τ = 0.5``) gets a constant
input ``u`` for ``T = 60`` steps from ``x_0 = 0`` (one trajectory per value of ``u``, 41 values in
[−1, 1]); its output at step ``T`` (settled: every weight matrix has spectral radius 0.8) is
trained bias-only (Adam, full batch, MSE) to a target ``y*(u)``:

- weights ``gaussian``: ``W ~ N(0, 0.8²/N)``, ``B ~ N(0, 1)``, ``C ~ N(0, 1/N)``;
- weights ``nonnegative``: ``|W|`` rescaled to spectral radius 0.8, ``|B|``, ``|C|``.

Targets: ``u²`` and the bump ``exp(−u²/0.1)`` (non-monotone), ``tanh(2u)`` (monotone control).
Columns: R² and NRMSE (RMSE / std of the target) after training, mean ± std over network seeds,
and the *monotone ceiling*: the R² of the best non-decreasing function of ``u`` (isotonic
regression), the most any order-preserving map can reach.

``xor``: a feedforward network (2 → 16 → 1, tanh, gain 4) on the four XOR points, binary
cross-entropy, 2000 Adam steps, biases started at ``−W_1 x̄``; accuracy over seeds for
Gaussian / non-negative weights, bias-only / full training with or without the projection onto
``W ≥ 0``, and the two escape hatches (one negative readout weight; inputs ``(x, 1 − x)``).

Run: ``python benchmarks/bench_sign_constraints.py [--quick] [--markdown]`` or ``python -m
benchmarks --only sign_constraints``. Nothing here asserts; the tests in
tests/models/test_sign_constraints.py do.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

N_UNITS, N_STEPS, LEAK, RADIUS = 100, 60, 0.5, 0.8
TARGETS = {
    "u^2": lambda u: u**2,
    "bump exp(-u^2/0.1)": lambda u: np.exp(-(u**2) / 0.1),
    "tanh(2u) (monotone)": lambda u: np.tanh(2 * u),
}


def isotonic(y):
    """Least-squares non-decreasing fit of ``y`` (pool adjacent violators)."""
    blocks = []  # [mean, weight]
    for v in np.asarray(y, float):
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m1, w1), (m2, w2) = blocks[-2], blocks[-1]
            blocks[-2:] = [[(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2]]
    return np.concatenate([np.full(int(w), m) for m, w in blocks])


def _r2(y, target):
    return 1.0 - np.mean((y - target) ** 2) / np.var(target)


def _rate_network(kind, seed):
    import jax
    import jax.numpy as jnp

    from brainbias.models.connectivity import ConnectivityConfig
    from brainbias.models.rate import make_network

    if kind == "gaussian":
        conn = ConnectivityConfig(kind="gaussian", gain=RADIUS)
    else:
        conn = ConnectivityConfig(kind="nonnegative", spectral_radius=RADIUS)
    net = make_network(N_UNITS, n_inputs=1, n_outputs=1, connectivity=conn, dt=LEAK, tau=1.0,
                       key=jax.random.PRNGKey(seed))
    if kind == "nonnegative":
        net = dataclasses.replace(net, input_weights=jnp.abs(net.input_weights),
                                  readout_weights=jnp.abs(net.readout_weights))
    return net


def _trainer(n_iterations, learning_rate):
    """One jitted function: ``n_iterations`` Adam steps on the bias of a driven rate network."""
    import jax
    import jax.numpy as jnp
    import optax

    from brainbias.models.base import simulate

    def settled(net, bias, u):
        inputs = jnp.full((N_STEPS, 1), u)
        _, outputs = simulate(net, bias, jnp.zeros_like(bias), mode="driven", inputs=inputs)
        return outputs[-1, 0]

    def loss(bias, net, u, target):
        return jnp.mean((jax.vmap(settled, in_axes=(None, None, 0))(net, bias, u) - target) ** 2)

    optimiser = optax.adam(learning_rate)

    @jax.jit
    def train(net, bias, u, target):
        def body(carry, _):
            bias, state = carry
            value, grad = jax.value_and_grad(loss)(bias, net, u, target)
            updates, state = optimiser.update(grad, state)
            return (optax.apply_updates(bias, updates), state), value

        (bias, _), losses = jax.lax.scan(body, (bias, optimiser.init(bias)), None,
                                         length=n_iterations)
        outputs = jax.vmap(settled, in_axes=(None, None, 0))(net, bias, u)
        return bias, outputs, losses

    return train


def recurrent_rows(quick=False):
    import jax.numpy as jnp

    seeds = range(1) if quick else range(3)
    n_iterations = 100 if quick else 1500
    u = np.linspace(-1.0, 1.0, 41)
    train = _trainer(n_iterations, learning_rate=0.05)
    rows = []
    for kind in ("gaussian", "nonnegative"):
        for name, fn in TARGETS.items():
            target = fn(u)
            r2s, nrmses, monotone, t0 = [], [], [], time.perf_counter()
            for seed in seeds:
                net = _rate_network(kind, seed)
                _, out, _ = train(net, jnp.zeros(N_UNITS), jnp.asarray(u), jnp.asarray(target))
                out = np.asarray(out)
                r2s.append(_r2(out, target))
                nrmses.append(math.sqrt(np.mean((out - target) ** 2)) / np.std(target))
                monotone.append(bool(np.all(np.diff(out) >= -1e-9)))
            rows.append({
                "weights": kind, "target": name,
                "R2": f"{np.mean(r2s):.3f} ± {np.std(r2s):.3f}",
                "NRMSE": f"{np.mean(nrmses):.3f} ± {np.std(nrmses):.3f}",
                "monotone ceiling R2": round(float(_r2(isotonic(target), target)), 3),
                "output monotone": f"{sum(monotone)}/{len(monotone)}",
                "seconds": round(time.perf_counter() - t0, 1),
            })
    return rows


XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


def _xor_case(case, seed):
    """(network, inputs, trainable, constraint) of one row of the XOR table."""
    import jax

    from brainbias.models.feedforward import make_feedforward

    inputs = np.concatenate([XOR_X, 1 - XOR_X], 1) if case == "inverted inputs" else XOR_X
    kind = "gaussian" if case.startswith("gaussian") else "nonnegative"
    net = make_feedforward((inputs.shape[1], 16, 1), weights=kind, gain=4.0,
                           key=jax.random.PRNGKey(seed))
    if case == "one negative readout weight":
        w_in, w_out = net.weights
        j = int(np.argmax(np.min(np.asarray(w_in), axis=1)))  # sees both inputs: AND detector
        net = dataclasses.replace(net, weights=(w_in, w_out.at[0, j].set(-0.5 * w_out.sum())))
    trainable = "all" if case.startswith("nonnegative, all") else "bias"
    constraint = "nonnegative" if case == "nonnegative, all + projection" else None
    return net, inputs, trainable, constraint


XOR_CASES = ("gaussian, bias", "nonnegative, bias", "nonnegative, all + projection",
             "nonnegative, all, no projection", "one negative readout weight",
             "inverted inputs")


def xor_rows(quick=False):
    from brainbias.models.feedforward import forward, init_biases, is_nonnegative
    from brainbias.training.feedforward import fit_feedforward

    seeds = range(3) if quick else range(20)
    rows = []
    for case in XOR_CASES:
        accs, losses, signs = [], [], []
        for seed in seeds:
            net, x, trainable, constraint = _xor_case(case, seed)
            fit = fit_feedforward(net, init_biases(net, centre=x.mean(0)), x[None],
                                  XOR_Y[None, :, None], loss="binary_cross_entropy",
                                  trainable=trainable, constraint=constraint,
                                  n_steps=2000, learning_rate=0.05)
            logits = np.asarray(forward(fit.network, tuple(b[0] for b in fit.biases), x))[:, 0]
            accs.append(float(np.mean((logits > 0) == (XOR_Y > 0.5))))
            losses.append(float(fit.losses[-1]))
            signs.append(is_nonnegative(fit.network))
        rows.append({"case": case, "seeds": len(accs), "mean accuracy": np.mean(accs),
                     "max accuracy": max(accs), "solved (acc 1)": sum(a == 1.0 for a in accs),
                     "final BCE": f"{np.mean(losses):.4f}",
                     "weights ≥ 0 after": f"{sum(signs)}/{len(signs)}"})
    return rows


def run(quick: bool = False):
    """Both tables as ``[(title, rows), ...]`` for ``python -m benchmarks``."""
    import jax

    jax.config.update("jax_enable_x64", True)  # entry point: float64 like the tests
    return [("sign constraints: recurrent, bias-only, output vs constant input",
             recurrent_rows(quick)),
            ("sign constraints: XOR (feedforward 2-16-1)", xor_rows(quick))]


def markdown(rows):
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, few iterations")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = parser.parse_args(argv)
    if not __package__:  # run as a script: make `benchmarks` importable
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._util import print_table

    t0 = time.perf_counter()
    for title, rows in run(quick=args.quick):
        if args.markdown:
            print(f"\n### {title}\n\n{markdown(rows)}")
        else:
            print_table(title, rows)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
