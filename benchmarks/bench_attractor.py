"""Cost of the attractor metrics, each next to a reference measured in the same run.

Rows (seconds are the best of ``repeats`` warm calls; compilation is reported separately):

- ``lyapunov_ode_lorenz``: largest Lyapunov exponent of Lorenz-63 (RK4, dt = 0.01) vs the same
  jitted RK4 integration without tangents (ratio = cost of the tangent + QR);
- ``lyapunov_map_n200``: largest exponent of a random N = 200 rate network map (gain 1.5) with
  forward-mode products (``jacobian="jvp"``) vs forming the full Jacobian (``"jacfwd"``);
- ``state_space_divergence``: D_stsp, 30^3 bins, T = 10^5 vs ``numpy.histogramdd`` of the same
  two trajectories;
- ``power_spectrum_distance``: D_H, T = 10^5 vs the bare ``numpy.fft.rfft`` of both.

Run: ``python benchmarks/bench_attractor.py [--quick]``.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from brainbias import autonomous_map, make_network
from brainbias.analysis.attractor_metrics import (
    lyapunov_exponent,
    lyapunov_exponent_ode,
    power_spectrum_distance,
    state_space_divergence,
)

SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0


def _lorenz_rhs(x):
    return jnp.array([SIGMA * (x[1] - x[0]), x[0] * (RHO - x[2]) - x[1],
                      x[0] * x[1] - BETA * x[2]])


def _rk4_step(x, dt):
    k1 = _lorenz_rhs(x)
    k2 = _lorenz_rhs(x + 0.5 * dt * k1)
    k3 = _lorenz_rhs(x + 0.5 * dt * k2)
    k4 = _lorenz_rhs(x + dt * k3)
    return x + (dt / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)


def _integrate(x0, n_steps, dt):
    """Plain jitted RK4 trajectory (time, 3): the reference for the tangent overhead."""

    @jax.jit
    def run(x0):
        def body(x, _):
            x = _rk4_step(x, dt)
            return x, x

        return jax.lax.scan(body, x0, None, length=n_steps)[1]

    return run, x0


def _best(fn, repeats):
    """(best seconds over warm calls, result); the first call (compile) is timed apart."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return min(times), first, out


def run(quick: bool = False) -> list[dict]:
    """Measure every row; ``quick`` shrinks sizes ~10× for a smoke run."""
    jax.config.update("jax_enable_x64", True)  # entry point: float64 like the tests
    repeats = 1 if quick else 3
    dt = 0.01
    n_ode = 10_000 if quick else 100_000
    n_map = 1_000 if quick else 10_000
    n_time = 30_000 if quick else 100_000
    rows = []

    # Lyapunov exponent of the Lorenz ODE vs plain integration.
    x0 = jnp.array([1.0, 1.0, 1.0])
    sec, first, lam = _best(
        lambda: lyapunov_exponent_ode(_lorenz_rhs, x0, dt=dt, n_steps=n_ode, transient=1000),
        repeats)
    integrate, _ = _integrate(x0, n_ode + 1000, dt)
    ref, _, _ = _best(lambda: integrate(x0), repeats)
    rows.append(dict(name="lyapunov_ode_lorenz", size=f"{n_ode} steps", seconds=sec,
                     first_call_seconds=first, reference="rk4 scan, no tangent",
                     reference_seconds=ref, ratio=sec / ref, value=float(lam[0])))

    # Lyapunov exponent of a random N = 200 network map: jvp vs full Jacobian.
    net = make_network(200, dt=0.1, tau=1.0, key=jax.random.PRNGKey(0))
    step = autonomous_map(net, jnp.zeros(200))
    xs = 0.5 * jax.random.normal(jax.random.PRNGKey(1), (200,))
    kw = dict(n_steps=n_map, dt=net.dt, transient=500)
    sec, first, lam = _best(lambda: lyapunov_exponent(step, xs, **kw), repeats)
    ref, _, lam_ref = _best(lambda: lyapunov_exponent(step, xs, jacobian="jacfwd", **kw),
                            repeats)
    rows.append(dict(name="lyapunov_map_n200", size=f"{n_map} steps", seconds=sec,
                     first_call_seconds=first, reference="jacobian='jacfwd'",
                     reference_seconds=ref, ratio=sec / ref, value=float(lam[0])))

    # D_stsp and D_H at T = 10^5 on two independent Lorenz trajectories.
    traj, _ = _integrate(x0, n_time + 2000, dt)
    a = np.asarray(traj(x0))[2000:]
    b = np.asarray(traj(jnp.array([-3.0, 2.0, 20.0])))[2000:]
    sec, first, d = _best(lambda: state_space_divergence(a, b), repeats)
    span = np.ptp(a, axis=0)
    edges = [np.linspace(a[:, i].min() - 0.1 * span[i], a[:, i].max() + 0.1 * span[i], 31)
             for i in range(3)]
    ref, _, _ = _best(lambda: (np.histogramdd(a, bins=edges), np.histogramdd(b, bins=edges)),
                      repeats)
    rows.append(dict(name="state_space_divergence", size=f"T={n_time}, 30^3 bins",
                     seconds=sec, first_call_seconds=first, reference="np.histogramdd ×2",
                     reference_seconds=ref, ratio=sec / ref, value=d))
    sec, first, d = _best(lambda: power_spectrum_distance(a, b), repeats)
    ref, _, _ = _best(lambda: (np.fft.rfft(a, axis=0), np.fft.rfft(b, axis=0)), repeats)
    rows.append(dict(name="power_spectrum_distance", size=f"T={n_time}", seconds=sec,
                     first_call_seconds=first, reference="np.fft.rfft ×2",
                     reference_seconds=ref, ratio=sec / ref, value=d))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    args = parser.parse_args(argv)
    rows = run(quick=args.quick)
    print(f"{'benchmark':<26}{'size':<24}{'seconds':>9}{'1st call':>10}  "
          f"{'reference':<24}{'ref s':>9}{'ratio':>8}{'value':>11}")
    for r in rows:
        print(f"{r['name']:<26}{r['size']:<24}{r['seconds']:>9.3f}{r['first_call_seconds']:>10.3f}"
              f"  {r['reference']:<24}{r['reference_seconds']:>9.4f}{r['ratio']:>8.3g}"
              f"{r['value']:>11.5f}")


if __name__ == "__main__":
    main()
