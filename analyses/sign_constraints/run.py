"""Sign constraints (Wang et al. 2023): XOR and order preservation with non-negative weights, and
the escape hatches, over several seeds.

    python analyses/sign_constraints/run.py analyses/sign_constraints/config.toml --out OUT

For every case of ``tasks.XOR_CASES`` and every seed of ``[xor]``: the trained XOR accuracy and
loss, and the *order-violation rate* of the trained map (the fraction of ``[order] n_pairs``
random input pairs ``x ≤ y`` of the unit square with ``f(x) > f(y)``; 0 for an
order-preserving map). For every weight kind × target of ``tasks.TARGETS`` and every seed of
``[recurrent]``: the bias-only recurrent fit's R², the monotone ceiling and the fraction of
adjacent inputs whose settled outputs decrease. Writes ``OUT/results.jsonl`` (one line per
fit), ``OUT/table.md`` and ``OUT/sign_constraints.png``. The tasks and fits live in
``tasks.py`` beside this script (the benchmark ``benchmarks/bench_sign_constraints.py`` uses
them too).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import tomllib
from pathlib import Path

import jax
import numpy as np

HERE = Path(__file__).resolve().parent
# Wang et al. (2023): at most 3 of XOR's 4 points for any order-preserving map; lifted by one
# negative weight, negated inputs or a non-monotone activation.
PAPER_XOR_LIMIT = 0.75


def load_tasks():
    """``tasks.py`` as the module ``sign_constraints_tasks`` (not a plain ``import tasks``:
    sys.modules is shared by every study and the test session)."""
    name = "sign_constraints_tasks"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "tasks.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def xor_rows(cfg: dict, order: dict):
    """One row per (case, seed): accuracy, loss, sign of the weights, order-violation rate."""
    tasks = load_tasks()
    x, y = tasks.ordered_pairs(order["n_pairs"], seed=order.get("seed", 0))
    rows = []
    for case in cfg.get("cases", tasks.XOR_CASES):
        for seed in cfg["seeds"]:
            t0 = time.perf_counter()
            predict, acc, loss, nonneg = tasks.xor_fit(case, seed, n_steps=cfg["n_steps"],
                                                       learning_rate=cfg["learning_rate"])
            rows.append({"task": "xor", "case": case, "seed": seed, "accuracy": acc,
                         "final_bce": loss, "weights_nonnegative": nonneg,
                         "violation_rate": tasks.order_violation_rate(predict, x, y),
                         "seconds": time.perf_counter() - t0})
    return rows


def recurrent_rows(cfg: dict):
    """One row per (weight kind, target, seed) of the recurrent bias-only fits."""
    tasks = load_tasks()
    train = tasks.trainer(cfg["n_iterations"], cfg["learning_rate"])
    rows = []
    for kind in ("gaussian", "nonnegative"):
        for name in tasks.TARGETS:
            for seed in cfg["seeds"]:
                rows.append({"task": "recurrent", **tasks.recurrent_fit(
                    train, kind, name, seed, n_units=cfg["n_units"])})
    return rows


def _ms(values):
    v = np.asarray(values, float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def summary(rows, task, keys, fields):
    """{group: {field: (mean, sd)}} over seeds, grouped by ``keys``."""
    out = {}
    for r in rows:
        if r["task"] == task:
            out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return {g: {f: _ms([r[f] for r in rs]) for f in fields} | {"n": len(rs), "rows": rs}
            for g, rs in out.items()}


def table(rows) -> str:
    xs = summary(rows, "xor", ("case",), ("accuracy", "violation_rate", "final_bce"))
    lines = ["| case | seeds | XOR accuracy | solved (acc. 1) | order-violation rate | final BCE |"
             " weights ≥ 0 after |", "|---|---|---|---|---|---|---|"]
    for (case,), s in xs.items():
        rs = s["rows"]
        lines.append(
            f"| {case} | {s['n']} | {s['accuracy'][0]:.3f} ± {s['accuracy'][1]:.3f} | "
            f"{sum(r['accuracy'] == 1.0 for r in rs)}/{s['n']} | "
            f"{s['violation_rate'][0]:.3f} ± {s['violation_rate'][1]:.3f} | "
            f"{s['final_bce'][0]:.4f} | {sum(r['weights_nonnegative'] for r in rs)}/{s['n']} |")
    rec = summary(rows, "recurrent", ("weights", "target"), ("R2", "NRMSE", "violation_rate"))
    lines += ["", "| weights | target | seeds | R² | NRMSE | monotone ceiling R² | output "
              "monotone in u |", "|---|---|---|---|---|---|---|"]
    for (kind, target), s in rec.items():
        rs = s["rows"]
        lines.append(f"| {kind} | {target} | {s['n']} | {s['R2'][0]:.3f} ± {s['R2'][1]:.3f} | "
                     f"{s['NRMSE'][0]:.3f} ± {s['NRMSE'][1]:.3f} | "
                     f"{rs[0]['monotone_ceiling_R2']:.3f} | "
                     f"{sum(r['output_monotone'] for r in rs)}/{s['n']} |")
    lines += ["", "mean ± s.d. over seeds; order-violation rate: fraction of random input pairs "
              "x ≤ y (unit square) with f(x) > f(y)."]
    return "\n".join(lines) + "\n"


def figure(rows, path):
    """(a) XOR accuracy per case, (b) order-violation rate per case, (c) recurrent R² against
    the monotone ceiling; mean ± s.d. over seeds, every seed as a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = load_tasks()
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.8), gridspec_kw={"width_ratios": [1, 1, 1.1]})
    xs = summary(rows, "xor", ("case",), ("accuracy", "violation_rate"))
    cases = [c for (c,) in xs]
    colours = ["C2" if c in tasks.ORDER_PRESERVING else "C0" if c.startswith("gaussian")
               else "C1" for c in cases]
    for ax, field, label in ((axes[0], "accuracy", "XOR accuracy (fraction of 4 points)"),
                             (axes[1], "violation_rate",
                              "order-violation rate (fraction of pairs x ≤ y)")):
        pos = np.arange(len(cases))
        ax.barh(pos, [xs[(c,)][field][0] for c in cases], xerr=[xs[(c,)][field][1] for c in cases],
                color=colours, capsize=3)
        for i, c in enumerate(cases):
            v = [r[field] for r in xs[(c,)]["rows"]]
            ax.plot(v, i + np.linspace(-0.2, 0.2, len(v)), "k.", ms=3)
        ax.set_yticks(pos, cases if ax is axes[0] else [""] * len(cases))
        ax.invert_yaxis()
        ax.set_xlabel(label)
    n = xs[(cases[0],)]["n"]
    axes[0].axvline(PAPER_XOR_LIMIT, color="r", ls="--", lw=1,
                    label="order-preserving limit 3/4 (Wang et al.)")
    axes[0].set_title(f"XOR, 2-16-1 feedforward, {n} seeds (mean ± s.d.)", fontsize=9)
    axes[0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    for i, c in enumerate(cases):
        if c in tasks.ORDER_PRESERVING:
            axes[1].text(0.005, i, f"{xs[(c,)]['violation_rate'][0]:g} in every seed",
                         va="center", fontsize=8)
    axes[1].set_title(f"order preservation of the trained map, {n} seeds (mean ± s.d.)",
                      fontsize=9)
    from matplotlib.patches import Patch

    axes[1].legend(handles=[Patch(color="C0", label="Gaussian weights"),
                            Patch(color="C2", label="W ≥ 0, monotone φ (order-preserving)"),
                            Patch(color="C1", label="W ≥ 0 start + an escape hatch")],
                   fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    _recurrent_panel(axes[2], rows)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _recurrent_panel(ax, rows):
    rec = summary(rows, "recurrent", ("weights", "target"), ("R2",))
    targets = list(dict.fromkeys(t for _, t in rec))
    pos = np.arange(len(targets))
    for k, kind in enumerate(("gaussian", "nonnegative")):
        m = [rec[(kind, t)]["R2"][0] for t in targets]
        sd = [rec[(kind, t)]["R2"][1] for t in targets]
        ax.bar(pos + (k - 0.5) * 0.35, m, 0.35, yerr=sd, capsize=3, color=f"C{k}",
               label=f"{kind} weights, bias-only")
    ceiling = [rec[("nonnegative", t)]["rows"][0]["monotone_ceiling_R2"] for t in targets]
    ax.plot(pos + 0.175, ceiling, "r_", ms=30, mew=2, label="monotone ceiling (isotonic R²)")
    n = rec[("gaussian", targets[0])]["n"]
    ax.set_xticks(pos, targets, fontsize=8)
    ax.set(ylabel="R² of the settled output y(u)", ylim=(min(0.0, ax.get_ylim()[0]), 1.05),
           title=f"recurrent rate network, output after constant input u, {n} seeds")
    ax.title.set_size(9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--plot-only", action="store_true",
                    help="redraw table.md and the figure from OUT/results.jsonl")
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)  # float64, like the tests of the theorem
    config = tomllib.loads(args.config.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log = args.out / "results.jsonl"
    if args.plot_only:
        rows = [json.loads(line) for line in log.read_text().splitlines()]
    else:
        rows = xor_rows(config["xor"], config["order"]) + recurrent_rows(config["recurrent"])
        log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = table(rows)
    (args.out / "table.md").write_text(text)
    figure(rows, args.out / "sign_constraints.png")
    print(text + f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
