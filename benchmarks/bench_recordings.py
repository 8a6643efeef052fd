"""Cost of fitting recorded population activity (issue 4), each next to a reference measured in
the same run.

Rows (one table; ``ratio`` = seconds / reference seconds):

- ``read``: ``read_recording`` of the shipped ``datasets/ground_truth.nwb`` (Neo + pynwb),
  reference: reading the same spike times with pynwb alone (no Neo objects).
- ``bin+smooth``: ``bin_and_smooth`` (Elephant counts and Gaussian-smoothed rates, 10 ms bins,
  σ = 20 ms, [0, 1] s), reference: ``numpy.histogram`` counts of the same spikes.
- ``fit``: the demo's fit of the shipped file (``analyses/configs/recording_demo.toml``;
  ``--quick``: 200 iterations) through :func:`brainbias.experiment.recording.run`, split into
  load+bin,
  training (including its one compilation) and evaluation; reference: one forward simulation
  of all conditions (``training.observe`` of ``simulate``, jitted) per training iteration.
- ``neurons``: seconds per training iteration with 100 vs 1000 recorded neurons (the 1000 are
  synthesised: each draws one of the teacher's 100 true PSTHs, scaled by a random gain in
  [0.5, 1.5], and Poisson spikes from it — ``from_spike_times``), 300 units, 4 conditions;
  reference: the 100-neuron case (ratio = cost of 10× the neurons). Binning and the
  co-smoothing readout are timed too.
- ``trials``: the same with 20 vs 80 trials per condition (100 neurons): binning grows with
  the trials, training does not (its targets are PSTHs).

Memory: ``peak RSS MiB`` is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after each row (a
running maximum of the whole process).

Run: ``python -m benchmarks --only recordings [--quick]`` or
``python benchmarks/bench_recordings.py [--quick]``.
"""

from __future__ import annotations

import pathlib
import resource
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
NWB = ROOT / "datasets" / "ground_truth.nwb"
TEACHER = ROOT / "datasets" / "ground_truth_teacher.npz"
DEMO = ROOT / "analyses" / "configs" / "recording_demo.toml"


def _rss_mib() -> float:
    # Linux reports KiB (macOS bytes); this machine kind is Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _pynwb_spike_times():
    """Reference reader: every unit's spike times with pynwb alone."""
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(NWB), "r") as io:
        nwb = io.read()
        units = nwb.units
        return [np.asarray(units["spike_times"][i]) for i in range(len(units))]


def _synthetic_recording(n_neurons: int, n_per_condition: int, *, seed: int = 0):
    """Poisson spikes from the teacher's true PSTHs (10 ms bins over [-0.2, 1] s), resampled
    to ``n_neurons`` with random gains in [0.5, 1.5]."""
    from brainbias.data.recordings import from_spike_times

    with np.load(TEACHER, allow_pickle=False) as f:
        true = f["true_psth"].astype(float)  # (condition, time, neuron) Hz
        edges0 = float(f["true_psth_time"][0]) - 0.005
        conditions = [str(c) for c in f["conditions"]]
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, true.shape[2], n_neurons)
    gain = rng.uniform(0.5, 1.5, n_neurons)
    rates = true[:, :, pick] * gain  # (condition, time, neuron)
    n_bins = rates.shape[1]
    duration = n_bins * 0.01
    trials, labels = [], []
    for c, label in enumerate(conditions):
        for _ in range(n_per_condition):
            counts = rng.poisson(rates[c] * 0.01)  # (time, neuron)
            row = []
            for n in range(n_neurons):
                k = counts[:, n]
                bins = np.repeat(np.arange(n_bins), k)
                row.append(np.sort(edges0 + (bins + rng.uniform(0, 1, bins.size)) * 0.01))
            trials.append(row)
            labels.append(label)
    return from_spike_times(trials, labels, t_start=edges0, t_stop=edges0 + duration)


def _iteration_cost(binned, rec, *, n_units: int, n_iterations: int):
    """Seconds per training iteration (second call: compiled) and per forward simulation."""
    import jax
    import jax.numpy as jnp

    from brainbias import make_controller, make_network, simulate
    from brainbias.config import TrainingConfig
    from brainbias.experiment.recording import fit_heldout_readout, prepare
    from brainbias.training.loop import fit

    data = prepare(binned, rec)
    targets = data.targets()
    net = make_network(n_units, n_outputs=len(data.held_in), dt=data.bin_size, tau=0.05,
                       key=jax.random.PRNGKey(0), dtype=jnp.float32)
    ctrl = make_controller(net, list(data.conditions), key=jax.random.PRNGKey(1),
                           bias_scale=0.1)
    cfg = TrainingConfig(run_mode="autonomous", train_initial_state=True, test_fraction=0.0,
                         window=data.n_bins, n_iterations=n_iterations, chunk_size=n_iterations,
                         checkpoint_every=0)
    first, _ = _timed(lambda: fit(net, ctrl, targets, cfg, key=jax.random.PRNGKey(2),
                                  progress=False))
    second, res = _timed(lambda: fit(net, ctrl, targets, cfg, key=jax.random.PRNGKey(2),
                                     progress=False))
    n = data.n_bins

    @jax.jit
    def forward(bias, x0):
        return jax.vmap(lambda b, x: simulate(net, b, x, n_steps=n)[1])(bias, x0)

    forward(res.controller.bias, res.controller.initial_state).block_until_ready()
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        forward(res.controller.bias, res.controller.initial_state).block_until_ready()
    t_forward = (time.perf_counter() - t0) / reps
    rates = np.tanh(np.asarray(
        jax.vmap(lambda b, x: simulate(net, b, x, n_steps=n)[0])(
            res.controller.bias, res.controller.initial_state), dtype=float))
    t_readout, _ = _timed(lambda: fit_heldout_readout(rates, data, seed=0))
    return {"per_iteration": second / n_iterations, "compile": first - second,
            "forward": t_forward, "readout": t_readout}


def run(quick: bool = False) -> list[dict]:
    """Measure every row; ``quick`` shrinks the fit and the synthetic sizes for a smoke run."""
    import dataclasses
    import warnings

    import jax

    jax.config.update("jax_enable_x64", True)  # entry point: analysis precision like the CLI
    from brainbias.config import ExperimentConfig, RecordingConfig
    from brainbias.data.recordings import bin_and_smooth, read_recording
    from brainbias.experiment import pipeline

    rows = []

    def row(measurement, case, seconds, reference, ref_seconds, note=""):
        rows.append({"measurement": measurement, "case": case, "seconds": seconds,
                     "reference": reference, "reference s": ref_seconds,
                     "ratio": seconds / ref_seconds if ref_seconds else float("nan"),
                     "peak RSS MiB": _rss_mib(), "note": note})

    # -- read and bin the shipped file
    t_read, rec = _timed(lambda: read_recording(NWB, trial_key="trials",
                                                align_event="stimulus_onset"))
    t_ref, spikes = _timed(_pynwb_spike_times)
    row("read", f"{NWB.name}: {rec.n_trials} trials x {rec.n_neurons} neurons "
        f"({sum(s.size for s in spikes)} spikes)", t_read, "pynwb only", t_ref)
    t_bin, binned = _timed(lambda: bin_and_smooth(rec, bin_size=0.01, kernel_width=0.02,
                                                  t_start=0.0, t_stop=1.0))

    def hist():
        edges = np.linspace(0.0, 1.0, 101)
        return [[np.histogram(rec.spike_times(i, k), edges)[0] for k in range(rec.n_neurons)]
                for i in range(rec.n_trials)]

    t_hist, _ = _timed(hist)
    row("bin+smooth", "10 ms bins, Gaussian σ 20 ms, [0, 1] s", t_bin, "numpy.histogram counts",
        t_hist)

    # -- the demo fit of the shipped file, end to end
    config = ExperimentConfig.from_toml(DEMO)
    if quick:
        config = dataclasses.replace(config, training=dataclasses.replace(
            config.training, n_iterations=200, chunk_size=100))
    t_run, ds = _timed(lambda: pipeline.run(config, progress=False))
    train = float(ds.attrs["training_wall_time"])
    load = float(ds.attrs["recording_load_time"])
    n_it = config.training.n_iterations
    cost = _iteration_cost(binned, RecordingConfig(t_start=0.0, t_stop=1.0),
                           n_units=config.network.n_units, n_iterations=20 if quick else 100)
    row("fit", f"demo config: {config.network.n_units} units, {n_it} iterations, mode "
        f"{config.training.mode} (total {t_run:.1f} s: load+bin {load:.1f}, training "
        f"{train:.1f}, evaluation+results {t_run - load - train:.1f})",
        train / n_it, "forward simulation of all conditions", cost["forward"],
        note=f"s per iteration; PSTH R² {float(ds.psth_r2_overall):.3f} (baseline "
             f"{float(ds.psth_r2_baseline_overall):.3f}), co-bps {float(ds.co_bps_overall):.3f} "
             f"(baseline {float(ds.co_bps_baseline_overall):.3f})")

    # -- scaling with neurons and trials (synthetic, from the teacher's true PSTHs)
    rec_cfg = RecordingConfig(t_start=0.0, t_stop=1.0)
    n_units = 100 if quick else 300
    n_iterations = 10 if quick else 50
    cases = {}
    for n_neurons, n_trials in ((100, 20), (1000, 20), (100, 80)):
        if quick:
            n_neurons, n_trials = n_neurons // 5, max(4, n_trials // 4)
        syn = _synthetic_recording(n_neurons, n_trials)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # silent synthetic neurons are dropped with a warning
            t_b, b = _timed(lambda syn=syn: bin_and_smooth(syn, bin_size=0.01, kernel_width=0.02,
                                                           t_start=0.0, t_stop=1.0))
        c = _iteration_cost(b, rec_cfg, n_units=n_units, n_iterations=n_iterations)
        cases[(n_neurons, n_trials)] = (t_b, c, b.sizes["neuron"])
    keys = list(cases)
    base_bin, base_cost, _ = cases[keys[0]]
    for key, what in ((keys[1], "neurons"), (keys[2], "trials")):
        t_b, c, kept = cases[key]
        label = f"{key[0]} neurons ({kept} kept) x {key[1]} trials/condition, {n_units} units"
        ref = f"{keys[0][0]} neurons x {keys[0][1]} trials/condition"
        row(f"{what}: training", label, c["per_iteration"], ref, base_cost["per_iteration"],
            note="s per iteration")
        row(f"{what}: bin+smooth", label, t_b, ref, base_bin)
        row(f"{what}: co-smoothing readout", label, c["readout"], ref, base_cost["readout"])
    return rows


def main(argv=None):
    sys.path.insert(0, str(ROOT))
    from benchmarks._util import print_table

    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    print_table("fitting recorded population activity" + (" (quick sizes)" if quick else ""),
                run(quick=quick))


if __name__ == "__main__":
    main()
