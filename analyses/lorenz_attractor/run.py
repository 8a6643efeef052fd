"""Bias-only closed-loop Lorenz-63 against its baselines, over several network seeds.

    python analyses/lorenz_attractor/run.py analyses/lorenz_attractor/config.toml --out OUT

reads ``[study]`` (free-run length, seeds) and ``[point]`` (the bias-only settings; every
field of :class:`study.Point`), and ``[baselines.NAME]`` tables of overrides of ``[point]``
(ridge readout, bias + readout, all weights at the same N on the same data). Writes
``OUT/results.jsonl`` (one line per fit), ``OUT/table.md`` (mean ± sd over seeds) and one
attractor figure per fit. Finished fits are skipped on a rerun (delete results.jsonl to redo).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tomllib
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study  # noqa: E402  (the study module beside this script)

COLUMNS = (("d_stsp", "D_stsp (30 bins)", ".2f"), ("d_h", "D_H", ".3f"),
           ("vpt_median", "VPT median (Λ)", ".2f"), ("vpt_mean", "VPT mean (Λ)", ".2f"),
           ("lyapunov", "λ_max", ".3f"), ("train_time", "train (s)", ".0f"))


def plan(config: dict):
    """(name, seed, Point) for every fit of the study, bias-only first."""
    base = config["point"]
    variants = {"bias": {}} | config.get("baselines", {})
    for name, overrides in variants.items():
        for seed in config["study"]["seeds"]:
            yield name, seed, study.Point(**(base | overrides | {"seed": seed}))


def table(rows, floors) -> str:
    """Markdown table: mean ± sd over seeds per variant, with the sampling floors."""
    head = "| variant | seeds | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    by_name: dict = {}
    for r in rows:
        by_name.setdefault(r["variant"], []).append(r["scores"])
    for name, scores in by_name.items():
        cells = []
        for key, _, spec in COLUMNS:
            v = np.array([s[key] for s in scores], dtype=float)
            cells.append(f"{np.mean(v):{spec}} ± {np.std(v, ddof=1) if len(v) > 1 else 0:{spec}}")
        lines.append(f"| {name} | {len(scores)} | " + " | ".join(cells) + " |")
    lines.append(f"\nsampling floor (two independent Lorenz trajectories): D_stsp "
                 f"{floors[0]:.3f}, D_H {floors[1]:.3f}; Lorenz-63 λ_max = 0.906.")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", nargs="+", default=None, help="run only these variants")
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    with open(args.config, "rb") as fh:
        config = tomllib.load(fh)
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "results.jsonl"
    done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    have = {(r["variant"], r["point"]["seed"]) for r in done}
    free_run_time = float(config["study"].get("free_run_time", 1000.0))
    from brainbias.plotting import plot_attractor_comparison

    for name, seed, point in plan(config):
        if (name, seed) in have or (args.only and name not in args.only):
            continue
        print(f"--- {name}, seed {seed}", flush=True)
        scores, _, gen, data = study.run_point(
            point, free_run_time=free_run_time,
            lyapunov_steps=int(config["study"].get("lyapunov_steps", 20000)),
            n_vpt_starts=int(config["study"].get("n_vpt_starts", 24)))
        errors = scores.pop("vpt_errors")
        fig = plot_attractor_comparison(
            data["reference"], gen, dt=point.dt, vpt_errors=errors,
            lyapunov_exponent=study.LORENZ_LYAPUNOV,
            title=f"{name}, N={point.n_units}, seed {seed}: D_stsp {scores['d_stsp']:.2f} "
                  f"(floor {scores['d_stsp_floor']:.2f}), D_H {scores['d_h']:.3f}, median VPT "
                  f"{scores['vpt_median']:.2f} Λ, λ_max {scores['lyapunov']:.3f}")
        fig.savefig(args.out / f"attractor_{name.replace('+', '_')}_seed{seed}.png", dpi=100)
        row = {"variant": name, "point": dataclasses.asdict(point), "scores": scores}
        print(json.dumps(row["scores"]), flush=True)
        with open(log, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        done.append(row)
    floors = (np.mean([r["scores"]["d_stsp_floor"] for r in done]),
              np.mean([r["scores"]["d_h_floor"] for r in done]))
    text = table(done, floors)
    (args.out / "table.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
