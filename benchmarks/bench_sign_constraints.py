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

The networks, targets and fits are those of the study ``analyses/sign_constraints`` (its
``tasks.py``, loaded by path), which runs them over more seeds with a figure.

Run: ``python benchmarks/bench_sign_constraints.py [--quick] [--markdown]`` or ``python -m
benchmarks --only sign_constraints``. Nothing here asserts; the tests in
tests/models/test_sign_constraints.py do.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

TASKS_PATH = Path(__file__).resolve().parents[1] / "analyses" / "sign_constraints" / "tasks.py"


def _tasks():
    """The study's ``tasks.py`` (the networks, targets and fits live there, shared with
    ``analyses/sign_constraints/run.py``), under its prefixed module name."""
    name = "sign_constraints_tasks"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TASKS_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def recurrent_rows(quick=False):
    tasks = _tasks()
    seeds = range(1) if quick else range(3)
    train = tasks.trainer(100 if quick else 1500, learning_rate=0.05)
    rows = []
    for kind in ("gaussian", "nonnegative"):
        for name in tasks.TARGETS:
            t0 = time.perf_counter()
            fits = [tasks.recurrent_fit(train, kind, name, seed) for seed in seeds]
            r2s, nrmses = [f["R2"] for f in fits], [f["NRMSE"] for f in fits]
            rows.append({
                "weights": kind, "target": name,
                "R2": f"{np.mean(r2s):.3f} ± {np.std(r2s):.3f}",
                "NRMSE": f"{np.mean(nrmses):.3f} ± {np.std(nrmses):.3f}",
                "monotone ceiling R2": round(fits[0]["monotone_ceiling_R2"], 3),
                "output monotone": f"{sum(f['output_monotone'] for f in fits)}/{len(fits)}",
                "seconds": round(time.perf_counter() - t0, 1),
            })
    return rows


def xor_rows(quick=False):
    tasks = _tasks()
    seeds = range(3) if quick else range(20)
    rows = []
    # the six cases of docs/benchmarks.md; the study adds the non-monotone activation
    for case in tasks.XOR_CASES[:6]:
        fits = [tasks.xor_fit(case, seed, n_steps=2000, learning_rate=0.05) for seed in seeds]
        accs = [f[1] for f in fits]
        rows.append({"case": case, "seeds": len(accs), "mean accuracy": np.mean(accs),
                     "max accuracy": max(accs), "solved (acc 1)": sum(a == 1.0 for a in accs),
                     "final BCE": f"{np.mean([f[2] for f in fits]):.4f}",
                     "weights ≥ 0 after": f"{sum(f[3] for f in fits)}/{len(fits)}"})
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
