"""Lorenz forecast (Williams et al. 2024): predict x(t + 27 steps), open loop vs closed loop.

    python analyses/lorenz_forecast/run.py analyses/lorenz_forecast/config.toml --out OUT

One fixed random network per seed, two ways of forecasting the Lorenz-63 ``x`` coordinate
``lead`` steps ahead from the true trajectory up to time t:

* **open loop**: the network is *driven* by the true ``x(t)`` (one input) and its readout is
  trained to be ``x(t + lead)`` (``run_mode = "driven"``, the forecasting task of the paper);
* **closed loop**: the network is trained, as in ``analyses/lorenz_attractor``, to generate
  the whole trajectory (x, y, z) with its output fed back; teacher-forced on the true
  trajectory up to t, it then runs free and its ``x`` after ``lead`` steps is the forecast.

Each loop is trained bias-only and with the three baselines of ``analyses/lorenz_attractor``
(ridge readout, bias + readout, all weights), on the same training trajectory, and scored by
the NRMSE of ``x(t + lead)`` over the same held-out starts of an independent test trajectory.
The closed-loop fits, the data and their attractor scores come from
``analyses/lorenz_attractor/study.py`` (loaded under a prefixed module name, not copied).
Writes ``OUT/results.jsonl`` (one line per fit), ``OUT/table.md``, ``OUT/traces.npz`` and
``OUT/lorenz_forecast.png``. Only the public API is used.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import time
import tomllib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import brainbias as bb
from brainbias.training.control import effective_leak, effective_readout
from brainbias.training.loop import warm_up

STUDY_DIR = Path(__file__).resolve().parents[1] / "lorenz_attractor"
VARIANTS = ("bias", "readout", "bias+readout", "all")


def lorenz_attractor_study():
    """``analyses/lorenz_attractor/study.py`` as the module ``lorenz_attractor_study`` (every
    study has a run.py and sys.modules is shared: a plain ``import study`` could pick up
    another study's module)."""
    name = "lorenz_attractor_study"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, STUDY_DIR / "study.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def forecast_task(series, lead: int, *, dt: float, name: str = "lorenz_forecast"):
    """The open-loop task on ``series`` (time,): input ``x_k``, output ``x_{k + lead − 1}``.

    In brainbias the state ``x_{k+1}`` has seen the inputs ``u_0 … u_k`` and its output is
    compared with ``outputs[k + 1]``; ``outputs[m] = x_{m + lead − 1}`` therefore asks the
    state that has seen x up to time k for ``x_{k + lead}``: a lead of exactly ``lead`` steps
    from the last input seen, as in the paper's ``r_t = φ(W r_{t−1} + B x_t + b)``,
    ``y_t = x_{t+τ}`` (``targets.lorenz_forecast(horizon_steps=h)`` is the same with
    ``lead = h + 1``).
    """
    x = np.asarray(series, float)
    if lead < 2:
        raise bb.ConfigError(f"lead: expected at least 2 steps, got {lead}.")
    return bb.Trajectory(outputs=x[lead - 1:, None], inputs=x[: len(x) - lead + 1, None],
                         dt=dt, name=name, kind="forecast", input_names=("x(t)",),
                         output_names=(f"x(t+{lead})",), attrs={"lead_steps": lead})


def _f64(tree):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), tree)


def last_seen(n_steps: int, *, lead: int, washout: int, n_starts: int) -> np.ndarray:
    """The times ``t`` (index of the last true sample seen) of the scored forecasts: evenly
    spaced, at least ``washout`` samples of history, ``t + lead`` inside the series."""
    return np.linspace(washout - 1, n_steps - lead - 1, n_starts).astype(int)


def open_loop_forecast(network, controller, series, times, *, lead: int):
    """Predictions of ``series[t + lead]`` (start,) for each ``t`` of ``times``: the network is
    driven by ``series`` from its initial state and read out after seeing ``series[t]``."""
    net, ctrl = _f64(network), _f64(controller)
    u = jnp.asarray(series, jnp.float64)[:, None]
    _, y = bb.simulate(net, ctrl.bias[0], ctrl.initial_state[0], mode="driven",
                       inputs=u[: int(np.max(times)) + 1], readout=effective_readout(net, ctrl),
                       leak=effective_leak(net, ctrl))
    return np.asarray(y[np.asarray(times), 0]), np.asarray(series)[np.asarray(times) + lead]


def closed_loop_forecasts(network, controller, trajectory, times, *, lead: int, washout: int):
    """Predictions of ``trajectory[t + k, 0]`` for every lead ``k = 2 … lead`` (start, k − 2):
    teacher-forced on ``trajectory[t − washout + 1 … t]`` (time, output), then ``lead − 1``
    free steps (the output of the warmed-up state is already the one-step prediction)."""
    net, ctrl = _f64(network), _f64(controller)
    y_all = jnp.asarray(trajectory, jnp.float64)
    kw = dict(readout=effective_readout(net, ctrl), leak=effective_leak(net, ctrl))
    bias, x0 = ctrl.bias[0], ctrl.initial_state[0]

    def one(t):
        teacher = jax.lax.dynamic_slice_in_dim(y_all, t - washout + 1, washout)
        x = warm_up(net, bias, x0, run_mode="closed_loop", teacher=teacher, **kw)
        _, y = bb.simulate(net, bias, x, mode="closed_loop", n_steps=lead - 1, **kw)
        return y[:, 0]

    return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(times)))


def closed_loop_forecast(network, controller, trajectory, times, *, lead: int, washout: int):
    """Predictions of ``trajectory[t + lead, 0]`` (start,) and the truth
    (:func:`closed_loop_forecasts` at its longest lead)."""
    pred = closed_loop_forecasts(network, controller, trajectory, times, lead=lead,
                                 washout=washout)
    return pred[:, -1], np.asarray(trajectory)[np.asarray(times) + lead, 0]


def nrmse(pred, truth) -> float:
    """Root-mean-square error over the standard deviation of the truth."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    return float(np.sqrt(np.mean((pred - truth) ** 2)) / np.std(truth))


def fit_open_loop(settings: dict, mode: str, seed: int, task, *, dt: float):
    """One open-loop fit: the network of ``seed`` (same recurrent weights as the closed loop's,
    one input, one output), ``mode`` trained driven by the true x."""
    s = settings
    k_net, k_ctrl, k_fit = jax.random.split(jax.random.PRNGKey(seed), 3)
    net = bb.make_network(s["n_units"], n_inputs=1, n_outputs=1, dt=dt, tau=s["tau"],
                          connectivity=bb.ConnectivityConfig(gain=s["gain"]),
                          input_scale=s["input_scale"], readout_scale=s["readout_scale"],
                          key=k_net, dtype=jnp.float32)
    ctrl = bb.make_controller(net, [task.name], mode=mode, bias_scale=s["bias_init_scale"],
                              key=k_ctrl)
    n_it = s["n_iterations"]
    cfg = bb.TrainingConfig(mode=mode, run_mode="driven", n_iterations=n_it,
                            learning_rate=s["learning_rate"], batch_size=s["batch_size"],
                            window=s["window"], washout=s["washout"], test_fraction=0.0,
                            ridge=s["ridge"], chunk_size=min(100, n_it), checkpoint_every=0)
    t0 = time.perf_counter()
    result = bb.fit(net, ctrl, [task], cfg, key=k_fit, progress=False)
    return result, time.perf_counter() - t0


def closed_loop_point(config: dict, mode: str, seed: int):
    """The ``lorenz_attractor`` Point of a closed-loop fit: ``[closed_loop]`` settings with the
    variant's overrides."""
    la = lorenz_attractor_study()
    over = config.get("variants", {}).get(mode, {})
    return la.Point(**(config["closed_loop"] | over.get("closed_loop", {})
                       | {"mode": mode, "seed": seed}))


def run_seed_variant(config, mode, seed, data, times):
    """Both loops of one (variant, seed): a results row and the seed's traces."""
    st, ol = config["study"], config["open_loop"]
    lead = int(st["lead_steps"])
    la = lorenz_attractor_study()
    point = closed_loop_point(config, mode, seed)
    scores, closed, _, _ = la.run_point(
        point, progress=False, free_run_time=float(st["free_run_time"]),
        lyapunov_steps=int(st["lyapunov_steps"]), n_vpt_starts=int(st["n_vpt_starts"]))
    scores.pop("vpt_errors")
    scores.pop("validation_history", None)
    cl_all = closed_loop_forecasts(closed.network, closed.controller, data["test"], times,
                                   lead=lead, washout=point.score_washout)
    cl_pred, truth = cl_all[:, -1], np.asarray(data["test"])[times + lead, 0]
    task = forecast_task(data["train"][:, 0], lead, dt=point.dt)
    ol_settings = dataclasses.asdict(point) | ol | config.get("variants", {}).get(mode, {}).get(
        "open_loop", {})
    opened, ol_time = fit_open_loop(ol_settings, mode, seed, task, dt=point.dt)
    ol_pred, truth_o = open_loop_forecast(opened.network, opened.controller, data["test"][:, 0],
                                          times, lead=lead)
    assert np.array_equal(truth, truth_o)  # both loops are scored on the same targets
    row = {"variant": mode, "seed": seed, "lead_steps": lead, "n_units": point.n_units,
           "dt": point.dt, "n_scored": len(times),
           "open_loop_nrmse": nrmse(ol_pred, truth), "closed_loop_nrmse": nrmse(cl_pred, truth),
           "open_loop_train_time": ol_time, "closed_loop_train_time": scores["train_time"],
           "closed_loop_scores": scores,
           "closed_loop_nrmse_by_lead": closed_loop_curve(cl_all, data["test"], times)}
    return row, {"open": ol_pred, "closed": cl_pred, "truth": truth}


def closed_loop_curve(predictions, test, times):
    """NRMSE of the closed-loop free run's x at every lead 2 … (predictions: start, lead)."""
    x, times = np.asarray(test)[:, 0], np.asarray(times)
    return [nrmse(predictions[:, j], x[times + j + 2]) for j in range(predictions.shape[1])]


def persistence(test, times, lead):
    """NRMSE of the trivial forecast x(t + lead) ≈ x(t): the scale any forecast must beat."""
    x = np.asarray(test)[:, 0]
    return nrmse(x[times], x[times + lead])


def summary(rows):
    """{variant: {loop: (mean, sd, n)}} of the NRMSE over seeds."""
    out = {}
    for mode in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == mode]
        out[mode] = {}
        for loop in ("open_loop", "closed_loop"):
            v = np.array([r[f"{loop}_nrmse"] for r in mine])
            out[mode][loop] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                               len(v))
    return out


def table(rows, floor: float) -> str:
    lines = ["| variant | seeds | open loop NRMSE | closed loop NRMSE | closed loop D_stsp | "
             "closed loop VPT (Λ) |", "|---|---|---|---|---|---|"]
    for mode, s in summary(rows).items():
        mine = [r["closed_loop_scores"] for r in rows if r["variant"] == mode]
        d = np.array([m["d_stsp"] for m in mine])
        v = np.array([m["vpt_median"] for m in mine])
        sd = (lambda a: np.std(a, ddof=1) if len(a) > 1 else 0.0)  # noqa: E731
        lines.append(f"| {mode} | {s['open_loop'][2]} | {s['open_loop'][0]:.3f} ± "
                     f"{s['open_loop'][1]:.3f} | {s['closed_loop'][0]:.3f} ± "
                     f"{s['closed_loop'][1]:.3f} | {np.mean(d):.2f} ± {sd(d):.2f} | "
                     f"{np.mean(v):.2f} ± {sd(v):.2f} |")
    r0 = rows[0]
    lines += ["", f"NRMSE of x(t + {r0['lead_steps']} steps) = {r0['lead_steps'] * r0['dt']:g} "
              f"time units on {r0['n_scored']} held-out starts (mean ± s.d. over seeds); "
              f"persistence x(t + {r0['lead_steps']}) ≈ x(t): {floor:.3f}."]
    return "\n".join(lines) + "\n"


def figure(rows, traces, floor, dt, times, path):
    """(a) NRMSE of x(t + lead) per variant, open vs closed loop, mean ± s.d. over seeds;
    (b) the closed loop's NRMSE against the lead, with the open loop at its one lead;
    (c) held-out x(t + lead) and the bias-only forecasts of the first seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    s = summary(rows)
    modes = list(s)
    lead = rows[0]["lead_steps"]
    pos = np.arange(len(modes))
    ax = axes[0]
    for k, (loop, label) in enumerate((("open_loop", "open loop (driven by true x)"),
                                       ("closed_loop", "closed loop (own free run)"))):
        ax.bar(pos + (k - 0.5) * 0.38, [s[m][loop][0] for m in modes], 0.38,
               yerr=[s[m][loop][1] for m in modes], capsize=4, color=f"C{k}", label=label)
        for m_i, m in enumerate(modes):  # each seed as a dot
            v = [r[f"{loop}_nrmse"] for r in rows if r["variant"] == m]
            ax.plot(np.full(len(v), m_i + (k - 0.5) * 0.38), v, "k.", ms=4)
    ax.axhline(floor, color="r", ls="--", lw=1, label="persistence x(t+τ) ≈ x(t)")
    ax.set_xticks(pos, modes)
    ax.set(xlabel="trained parameters", ylabel=f"NRMSE of x(t + {lead} steps)",
           title=f"held-out forecast error, {s[modes[0]]['open_loop'][2]} seeds (mean ± s.d.)")
    ax.legend(fontsize=8)
    ax = axes[1]
    leads = np.arange(2, lead + 1) * dt
    for m_i, m in enumerate(modes):
        curves = np.array([r["closed_loop_nrmse_by_lead"] for r in rows if r["variant"] == m])
        mean, sd = curves.mean(0), curves.std(0, ddof=1) if len(curves) > 1 else 0 * curves[0]
        ax.plot(leads, mean, f"C{m_i}-", label=f"{m}, closed loop")
        ax.fill_between(leads, mean - sd, mean + sd, color=f"C{m_i}", alpha=0.2)
        ax.errorbar(lead * dt, s[m]["open_loop"][0], yerr=s[m]["open_loop"][1], fmt="o",
                    color=f"C{m_i}", capsize=3, label=f"{m}, open loop")
    ax.set(xlabel="lead (Lorenz time units)", ylabel="NRMSE of x(t + lead)",
           title="closed-loop error grows with the lead (band: ± s.d.)")
    ax.legend(fontsize=7, ncol=2)
    ax = axes[2]
    n = min(120, len(traces["truth"]))
    t = (np.asarray(times[:n]) + lead) * dt
    ax.plot(t, traces["truth"][:n], "k.-", lw=1.2, ms=4, label=f"true x(t + {lead} steps)")
    ax.plot(t, traces["open"][:n], "C0.-", lw=0.9, ms=3, label="bias-only, open loop")
    ax.plot(t, traces["closed"][:n], "C1.-", lw=0.9, ms=3, label="bias-only, closed loop")
    ax.set(xlabel="time of the forecast value t + τ (Lorenz time units)",
           ylabel="x (s.d. units)",
           title=f"first {n} held-out forecasts, seed {rows[0]['seed']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--plot-only", action="store_true",
                    help="redraw table.md and the figure from OUT/results.jsonl, traces.npz")
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)  # scoring in float64 (training runs in float32)
    config = tomllib.loads(args.config.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    st = config["study"]
    probe = closed_loop_point(config, "bias", 0)
    if args.plot_only:
        lines = (args.out / "results.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in lines]
        saved = np.load(args.out / "traces.npz")
        first = rows[0]["variant"]
        traces = {first: {k: saved[f"{first}_{k}"] for k in ("open", "closed", "truth")}}
        floor, times = float(saved["persistence"]), saved["times"]
    else:
        # the data run_point builds for every fit (deterministic: seed 0 of lorenz_data)
        data = lorenz_attractor_study().lorenz_data(
            probe.dt, probe.n_train, int(round(float(st["free_run_time"]) / probe.dt)))
        lead = int(st["lead_steps"])
        times = last_seen(len(data["test"]), lead=lead, washout=probe.score_washout,
                          n_starts=int(st["n_scored"]))
        rows, traces = [], {}
        for mode in st.get("variants", VARIANTS):
            for seed in st["seeds"]:
                row, tr = run_seed_variant(config, mode, seed, data, times)
                print(json.dumps({k: v for k, v in row.items() if "scores" not in k
                                  and "by_lead" not in k}), flush=True)
                rows.append(row)
                traces.setdefault(mode, tr)
        floor = persistence(data["test"], times, lead)
        (args.out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        np.savez(args.out / "traces.npz", times=times, persistence=floor,
                 **{f"{m}_{k}": v for m, tr in traces.items() for k, v in tr.items()})
    text = table(rows, floor)
    (args.out / "table.md").write_text(text)
    figure(rows, traces[rows[0]["variant"]], floor, probe.dt, times,
           args.out / "lorenz_forecast.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
