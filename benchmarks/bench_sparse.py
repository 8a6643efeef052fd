"""Sparse networks (issue 11): which sparse format, step cost and memory against the number of
synapses, and a bias-only fit of N = 10 000 with its peak memory.

1. *Format*: one step of ``x ← 0.9 x + 0.1 (W tanh(x) + b)`` inside ``jit`` + ``lax.scan`` (20
   steps), vmapped over a batch of biases, forward and ``grad`` with respect to the biases (the
   training pattern), for dense ``W`` and for the same ``W`` as jax.experimental.sparse BCOO and
   BCSR, brainevent CSR (when its CPU kernels can be built: they need numba) and
   brainbias's COO gather / segment sum (:class:`brainbias.models.sparse.SparseWeights`).
   The weights are jit arguments (not constants), as in training.
2. *Scaling*: at a fixed number of synapses per unit, the draw, the bytes of ``W`` and the time
   per step of :func:`brainbias.simulate` (batch 1) and of its bias gradient (batch 16) for
   N = 1 000 … 100 000; time per synapse should stay flat.
3. *Training*: ``brainbias.run`` of a sparse N = 10 000 network (bias-only, a Stuart–Landau
   target) in a child process, and a few iterations of the dense one; wall time and the
   child's own peak RSS (``VmHWM``; ``resource.getrusage``'s ``ru_maxrss`` where there is no
   /proc: on Linux it keeps the parent's peak across fork + exec).

Run ``python -m benchmarks --only sparse [--quick]`` or ``python -m benchmarks.bench_sparse``.
Nothing here asserts; the figures are in docs/benchmarks.md ("Sparse networks").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np

from ._util import print_table, timeit

STEPS = 20  # scan length of the format and scaling measurements


def _weights(n, p, *, seed=0):
    from brainbias.models.connectivity import ConnectivityConfig, recurrent_weights

    cfg = ConnectivityConfig(kind="sparse", connection_probability=p, gain=1.5, sparse=True)
    return recurrent_weights(n, cfg, key=jax.random.PRNGKey(seed), dtype=jnp.float32)


def _brainevent_csr(w):
    """brainevent's CSR of ``w``, or the reason it cannot run here."""
    try:
        import brainevent
        import numba  # noqa: F401  (brainevent's CPU kernels)
    except ImportError as exc:
        return None, f"not run: {exc.name} not installed"
    indptr = np.concatenate([[0], np.cumsum(np.bincount(np.asarray(w.rows),
                                                        minlength=w.n_units))])
    csr = brainevent.CSR((w.values, w.columns, jnp.asarray(indptr, jnp.int32)),
                         shape=w.shape)
    return csr, ""


def _operands(w, *, dense: bool):
    """Format name → (operand, matvec(operand, r)) for the same matrix."""
    from jax.experimental import sparse as jsp

    out = {}
    if dense:
        out["dense"] = (w.todense(), lambda a, r: a @ r)
    bcoo = jsp.BCOO((w.values, jnp.stack([w.rows, w.columns], axis=1)), shape=w.shape,
                    indices_sorted=True, unique_indices=True)
    out["BCOO"] = (bcoo, lambda a, r: a @ r)
    out["BCSR"] = (jsp.BCSR.from_bcoo(bcoo), lambda a, r: a @ r)
    out["COO gather/segment-sum (brainbias)"] = (w, lambda a, r: a @ r)
    csr, why = _brainevent_csr(w)
    out["brainevent CSR"] = (csr, lambda a, r: a @ r) if csr is not None else (None, why)
    return out


def _step_times(operand, matvec, n, batch):
    """(forward, gradient) seconds per step of the scanned, vmapped loop."""

    def loss(bias, a):
        def one(b):
            def body(x, _):
                x = 0.9 * x + 0.1 * (matvec(a, jnp.tanh(x)) + b)
                return x, x

            _, xs = jax.lax.scan(body, jnp.zeros(n, jnp.float32), None, length=STEPS)
            return jnp.mean(xs**2)

        return jnp.mean(jax.vmap(one)(bias))

    b = 0.1 * jax.random.normal(jax.random.PRNGKey(1), (batch, n), jnp.float32)
    fwd, grad = jax.jit(loss), jax.jit(jax.grad(loss))
    t_f = timeit(lambda: fwd(b, operand).block_until_ready(), repeat=5)
    t_g = timeit(lambda: grad(b, operand).block_until_ready(), repeat=5)
    return t_f / STEPS, t_g / STEPS


def format_choice(cases):
    """Rows of the format table: per (N, p, batch) each format's ms per step and its ratio to
    brainbias's gather/segment-sum."""
    rows, dense = [], {}  # the dense cost does not depend on p: measured once per (N, batch)
    for n, p, batch in cases:
        w = _weights(n, p)
        times = {}
        for name, (operand, matvec) in _operands(w, dense=True).items():
            if operand is None:
                rows.append({"N": n, "p": p, "batch": batch, "format": name, "note": matvec})
                continue
            try:
                if name == "dense" and (n, batch) in dense:
                    times[name] = dense[n, batch]
                    continue
                times[name] = _step_times(operand, matvec, n, batch)
                if name == "dense":
                    dense[n, batch] = times[name]
            except Exception as exc:  # a format that fails here is reported, not fatal
                rows.append({"N": n, "p": p, "batch": batch, "format": name,
                             "note": f"failed: {type(exc).__name__}: {str(exc)[:80]}"})
        ref = times["COO gather/segment-sum (brainbias)"]
        for name, (t_f, t_g) in times.items():
            rows.append({"N": n, "p": p, "batch": batch, "synapses": w.n_synapses,
                         "format": name, "fwd ms/step": 1e3 * t_f, "grad ms/step": 1e3 * t_g,
                         "fwd / ours": t_f / ref[0], "grad / ours": t_g / ref[1]})
    return rows


def _simulate_times(net):
    """Seconds per step of :func:`brainbias.simulate` (batch 1) and of its bias gradient (batch
    16), the network a jit argument."""
    from brainbias import simulate

    n = net.n_units

    def loss(bias, net):
        x0 = jnp.zeros(n, jnp.float32)
        return jnp.mean(jax.vmap(lambda b: simulate(net, b, x0, n_steps=STEPS)[1])(bias) ** 2)

    b1 = 0.1 * jax.random.normal(jax.random.PRNGKey(1), (1, n), jnp.float32)
    b16 = 0.1 * jax.random.normal(jax.random.PRNGKey(1), (16, n), jnp.float32)
    fwd, grad = jax.jit(loss), jax.jit(jax.grad(loss))
    t_f = timeit(lambda: fwd(b1, net).block_until_ready(), repeat=5) / STEPS
    t_g = timeit(lambda: grad(b16, net).block_until_ready(), repeat=3) / STEPS
    return t_f, t_g


def scaling(sizes, per_unit):
    """Rows of the scaling table at ``per_unit`` synapses per unit."""
    from brainbias import make_network
    from brainbias.models.connectivity import ConnectivityConfig

    rows = []
    for n in sizes:
        cfg = ConnectivityConfig(kind="sparse", connection_probability=per_unit / n, gain=1.5,
                                 sparse=True)
        t0 = time.perf_counter()
        net = make_network(n, n_outputs=3, connectivity=cfg, key=jax.random.PRNGKey(0),
                           dtype=jnp.float32)
        t_draw = time.perf_counter() - t0
        w = net.recurrent_weights
        t_f, t_g = _simulate_times(net)
        rows.append({"N": n, "synapses": w.n_synapses, "draw s": t_draw,
                     "W MiB": w.nbytes / 2**20, "dense W MiB": 4 * n * n / 2**20,
                     "fwd ms/step (batch 1)": 1e3 * t_f,
                     "fwd ns/synapse": 1e9 * t_f / w.n_synapses,
                     "grad ms/step (batch 16)": 1e3 * t_g,
                     "grad ns/(synapse·trajectory)": 1e9 * t_g / (16 * w.n_synapses)})
    return rows


_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import jax
    jax.config.update("jax_enable_x64", True)
    import brainbias as bb
    from brainbias.config import ExperimentConfig, from_dict
    spec = json.loads(sys.argv[1])
    cfg = from_dict(ExperimentConfig, spec["config"])
    t0 = time.perf_counter()
    if spec["fit_only"]:  # bb.fit alone: no evaluation, no results file (and no resource check)
        net_cfg = cfg.network
        net = bb.make_network(net_cfg.n_units, n_outputs=2, connectivity=net_cfg.connectivity,
                              dt=0.05, tau=net_cfg.tau, key=jax.random.PRNGKey(0),
                              dtype=jax.numpy.float32)
        target = bb.make_target(spec["config"]["targets"][0])
        ctrl = bb.make_controller(net, [target.name], key=jax.random.PRNGKey(1))
        res = bb.fit(net, ctrl, [target], cfg.training, key=jax.random.PRNGKey(2),
                     progress=False)
        loss, fit_s, synapses = res.loss[:, 0], res.wall_time, net.recurrent_weights.n_synapses
    else:
        ds = bb.run(cfg, out_dir=spec["out"], progress=False, figures=False)
        loss, fit_s = ds["loss"].values[:, 0], float(ds.attrs["training_wall_time"])
        synapses = int(ds.sizes.get("synapse", 0))
    wall = time.perf_counter() - t0
    # VmHWM: this process's own peak (ru_maxrss keeps the parent's peak across fork + exec)
    try:
        with open("/proc/self/status") as fh:
            peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM")) * 1024
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"wall": wall, "peak": peak, "first": float(loss[0]),
                      "last": float(loss[-1]), "fit": float(fit_s), "synapses": synapses}))
""")


def training_run(n, per_unit, iterations, *, sparse=True, fit_only=False):
    """One bias-only ``brainbias.run`` (``fit_only``: :func:`brainbias.fit` alone) in a child
    process: its wall time and peak RSS."""
    connectivity = {"kind": "sparse", "connection_probability": per_unit / n, "gain": 1.2,
                    "sparse": sparse}
    config = {"seed": 0,
              "network": {"n_units": n, "tau": 0.1, "connectivity": connectivity},
              "training": {"n_iterations": iterations, "chunk_size": min(50, iterations),
                           "batch_size": 4, "window": 30, "washout": 10},
              "evaluation": {"washout": 50, "horizon": 100},
              "targets": [{"kind": "stuart_landau", "n_steps": 1000, "dt": 0.05}]}
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, "-c", _CHILD,
                               json.dumps({"config": config, "out": out,
                                           "fit_only": fit_only})],
                              capture_output=True, text=True, check=False)
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    if proc.returncode != 0:
        return {"N": n, "sparse": sparse, "note": f"failed: {proc.stderr.strip()[-300:]}"}
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"N": n, "sparse": sparse, "what": "bb.fit" if fit_only else "bb.run",
            "synapses": r["synapses"] or n * n,
            "iterations": iterations, "run wall s": r["wall"], "fit s": r["fit"],
            "s / iteration": r["fit"] / iterations, "peak RSS GiB": r["peak"] / 2**30,
            "files MiB": size / 2**20, "loss first -> last": f"{r['first']:.3g} -> {r['last']:.3g}"}


def run(quick: bool = False):
    """All three tables (``quick``: small sizes, a smoke run)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(sparse: load average {load:.1f} on {os.cpu_count()} cores at the start)")
    if quick:
        cases = [(2000, 0.01, 1), (2000, 0.01, 16)]
        sizes, train = (1000, 3000, 10000), [(2000, 20, 20, True)]
    else:
        cases = [(n, p, b) for n in (2000, 10000) for p in (0.01, 0.05) for b in (1, 16)]
        sizes = (1000, 3000, 10000, 30000, 100000)
        train = [(10000, 100, 200, True), (10000, 100, 10, False),
                 (100000, 100, 20, True, True)]
    return [
        ("sparse: matvec formats (jit + scan + grad wrt bias, float32)", format_choice(cases)),
        ("sparse: scaling at 100 synapses per unit (float32)", scaling(sizes, 100)),
        ("sparse: bias-only fit in a child process",
         [training_run(*t[:3], sparse=t[3], fit_only=t[4:] == (True,)) for t in train]),
    ]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sparse")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for title, rows in run(quick=args.quick):
        print_table(title, rows)
