"""Command line: ``brainbias fit | demo | analyze | summary | sweep | inspect``.

``demo`` = ``fit`` of the built-in demo config followed by ``analyze`` of its result.

User errors (:class:`~brainbias.BrainbiasError`) print one clear message and exit with code 2;
Ctrl-C during training keeps the checkpoint and exits with 130. Any other exception is a bug: it
prints one paragraph naming it and the file that holds its traceback, and exits with code 1 (no
traceback reaches the screen; docs/bad_input.md). This entry point is the only place
(besides tests) that sets JAX configuration: float64 is enabled so that analysis can reach
q < 1e-12; training runs in the config's ``training.dtype`` (float32 by default).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["main"]

EXIT_INTERNAL_ERROR = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _parser():
    p = argparse.ArgumentParser(
        prog="brainbias",
        description="Fit the tonic inputs (biases) of a fixed random network to target "
        "trajectories, then analyse the dynamics of each context.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    f = sub.add_parser("fit", help="fit a config: writes OUT/run.nc and figures")
    f.add_argument("config", type=Path, help="TOML config (see analyses/configs/)")
    f.add_argument("--out", type=Path, required=True, help="output folder")
    _common(f)
    f.add_argument("--resume", action="store_true",
                   help="continue an interrupted fit from OUT/checkpoint.npz")
    f.add_argument("--tau", type=_tau_value, default=None, metavar="TAU",
                   help='override [network] tau: a time constant in the unit of dt (e.g. 0.02) '
                   'or "auto" (chosen by held-out performance over tau_grid)')
    _model_option(f)

    d = sub.add_parser("demo", help="fit Lorenz + a limit cycle with one network, then analyse")
    d.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    _common(d)
    d.add_argument("--iterations", type=int, default=None,
                   help="override training.n_iterations (e.g. for a quick look)")
    _model_option(d)

    a = sub.add_parser("analyze", help="fixed points, PCA, context comparison and attractor "
                       "metrics of a run: writes analysis.nc and figures next to it")
    a.add_argument("run", type=Path, help="a run.nc written by `brainbias fit`")
    a.add_argument("--out", type=Path, default=None, help="output folder (default: the run's)")
    a.add_argument("--context", nargs="+", default=None, help="analyse only these contexts")
    a.add_argument("--starts", type=int, default=128, help="fixed-point starts per context")
    a.add_argument("--eigenvectors", action="store_true",
                   help="also store Jacobians and eigenvectors (N² numbers per fixed point)")
    a.add_argument("--long-run-time", type=float, default=1000.0, metavar="T",
                   help="chaotic contexts: standard attractor measures on a free run of T time "
                        "units against independent trajectories (0: skip; default 1000)")
    _common(a)

    s = sub.add_parser("summary", help="print the fit-quality table of a results file")
    s.add_argument("run", type=Path, help="a run.nc written by `brainbias fit`")

    i = sub.add_parser("inspect", help="list what a recording file holds (segments, units, "
                       "trials tables, events) and print a [recording] table to start from")
    i.add_argument("file", type=Path, help="a file Neo can read (NWB, NIX, .mat, ...)")
    i.add_argument("--io", default=None, help="the Neo IO (default: from the extension)")
    i.add_argument("--no-rates", action="store_true",
                   help="do not read the spikes (no unit rates; fast on large files)")
    i.add_argument("--no-progress", action="store_true", help="no progress bar")

    w = sub.add_parser("sweep", help="fit a config at every point of a parameter grid on Dask: "
                       "writes OUT/points/*/run.nc and the gathered OUT/sweep.nc")
    w.add_argument("config", type=Path, help="TOML config, optionally with a [sweep] grid table")
    w.add_argument("--grid", action="append", default=[], metavar="KEY=VALUES",
                   help="a dotted config key and its values: a comma list (0.8,1.0,1.2) or a "
                   "range a:b[:step] (seed=0:20); repeat for more keys (the points are the "
                   "Cartesian product); overrides the same key of [sweep] grid")
    w.add_argument("--out", type=Path, required=True, help="sweep folder (a rerun resumes it)")
    w.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler (tcp://host:port); default: an embedded "
                   "LocalCluster")
    w.add_argument("--workers", type=int, default=None, metavar="N",
                   help="workers of the embedded cluster (default: one per core)")
    w.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _tau_value(text: str):
    if text == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected a positive number or "auto", got {text!r}') from None


def _with_tau(config, tau):
    """``config`` with ``network.tau`` replaced (a number drops a ``tau_grid``)."""
    import dataclasses

    if tau is None:
        return config
    grid = config.network.tau_grid if tau == "auto" else None
    network = dataclasses.replace(config.network, tau=tau, tau_grid=grid)
    return dataclasses.replace(config, network=network)


def _model_option(p):
    from .models.registry import FAMILIES

    p.add_argument("--model", choices=tuple(FAMILIES), default=None,
                   help="override [network] model: the network family (rate, or ltc = liquid "
                   "time-constant with conductance-based synapses)")


def _with_model(config, model):
    """``config`` with ``network.model`` replaced; the other family's keys go back to their
    defaults, and a line says which were dropped."""
    import dataclasses

    from .config import NetworkConfig

    if model is None or model == config.network.model:
        return config
    nc, default = config.network, NetworkConfig()
    own = {"rate": ("nonlinearity", "form", "connectivity"), "ltc": ("ltc",)}[nc.model]
    dropped = [k for k in own if getattr(nc, k) != getattr(default, k)]
    if dropped:
        print(f"--model {model}: ignoring the {nc.model} family's [network] keys "
              f"{', '.join(dropped)}")
    reset = {k: getattr(default, k) for k in own}  # NetworkConfig().ltc is None
    network = dataclasses.replace(nc, model=model, **reset)
    return dataclasses.replace(config, network=network)


def _common(p):
    p.add_argument("--force", action="store_true", help="overwrite an existing run.nc")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-figures", action="store_true", help="do not write figures")


def _fit(config, args, *, resume=False, defaulted=None):
    from .experiment.pipeline import run, summary_table

    t0 = time.perf_counter()
    ds = run(config, out_dir=args.out, force=args.force, resume=resume,
             progress=not args.no_progress, figures=not args.no_figures,
             defaulted_sections=defaulted)
    print(summary_table(ds))
    print(f"results: {args.out / 'run.nc'}" + ("" if args.no_figures else
          f"; figures: {args.out}/*.png") + f"  ({time.perf_counter() - t0:.0f} s)")
    return ds


def _analyze(run_path: Path, args, *, out=None, contexts=None, starts=128, eigenvectors=False,
             long_run_time=1000.0):
    import jax

    from . import results
    from .analysis.report import analysis_summary, analyze_run, save_analysis

    out = Path(out) if out is not None else run_path.parent
    target = out / "analysis.nc"
    if target.exists() and not args.force:
        from ._errors import ConfigError

        raise ConfigError(f"{target} exists; refusing to overwrite it (use --force).")
    t0 = time.perf_counter()
    ds = results.load(run_path)
    an = analyze_run(ds, contexts=contexts, n_starts=starts, eigenvectors=eigenvectors,
                     long_run_time=long_run_time, key=jax.random.PRNGKey(int(ds.attrs["seed"])),
                     progress=not args.no_progress)
    save_analysis(an, target, force=True)
    figures = []
    if not args.no_figures:
        from . import plotting

        figures = plotting.save_analysis_figures(an, out)
    print(analysis_summary(an))
    print(f"analysis: {target}" + (f"; figures: {', '.join(str(f) for f in figures)}"
                                   if figures else "")
          + f"  ({time.perf_counter() - t0:.0f} s)")
    return an


def _sweep(args) -> int:
    """``brainbias sweep``: 0 when every point finished, 1 when some failed."""
    from .experiment.sweep import print_summary, sweep
    from .experiment.sweep_grid import parse_grid_option, read_sweep_config

    config, grid = read_sweep_config(args.config)
    grid.update(parse_grid_option(g) for g in args.grid)
    if not grid:
        from ._errors import ConfigError

        raise ConfigError("sweep: no grid; give --grid KEY=VALUES (e.g. --grid seed=0:4) or a "
                          '[sweep] table in the config (grid = {"seed" = [0, 1, 2, 3]}).')
    ds = sweep(config, grid, out_dir=args.out, scheduler=args.scheduler, n_workers=args.workers,
               progress=not args.no_progress)
    print_summary(ds)
    print(f"sweep: {args.out / 'sweep.nc'}; points: {args.out / 'points.json'}")
    return 1 if (ds["status"] == "failed").any() else 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    from ._errors import BrainbiasError, TrainingInterrupted

    try:
        if args.command == "fit":
            from .config import ExperimentConfig

            config = ExperimentConfig.from_toml(args.config)
            defaulted = _note_defaults(args.config, config)
            config = _with_model(_with_tau(config, args.tau), args.model)
            _fit(config, args, resume=args.resume, defaulted=defaulted)
        elif args.command == "demo":
            from .experiment.demo import DEMO_CONFIG
            from .experiment.pipeline import replace_training

            config = _with_model(DEMO_CONFIG, args.model)
            if args.iterations is not None:
                config = replace_training(config, n_iterations=args.iterations)
            _fit(config, args)
            print()
            _analyze(args.out / "run.nc", args)
        elif args.command == "analyze":
            _analyze(args.run, args, out=args.out, contexts=args.context, starts=args.starts,
                     eigenvectors=args.eigenvectors, long_run_time=args.long_run_time)
        elif args.command == "summary":
            from . import results
            from .experiment.pipeline import summary_table

            print(summary_table(results.load(args.run)))
        elif args.command == "sweep":
            return _sweep(args)
        elif args.command == "inspect":
            from .data.recordings import inspect_file

            print(inspect_file(args.file, io=args.io, rates=not args.no_rates,
                               progress=False if args.no_progress else None).text())
    except TrainingInterrupted as exc:
        print(f"brainbias: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("brainbias: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrainbiasError as exc:
        return _report(exc)
    except MemoryError:
        return _report(MemoryError(
            "out of memory: a size in the config is too large for this machine. Lower "
            "network.n_units (memory grows as its square), the targets' n_steps, "
            "training.batch_size or window, or run on a machine with more memory."))
    except Exception as exc:  # a bug, not the input: one paragraph, the traceback in a file
        return _internal_error(exc)
    return 0


def _internal_error(exc) -> int:
    """Report an unexpected exception without a traceback on the screen: its type and
    message, and the file that holds the traceback (for a bug report); exit code 1."""
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="brainbias-traceback-", suffix=".txt",
                                     delete=False) as fh:
        traceback.print_exception(exc, file=fh)
    print(f"brainbias: internal error ({type(exc).__name__}: {exc}). This is a bug in "
          "brainbias rather than a problem it recognised in the input; please report it with "
          f"the config and the command. The traceback is in {fh.name}.", file=sys.stderr)
    return EXIT_INTERNAL_ERROR


def _report(exc) -> int:
    """Print a user error as one paragraph (no traceback); the exit code of user errors."""
    print(f"brainbias: error: {exc}", file=sys.stderr)
    return EXIT_USER_ERROR


def _note_defaults(path, config) -> tuple:
    """Say on stderr which tables the config file left out (their documented defaults
    apply); return them, for the results' attribute ``defaulted_sections``."""
    from .config import defaulted_sections

    sections = defaulted_sections(config)
    if sections:
        tables = ", ".join(f"[{s}]" for s in sections)
        print(f"brainbias: note: {path} has no {tables} table{'s' * (len(sections) > 1)}: "
              "the documented defaults apply (docs: configuration reference); the results "
              "record this in attribute defaulted_sections.", file=sys.stderr)
    return sections


if __name__ == "__main__":
    sys.exit(main())
