"""Core benchmarks (issue 2): forward-simulation FLOP rate vs the machine's matmul rate, one
bias-only training step vs a plain PyTorch implementation, 8 contexts vs 1, demo wall time.

Every ratio compares two things measured side by side in this same run.
"""

from __future__ import annotations

import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from ._util import print_table, timeit


def forward_flop_rate(n=500, t=2000, batch=64, repeat=3):
    """Achieved FLOP rate of ``simulate`` (vmapped over the batch) vs a bare matmul scan."""
    from brainbias import make_network, simulate

    net = make_network(n, n_outputs=3, dt=0.1, tau=1.0, key=jax.random.PRNGKey(0),
                       dtype=jnp.float32)
    b = jax.random.normal(jax.random.PRNGKey(1), (batch, n), jnp.float32) * 0.1
    x0 = jax.random.normal(jax.random.PRNGKey(2), (batch, n), jnp.float32)
    sim = jax.jit(jax.vmap(lambda bi, xi: simulate(net, bi, xi, n_steps=t)[0][-1]))

    w = net.recurrent_weights

    @jax.jit
    def matmul_only(x):
        # the same T dependent (batch × N) @ (N × N) products, nothing else: the machine's rate
        def body(h, _):
            return h @ w.T, None

        return jax.lax.scan(body, x, None, length=t)[0]

    t_sim = timeit(lambda: sim(b, x0).block_until_ready(), repeat=repeat)
    t_mm = timeit(lambda: matmul_only(x0).block_until_ready(), repeat=repeat)
    flops = 2.0 * batch * n * n * t  # the recurrent matmul dominates (other terms O(batch·N))
    return [{
        "case": f"N={n} T={t} batch={batch} float32",
        "simulate s": t_sim, "matmul-only s": t_mm,
        "simulate GFLOP/s": flops / t_sim / 1e9, "matmul GFLOP/s": flops / t_mm / 1e9,
        "ratio (aim >= 0.8)": t_mm / t_sim,
    }]


def _torch_step(w, fb, c, bias, x0, teacher, strength, a):
    import torch

    bias = torch.tensor(bias, requires_grad=True)
    x = torch.tensor(x0)
    w, fb, c, teacher = (torch.tensor(v) for v in (w, fb, c, teacher))
    y = torch.tanh(x) @ c.T
    loss = 0.0
    for k in range(teacher.shape[1] - 1):
        f = strength * teacher[:, k] + (1 - strength) * y
        x = (1 - a) * x + a * (torch.tanh(x) @ w.T + f @ fb.T + bias)
        y = torch.tanh(x) @ c.T
        loss = loss + ((y - teacher[:, k + 1]) ** 2).sum()
    loss = loss / (teacher.shape[0] * (teacher.shape[1] - 1) * teacher.shape[2])
    loss.backward()
    return float(loss.detach()), bias.grad.numpy()


def training_step_vs_torch(n=500, t=500, batch=16, repeat=3):
    """One bias-only BPTT step (loss + gradient) in brainbias/JAX vs plain PyTorch autograd."""
    from brainbias import make_network, simulate

    try:
        import torch
    except ImportError:
        return [{"case": "skipped", "note": "torch not installed (make bench installs it)"}]
    torch.set_num_threads(max(1, torch.get_num_threads()))
    net = make_network(n, n_outputs=3, dt=0.02, tau=0.1, key=jax.random.PRNGKey(0),
                       dtype=jnp.float32)
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(batch, t + 1, 3)).astype(np.float32)
    x0 = (rng.normal(size=(batch, n)) * 0.5).astype(np.float32)
    bias = (rng.normal(size=n) * 0.1).astype(np.float32)
    s, a = 0.5, net.leak

    def loss(b):
        def one(x, y):
            _, out = simulate(net, b, x, mode="closed_loop", teacher=y[:-1], teacher_strength=s)
            return jnp.sum((out - y[1:]) ** 2)

        return jnp.sum(jax.vmap(one)(jnp.asarray(x0), jnp.asarray(teacher))) / (batch * t * 3)

    step = jax.jit(jax.value_and_grad(loss))
    t_jax = timeit(lambda: jax.block_until_ready(step(jnp.asarray(bias))), repeat=repeat)
    args = [np.asarray(v) for v in (net.recurrent_weights, net.feedback_weights,
                                    net.readout_weights)]
    t_torch = timeit(lambda: _torch_step(*args, bias, x0, teacher, s, a), repeat=repeat)
    # same model, same gradient: compared in float64 on both sides (in float32 the two differ
    # by ~1e-5 from summation order over 500 steps alone, which says nothing about the model)
    if jax.config.jax_enable_x64:
        net64 = jax.tree_util.tree_map(lambda v: jnp.asarray(v, jnp.float64), net)

        def loss64(b):
            def one(x, y):
                _, out = simulate(net64, b, x, mode="closed_loop", teacher=y[:-1],
                                  teacher_strength=s)
                return jnp.sum((out - y[1:]) ** 2)

            return jnp.sum(jax.vmap(one)(jnp.asarray(x0, jnp.float64),
                                         jnp.asarray(teacher, jnp.float64))) / (batch * t * 3)

        g_j = np.asarray(jax.grad(loss64)(jnp.asarray(bias, jnp.float64)))
        f64 = lambda v: np.asarray(v, np.float64)  # noqa: E731
        _, g_t = _torch_step(*map(f64, args), f64(bias), f64(x0), f64(teacher), s, a)
        precision = "float64"
    else:
        g_j = np.asarray(step(jnp.asarray(bias))[1])
        _, g_t = _torch_step(*args, bias, x0, teacher, s, a)
        precision = "float32"
    rel = float(np.linalg.norm(g_j - g_t) / np.linalg.norm(g_t))
    return [{
        "case": f"N={n} T={t} batch={batch} float32 closed-loop",
        "brainbias s": t_jax, "torch s": t_torch, "speed-up (aim >= 1.5)": t_torch / t_jax,
        f"grad rel. diff, {precision} (aim <= 1e-5)": rel,
        "torch threads": torch.get_num_threads(),
    }]


def contexts_scaling(n=300, contexts=(1, 8), iterations=20):
    """Cost of one training iteration with C contexts trained together (same windows each)."""
    from brainbias import Trajectory, make_controller, make_network
    from brainbias._pytree import partition
    from brainbias.config import TrainingConfig
    from brainbias.training import loop as tr
    from brainbias.training.control import trainable_mask

    cfg = TrainingConfig(n_iterations=iterations, chunk_size=iterations)
    dt = 0.02
    t = np.arange(3000) * dt
    rows, base = [], None
    for c in contexts:
        net = make_network(n, n_outputs=2, dt=dt, tau=0.1, key=jax.random.PRNGKey(0),
                           dtype=jnp.float32)
        targets = [Trajectory(np.stack([np.cos(t * (1 + k / 10)), np.sin(t * (1 + k / 10))], 1),
                              dt, f"c{k}") for k in range(c)]
        ctrl = make_controller(net, [x.name for x in targets], key=jax.random.PRNGKey(1))
        data = tr._data_arrays(tr.stack_targets(targets, test_fraction=0.2, n_outputs=2),
                               jnp.float32)
        mask = trainable_mask(net, ctrl, "bias")
        trainable, frozen = partition((net, ctrl), mask)
        opt_state = tr._optimizer(cfg).init(trainable)

        def go(trainable=trainable, frozen=frozen, opt_state=opt_state, data=data):
            out = tr._chunk(trainable, frozen, opt_state, data, jax.random.PRNGKey(2), 0,
                            config=cfg, n_steps=iterations)
            jax.block_until_ready(out)

        sec = timeit(go, repeat=3) / iterations
        base = sec if base is None else base
        rows.append({"contexts": c, "s / iteration": sec, "cost vs 1 context (aim <= 3 at 8)":
                     sec / base, "windows / iteration": c * cfg.batch_size})
    return rows


def demo_wall_time():
    """Wall time of `brainbias demo` (full default run, including its own compilation)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "brainbias", "demo", "--out", tmp,
                               "--force", "--no-progress"], capture_output=True, text=True)
        wall = time.perf_counter() - t0
    ok = proc.returncode == 0
    return [{"command": "brainbias demo", "wall s": wall, "budget s": 300.0,
             "within budget": ok and wall < 300, "exit code": proc.returncode}], proc.stdout


def run(quick: bool = False, demo: bool = True):
    sections = []
    if quick:
        sections.append(("forward simulation vs matmul rate (quick sizes)",
                         forward_flop_rate(n=200, t=500, batch=16, repeat=2)))
        sections.append(("bias-only training step vs PyTorch (quick sizes)",
                         training_step_vs_torch(n=100, t=100, batch=4, repeat=2)))
        sections.append(("contexts trained together (quick sizes)",
                         contexts_scaling(n=64, iterations=5)))
    else:
        sections.append(("forward simulation vs matmul rate", forward_flop_rate()))
        sections.append(("bias-only training step vs PyTorch", training_step_vs_torch()))
        sections.append(("contexts trained together", contexts_scaling()))
    if demo and not quick:
        rows, out = demo_wall_time()
        sections.append(("demo wall time", rows))
        print(out)
    return sections


def main(argv=None):
    for title, rows in run(quick="--quick" in (argv or sys.argv[1:])):
        print_table(title, rows)


if __name__ == "__main__":
    main()
