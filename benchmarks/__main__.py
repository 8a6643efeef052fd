"""Run all benchmarks and print one table per measurement (ratios measured in this run).

Usage: ``python -m benchmarks [--quick] [--only core fixed_points attractor recordings]
[--no-demo]``. Benchmarks are not tests: nothing here asserts; compare the printed ratios with the
aims in the issue and in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import time

MODULES = ("core", "fixed_points", "attractor", "recordings", "sign_constraints", "ltc_ncps",
           "sweep", "sparse")


def main():
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--only", nargs="+", choices=MODULES, default=list(MODULES))
    p.add_argument("--no-demo", action="store_true", help="skip the demo wall-time run")
    args = p.parse_args()

    import jax

    # like the CLI: float64 available (correctness checks); timed paths pass float32 explicitly
    jax.config.update("jax_enable_x64", True)

    from ._util import print_table

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"jax {jax.__version__} on {jax.default_backend()}")
    for name in args.only:
        try:
            mod = importlib.import_module(f"benchmarks.bench_{name}")
        except ModuleNotFoundError as exc:
            print(f"\n## {name}: not available ({exc})")
            continue
        t0 = time.perf_counter()
        kwargs = {"demo": not args.no_demo} if name == "core" else {}
        result = mod.run(quick=args.quick, **kwargs)
        sections = result if result and isinstance(result[0], tuple) else [(name, result)]
        for title, rows in sections:
            print_table(title, rows)
        print(f"({name}: {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
