"""The Levenberg–Marquardt finish step by step: teacher-forced loss and validation scores.

``python analyses/lorenz_attractor/lm_curves.py RESULTS.jsonl [...] --out FIGURE.png`` reads the
JSON lines that ``study.py --lm-steps K --log RESULTS.jsonl`` writes and draws, per run, the
one-step loss of each step and the guard's validation scores (median valid prediction time over
24 starts, D_stsp of the guard's free run), with the kept step marked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def runs_of(paths):
    """``(label, scores)`` of every run with an LM finish in the JSON-lines files."""
    out = []
    for path in paths:
        for line in Path(path).read_text().splitlines():
            row = json.loads(line)
            if "lm_history" in row["scores"]:
                p = row["point"]
                guard = p.get("lm_guard_free_run", 15000)  # before the option: the validation length
                out.append((f"N={p['n_units']}, seed {p['seed']} (guard {guard // 1000}k steps)",
                            row["scores"]))
    return out


def draw(runs):
    """The figure: loss, validation VPT and validation D_stsp against the LM step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
    for label, s in runs:
        first = s["lm_history"][0]["iteration"]
        steps = [h["iteration"] - first for h in s["lm_history"]]
        kept = s["lm_selected_iteration"] - first
        line, = axes[0].semilogy(range(len(s["lm_loss"])), s["lm_loss"], "o-", ms=3,
                                 label=label)
        for ax, key in ((axes[1], "valid_prediction"), (axes[2], "state_space_divergence")):
            values = [h[key] for h in s["lm_history"]]
            ax.plot(steps, values, "o-", ms=3, color=line.get_color())
            ax.plot([kept], [values[steps.index(kept)]], "*", ms=12, color=line.get_color())
    axes[0].set(xlabel="Levenberg–Marquardt step", ylabel="one-step MSE (z-scored units²)",
                title="teacher-forced loss")
    axes[1].axhline(3.0, color="k", lw=0.8, ls="--", label="goal 3 Λ")
    axes[1].set(xlabel="Levenberg–Marquardt step", ylabel="median VPT (Lyapunov times)",
                title="validation: valid prediction (24 starts)")
    axes[2].set_yscale("log")
    axes[2].axhline(0.5, color="k", lw=0.8, ls="--", label="goal 0.5")
    axes[2].set(xlabel="Levenberg–Marquardt step", ylabel="D_stsp (30 bins)",
                title="validation: free run of the guard")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    axes[2].legend(fontsize=8)
    fig.suptitle("bias-only Lorenz-63: LM finish after gradient training (★ = step kept by "
                 "the validation guard)")
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    runs = runs_of(args.results)
    if not runs:
        print("no run with an LM finish in these files", file=sys.stderr)
        return 1
    draw(runs).savefig(args.out, dpi=110)
    print(f"wrote {args.out} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
