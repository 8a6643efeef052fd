"""The tasks and fits of the sign-constraint study (Wang et al. 2023), shared with
``benchmarks/bench_sign_constraints.py``.

With every weight ≥ 0 and a non-decreasing activation a network computes an order-preserving map
(``x ≤ y`` componentwise ⇒ ``f(x) ≤ f(y)``) whatever its biases, so it cannot solve XOR (at most
3 of 4 points) nor follow a non-monotone steady-state relation. Here:

* **recurrent**: a rate network (continuous form, tanh, ``dt/τ = 0.5``) gets a constant input
  ``u`` for ``N_STEPS`` steps from ``x_0 = 0``; its output at the last step is trained bias-only
  (full-batch Adam, MSE) to ``y*(u)`` (:data:`TARGETS`); weights ``gaussian`` (``W ~ N(0,
  0.8²/N)``, ``B ~ N(0, 1)``, ``C ~ N(0, 1/N)``) or ``nonnegative`` (``|W|`` at spectral radius
  0.8, ``|B|``, ``|C|``). :func:`isotonic` gives the best any order-preserving map can do.
* **XOR**: a feedforward 2 → 16 → 1 network (tanh, gain 4), binary cross-entropy, biases
  started at ``−W₁ x̄``; the cases of :data:`XOR_CASES` — Gaussian vs non-negative weights,
  bias-only vs all weights with or without the projection onto ``W ≥ 0``, and the escape
  hatches: one negative readout weight, inverted input copies ``(x, 1 − x)``, and a
  non-monotone activation (the bump ``exp(−z²)``, trained by :func:`fit_bump`).
* **order violations**: the fraction of random ordered input pairs ``x ≤ y`` whose outputs are
  in the wrong order (:func:`order_violation_rate`): 0 for every order-preserving map.

Loaded by file path under a prefixed module name (``sign_constraints_tasks``) by the study's
run.py and the benchmark.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

N_UNITS, N_STEPS, LEAK, RADIUS = 100, 60, 0.5, 0.8
TARGETS = {
    "u^2": lambda u: u**2,
    "bump exp(-u^2/0.1)": lambda u: np.exp(-(u**2) / 0.1),
    "tanh(2u) (monotone)": lambda u: np.tanh(2 * u),
}
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])
XOR_CASES = ("gaussian, bias", "nonnegative, bias", "nonnegative, all + projection",
             "nonnegative, all, no projection", "one negative readout weight",
             "inverted inputs", "non-monotone activation")
#: cases whose trained map must be order-preserving (non-negative weights, monotone φ)
ORDER_PRESERVING = ("nonnegative, bias", "nonnegative, all + projection")


def isotonic(y):
    """Least-squares non-decreasing fit of ``y`` (pool adjacent violators)."""
    blocks = []  # [mean, weight]
    for v in np.asarray(y, float):
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m1, w1), (m2, w2) = blocks[-2], blocks[-1]
            blocks[-2:] = [[(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2]]
    return np.concatenate([np.full(int(w), m) for m, w in blocks])


def r2(y, target):
    """Coefficient of determination of ``y`` against ``target``."""
    return 1.0 - np.mean((y - target) ** 2) / np.var(target)


def rate_network(kind, seed, n_units=N_UNITS):
    """The recurrent network of the ``kind`` (``gaussian`` / ``nonnegative``) and seed."""
    import jax
    import jax.numpy as jnp

    from brainbias.models.connectivity import ConnectivityConfig
    from brainbias.models.rate import make_network

    if kind == "gaussian":
        conn = ConnectivityConfig(kind="gaussian", gain=RADIUS)
    else:
        conn = ConnectivityConfig(kind="nonnegative", spectral_radius=RADIUS)
    net = make_network(n_units, n_inputs=1, n_outputs=1, connectivity=conn, dt=LEAK, tau=1.0,
                       key=jax.random.PRNGKey(seed))
    if kind == "nonnegative":
        net = dataclasses.replace(net, input_weights=jnp.abs(net.input_weights),
                                  readout_weights=jnp.abs(net.readout_weights))
    return net


def trainer(n_iterations, learning_rate):
    """One jitted function: ``n_iterations`` Adam steps on the bias of a driven rate network;
    returns ``(bias, settled outputs, losses)``."""
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


def recurrent_fit(train, kind, target_name, seed, *, n_units=N_UNITS, n_u=41):
    """One bias-only recurrent fit: a dict of its scores and the settled outputs."""
    import jax.numpy as jnp

    u = np.linspace(-1.0, 1.0, n_u)
    target = TARGETS[target_name](u)
    net = rate_network(kind, seed, n_units)
    _, out, _ = train(net, jnp.zeros(n_units), jnp.asarray(u), jnp.asarray(target))
    out = np.asarray(out)
    return {"weights": kind, "target": target_name, "seed": seed, "R2": float(r2(out, target)),
            "NRMSE": float(np.sqrt(np.mean((out - target) ** 2)) / np.std(target)),
            "monotone_ceiling_R2": float(r2(isotonic(target), target)),
            "output_monotone": bool(np.all(np.diff(out) >= -1e-9)),
            "violation_rate": float(np.mean(np.diff(out) < -1e-9)),
            "u": u.tolist(), "output": out.tolist()}


def xor_case(case, seed):
    """(network, inputs, trainable, constraint) of one case of the XOR table."""
    import jax

    from brainbias.models.feedforward import make_feedforward

    inputs = lift(XOR_X, case)
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


def lift(x, case):
    """What the network of ``case`` receives for raw inputs ``x`` (..., 2)."""
    return np.concatenate([x, 1 - x], -1) if case == "inverted inputs" else np.asarray(x)


def bump(z):
    """The non-monotone activation of the last escape hatch, ``exp(−z²)``."""
    import jax.numpy as jnp

    return jnp.exp(-(z**2))


def bump_forward(net, biases, inputs):
    """``forward`` of a one-hidden-layer network with the bump as hidden activation."""
    (w_in, w_out), (b_in, b_out) = net.weights, biases
    return bump(inputs @ w_in.T + b_in) @ w_out.T + b_out


@functools.cache
def _bump_trainer(n_steps, learning_rate):
    """The jitted Adam loop of :func:`fit_bump` (compiled once per shapes and settings)."""
    import jax
    import jax.numpy as jnp
    import optax

    opt = optax.adam(learning_rate)

    def loss(b, net, x, y):
        logits = bump_forward(net, b, x)[:, 0]
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y))

    @jax.jit
    def run(net, b, x, y):
        def body(carry, _):
            b, state = carry
            value, grad = jax.value_and_grad(loss)(b, net, x, y)
            updates, state = opt.update(grad, state)
            return (optax.apply_updates(b, updates), state), value

        (b, _), losses = jax.lax.scan(body, (b, opt.init(b)), None, length=n_steps)
        return b, losses

    return run


def fit_bump(net, biases, inputs, labels, *, n_steps, learning_rate):
    """Bias-only full-batch Adam on the binary cross-entropy of :func:`bump_forward`;
    returns (biases of one context, losses)."""
    import jax.numpy as jnp

    b0 = tuple(jnp.asarray(b[0]) for b in biases)
    run = _bump_trainer(int(n_steps), float(learning_rate))
    b, losses = run(net, b0, jnp.asarray(inputs), jnp.asarray(labels))
    return b, np.asarray(losses)


def xor_fit(case, seed, *, n_steps=2000, learning_rate=0.05):
    """One trained XOR case: ``(predict, accuracy, final BCE, weights ≥ 0 after)`` where
    ``predict(x)`` maps raw inputs (sample, 2) to logits (sample,)."""
    from brainbias.models.feedforward import forward, init_biases, is_nonnegative
    from brainbias.training.feedforward import fit_feedforward

    net, x, trainable, constraint = xor_case(case, seed)
    start = init_biases(net, centre=x.mean(0))
    if case == "non-monotone activation":
        biases, losses = fit_bump(net, start, x, XOR_Y, n_steps=n_steps,
                                  learning_rate=learning_rate)
        network = net

        def predict(raw):
            return np.asarray(bump_forward(network, biases, lift(raw, case)))[:, 0]
    else:
        fit = fit_feedforward(net, start, x[None], XOR_Y[None, :, None],
                              loss="binary_cross_entropy", trainable=trainable,
                              constraint=constraint, n_steps=n_steps,
                              learning_rate=learning_rate)
        network, biases, losses = fit.network, tuple(b[0] for b in fit.biases), fit.losses

        def predict(raw):
            return np.asarray(forward(network, biases, lift(raw, case)))[:, 0]
    accuracy = float(np.mean((predict(XOR_X) > 0) == (XOR_Y > 0.5)))
    return predict, accuracy, float(np.asarray(losses)[-1]), bool(is_nonnegative(network))


def ordered_pairs(n_pairs, *, seed=0, n_inputs=2):
    """Random pairs ``x ≤ y`` in the unit square: ``y = x + d``, ``d ≥ 0`` with some
    components exactly 0, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n_pairs, n_inputs))
    d = rng.exponential(0.3, (n_pairs, n_inputs)) * (rng.random((n_pairs, n_inputs)) > 0.3)
    return x, np.minimum(x + d, 1.0)


def order_violation_rate(predict, x, y, *, tolerance=1e-9):
    """Fraction of pairs (``x ≤ y``) with ``f(x) > f(y)``, beyond rounding (relative
    ``tolerance``: float64 sums of a few terms)."""
    fx, fy = predict(x), predict(y)
    return float(np.mean(fx - fy > tolerance * (1.0 + np.abs(fx) + np.abs(fy))))
