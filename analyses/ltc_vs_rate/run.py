"""LTC vs rate networks under bias-only control: the same targets, matched sizes (issue 9).

``python analyses/ltc_vs_rate/run.py CONFIG --out OUT`` fits every (variant, target) of CONFIG
with ``brainbias.run`` (one context per fit, closed loop; the recording in autonomous mode) and
writes ``OUT/results.jsonl`` (one line per fit), ``OUT/table.md`` and ``OUT/fits.png``: each
target's held-out free run, rate and LTC side by side. Only the public API is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

import brainbias as bb
from brainbias import results
from brainbias.analysis.long_run import long_run_variables
from brainbias.config import ExperimentConfig, from_dict

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parents[1] / "datasets"
# time units of free run vs an independent Lorenz reference (30 bins per dimension need ≥ 540)
LONG_RUN_TIME = 600.0


def _network(study, variant):
    """The [network] table of a variant: the shared keys, the family's section of the study
    and the variant's own overrides of it (a ``ltc`` / ``rate`` table in the variant)."""
    family = variant["model"]
    net = {"model": family, "n_units": variant["n_units"], **study["network"]}
    section = {**study[family], **variant.get(family, {})}
    net["tau"] = section.pop("tau")
    if family == "ltc":
        net["ltc"] = section
    else:
        net["connectivity"] = {"gain": section["gain"]}
    return net


def target_config(study, variant, target) -> ExperimentConfig:
    """One bias-only closed-loop fit of ``target`` by ``variant``."""
    s = study["study"]
    return from_dict(ExperimentConfig, {
        "seed": 0, "network": _network(study, variant),
        "training": {**study["training"], "mode": "bias", "run_mode": "closed_loop",
                     "n_iterations": s["n_iterations"], "chunk_size": min(100, s["n_iterations"])},
        "evaluation": {"washout": 200, "horizon": 100},
        "targets": [{"kind": target, "name": target, "n_steps": s["n_steps"], "dt": 0.02}]})


def recording_config(study, variant) -> ExperimentConfig:
    """Bias-only fit of the ground-truth recording (three conditions, trained initial states)."""
    net = _network(study, variant)
    net.pop("feedback_scale"), net.pop("readout_scale")
    return from_dict(ExperimentConfig, {
        "seed": 0, "network": {**net, "tau": 0.05 if variant["model"] == "rate" else 0.1},
        "training": {"mode": "bias", "run_mode": "autonomous", "train_initial_state": True,
                     "test_fraction": 0.0, "window": 60, "learning_rate": 0.03,
                     "n_iterations": study["study"]["n_iterations"], "chunk_size": 100},
        "recording": {"path": str(DATASETS / "ground_truth_timescales.nwb"),
                      "trial_key": "trials", "align_event": "stimulus_onset", "t_start": 0.0,
                      "t_stop": 0.6, "bin_size": 0.01, "kernel_width": 0.02}})


def _row(name, variant, target, ds, wall):
    row = {"variant": name, "model": variant["model"], "n_units": variant["n_units"],
           "target": target, "train_time": float(ds.attrs["training_wall_time"]), "wall": wall,
           "final_loss": float(np.mean(ds["loss"].values[-10:]))}
    if "psth_r2_overall" in ds:
        row.update(psth_r2=float(ds["psth_r2_overall"]), co_bps=float(ds["co_bps_overall"]))
        return row
    d = ds.isel(context=0)
    row.update(nrmse=float(d["nrmse"]), vpt=float(d["valid_prediction_lyapunov_times"]),
               period_error=float(d["period_error"]), amplitude_error=float(d["amplitude_error"]))
    if target == "lorenz":
        per = {target: {"notes": []}}
        lr = long_run_variables(ds, [target], per, long_run_time=LONG_RUN_TIME)
        row.update({k: float(v[1][0]) for k, v in lr.items()})
    return row


def run_study(study, out: Path, *, progress=True, only=None):
    rows = []
    jobs = [(t, target_config) for t in study["study"]["targets"]]
    if study["study"].get("recording"):
        jobs.append(("recording", None))
    for target, make in jobs:
        for name, variant in study["variants"].items():
            if only and name not in only:
                continue
            config = make(study, variant, target) if make else recording_config(study, variant)
            t0 = time.perf_counter()
            ds = bb.run(config, out_dir=out / name / target, progress=progress, force=True)
            rows.append(_row(name, variant, target, ds, time.perf_counter() - t0))
            with open(out / "results.jsonl", "a") as fh:
                fh.write(json.dumps(rows[-1]) + "\n")
            print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows) -> str:
    cols = [("target", "target"), ("variant", "variant"), ("N", "n_units"),
            ("NRMSE", "nrmse"), ("VPT (Λ)", "vpt"), ("period err", "period_error"),
            ("D_stsp", "long_run_state_space_divergence"),
            ("D_H", "long_run_power_spectrum_distance"),
            ("VPT long (Λ)", "valid_prediction_median"),
            ("PSTH R²", "psth_r2"), ("co-bps", "co_bps"), ("train s", "train_time")]
    cols = [c for c in cols if any(c[1] in r and np.isfinite(r[c[1]]) for r in rows
                                   if not isinstance(r.get(c[1]), str)) or c[1] in
            ("target", "variant", "n_units")]
    fmt = lambda v: v if isinstance(v, str) else ("—" if v is None or not np.isfinite(v)  # noqa: E731
                                                   else f"{v:.3g}")
    lines = ["| " + " | ".join(c[0] for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(k)) if k != "n_units" else str(r[k])
                                for _, k in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _load_fits(study, out: Path):
    """Every fit of the study found in ``out`` (those of earlier ``--only`` runs included)."""
    fits = {}
    for name in study["variants"]:
        for target in study["study"]["targets"]:
            path = out / name / target / "run.nc"
            if path.exists():
                fits[(name, target)] = results.load(path)
    return fits


def figure(fits, study, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(study["study"]["targets"])
    names = [n for n, v in study["variants"].items() if v["n_units"] == min(
        w["n_units"] for w in study["variants"].values())]
    fig, axes = plt.subplots(len(targets), len(names), figsize=(5 * len(names),
                             2.2 * len(targets) + 0.6), squeeze=False)
    for i, t in enumerate(targets):
        for j, n in enumerate(names):
            if (n, t) not in fits:
                axes[i, j].set_axis_off()
                continue
            d = fits[(n, t)].isel(context=0)
            steps = min(400, d.sizes["time"])
            ax = axes[i, j]
            ax.plot(d["time"].values[:steps], d["target"].values[:steps, 0], "k", lw=1.2,
                    label="target")
            ax.plot(d["time"].values[:steps], d["prediction"].values[:steps, 0], "C3", lw=1.0,
                    label=f"{n} (free run)")
            ax.set_title(f"{t}: {n}, N = {study['variants'][n]['n_units']}, "
                         f"NRMSE {float(d['nrmse']):.2f}", fontsize=9)
            ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--only", nargs="+", default=None, metavar="VARIANT",
                    help="fit only these variants, adding them to OUT's earlier results")
    args = ap.parse_args(argv)
    study = tomllib.loads(args.config.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "results.jsonl"
    if args.only is None:
        log.unlink(missing_ok=True)
    run_study(study, args.out, progress=not args.no_progress, only=args.only)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    (args.out / "table.md").write_text(table(rows))
    figure(_load_fits(study, args.out), study, args.out / "fits.png")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
