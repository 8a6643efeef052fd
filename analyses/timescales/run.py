"""Time scales from the data: fit the second ground-truth recording with ``tau = "auto"`` and
compare every condition's attractor with the teacher's (issue 8, parts 3 and 5).

    python analyses/timescales/run.py                       # the full check, a few minutes
    python analyses/timescales/run.py --mode bias+tau       # also train τ (from the chosen start)
    python analyses/timescales/run.py --config analyses/configs/timescales_tiny.toml  # smoke run

Prints the fit table (held-out scores), the τ grid with its held-out scores, the comparison
table (teacher vs model: kind, period, frequency, decay rate) and the verdict per goal:
kinds right; limit-cycle period and oscillation frequencies within 10 %; decay rates of the
fixed points within a factor 1.5. Exit code 0 when every goal is met, 1 otherwise.
Writes ``run.nc`` and the figures to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE.parent / "configs" / "timescales_demo.toml"


def _config(args):
    from brainbias.config import ExperimentConfig

    config = ExperimentConfig.from_toml(args.config)
    changes = {}
    if args.mode is not None:
        changes["mode"] = args.mode
    if args.iterations is not None:
        changes["n_iterations"] = args.iterations
    if changes:
        config = dataclasses.replace(config,
                                     training=dataclasses.replace(config.training, **changes))
    if args.tau_grid is not None:
        grid = tuple(float(t) for t in args.tau_grid.split(","))
        config = dataclasses.replace(config, network=dataclasses.replace(
            config.network, tau="auto", tau_grid=grid))
    return config


def verdict(ds) -> tuple[bool, str]:
    """Whether every goal is met, and one line per goal."""
    from brainbias.experiment.groundtruth import goals_met

    goals = goals_met(ds)
    lines, ok_all = [], True
    names = {"kind": "attractor kind", "period": "limit-cycle period within 10 %",
             "frequency": "oscillation frequency within 10 %",
             "decay_rate": "decay rate within a factor 1.5"}
    for what, label in names.items():
        judged = {c: g[what] for c, g in goals.items() if g[what] is not None}
        ok = all(judged.values())
        ok_all &= ok
        lines.append(f"  {'met   ' if ok else 'MISSED'}  {label}: "
                     + ", ".join(f"{c} {'ok' if v else 'no'}" for c, v in judged.items()))
    return ok_all, "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=pathlib.Path, default=DEFAULT_CONFIG)
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/timescales"))
    p.add_argument("--mode", default=None, help='training mode, e.g. "bias" or "bias+tau"')
    p.add_argument("--iterations", type=int, default=None, help="override n_iterations")
    p.add_argument("--tau-grid", default=None, help="comma-separated τ grid (s), tau = auto")
    args = p.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)  # an entry point: analysis in float64
    from brainbias.experiment.pipeline import run, summary_table

    config = _config(args)
    if config.recording is None or config.recording.teacher is None:
        sys.exit(f"{args.config}: needs a [recording] table with a teacher file")
    t0 = time.perf_counter()
    ds = run(config, out_dir=args.out, force=True, progress=False)
    print(summary_table(ds))
    ok, lines = verdict(ds)
    print(f"\ngoals ({'all met' if ok else 'not all met'}; τ = {ds.attrs['tau']:.4g} s, "
          f"teacher τ = {ds.attrs['teacher_tau']:g} s, {time.perf_counter() - t0:.0f} s):")
    print(lines)
    print(f"results: {args.out / 'run.nc'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
