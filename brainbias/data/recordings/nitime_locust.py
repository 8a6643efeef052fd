"""The nitime locust data: :func:`load_nitime_locust` (one receptor neuron, two stimuli)."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np

from ..._errors import DataError
from .reading import from_spike_times


def load_nitime_locust():
    """The locust (*Locusta migratoria*) auditory receptor recordings shipped with nitime.

    What this is, honestly: intracellular spike times of an auditory receptor cell, recorded
    for **10 s** each under **two stimuli** — a pure tone amplitude-modulated by Gaussian white
    noise with a cut-off of 200 Hz and of 800 Hz (Rokem et al. 2006, J Neurophysiol
    95:2541; nitime's example says both files are the same cell). So: one neuron, two
    stimulus-driven conditions, one trial each — not a population, and not suited to held-out
    trial evaluation. The stimulus is returned alongside.

    Returns
    -------
    recording : Recording
        2 trials (conditions ``"cutoff_200Hz"``, ``"cutoff_800Hz"``) × 1 neuron
        (``"receptor"``), 0–10 s.
    stimulus : xarray.DataArray, shape (trial, time)
        Stimulus envelope in dB SPL sampled every 50 µs, converted as in nitime's example:
        ``20 log10(a / max a) + intensity`` with the intensity from each file's header.

    Raises
    ------
    DataError
        nitime is not installed (``pip install nitime``), or its data files are missing.
    """
    import xarray as xr

    spec = importlib.util.find_spec("nitime")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("load_nitime_locust needs the package 'nitime' (its data folder holds "
                        "the recordings): pip install nitime")
    folder = pathlib.Path(list(spec.submodule_search_locations)[0]) / "data"
    spikes, stims, labels, headers = [], [], [], []
    for i in (1, 2):
        spike_file = folder / f"grasshopper_spike_times{i}.txt"
        stim_file = folder / f"grasshopper_stimulus{i}.txt"
        for f in (spike_file, stim_file):
            if not f.is_file():
                raise DataError(f"{f}: not found; this nitime installation does not ship the "
                                "locust data (reinstall nitime).")
        header = _nitime_header(spike_file)
        times_us = np.loadtxt(spike_file, comments="#", ndmin=1)
        stim = np.loadtxt(stim_file, ndmin=2)
        spikes.append(times_us * 1e-6)  # the files are in microseconds (nitime's example)
        stims.append(stim)
        cutoff = float(header.get("cut-off frequency (Hz)", "nan"))
        labels.append(f"cutoff_{cutoff:g}Hz")
        headers.append(header)
    dt = float(np.median(np.diff(stims[0][:, 0]))) * 1e-6
    n = min(len(s) for s in stims)
    duration = n * dt
    rec = from_spike_times([[s] for s in spikes], labels, t_start=0.0, t_stop=duration,
                           neuron_names=["receptor"],
                           source=f"nitime {_version('nitime')}: {folder}/grasshopper_*.txt")
    db = []
    for stim, header in zip(stims, headers, strict=True):
        a = np.maximum(stim[:n, 1], np.finfo(float).tiny)
        db.append(20.0 * np.log10(a / a.max()) + float(header.get("intensity (dB)", "0")))
    stimulus = xr.DataArray(
        np.stack(db),
        dims=("trial", "time"),
        coords={"trial": np.arange(2), "condition": ("trial", np.array(labels)),
                "time": ("time", np.arange(n) * dt, {"units": "s"}),
                "cutoff_frequency": ("trial", [float(h.get("cut-off frequency (Hz)", "nan"))
                                               for h in headers], {"units": "Hz"})},
        name="stimulus",
        attrs={"units": "dB SPL", "description": "pure tone amplitude-modulated by Gaussian "
               "white noise; envelope converted to dB SPL as in nitime's grasshopper example",
               "reference": "Rokem et al. (2006) J Neurophysiol 95:2541-2552"},
    )
    return rec, stimulus


def _nitime_header(path):
    out = {}
    with open(path) as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            key, _, value = line[1:].partition(":")
            out[key.strip()] = value.strip()
    return out


def _version(package):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"
