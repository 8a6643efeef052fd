"""Binning and kernels: :func:`bin_and_smooth` (Elephant counts and rates on one bin grid).

``bin_and_smooth`` runs in named steps: check the arguments, fix the window and its bins,
count and smooth (``_counts_and_rates``: padded neo.SpikeTrains per group of trials, one
Elephant call each for counts and rates), drop silent neurons, and label the result. The
kernel helpers (``_make_kernel``, ``_kernel_mass``, ``_rate``) say how Elephant's sampled
kernels are corrected so that rates integrate to the spike counts.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..._errors import ConfigError, DataError, did_you_mean
from .averages import psth
from .container import _TIME_EPS, Recording, RecordingWarning, _seconds, _short
from .trials import _realign

#: Kernel names accepted by :func:`bin_and_smooth` → ``elephant.kernels`` class names.
KERNELS = {
    "gaussian": "GaussianKernel",
    "exponential": "ExponentialKernel",
    "alpha": "AlphaKernel",
    "laplacian": "LaplacianKernel",
    "rectangular": "RectangularKernel",
    "triangular": "TriangularKernel",
    "epanechnikov": "EpanechnikovLikeKernel",
}
# Causal kernels stay causal (the rate at t depends on spikes before t only): Elephant's
# ``center_kernel`` would move their median onto the spike.
_CAUSAL_KERNELS = ("exponential", "alpha")
#: ``c`` in ``rate / (range + c)``, Hz: the 5 spikes/s of Churchland et al. (2012, Nature 487:51).
DEFAULT_SOFT_NORMALISATION = 5.0


def bin_and_smooth(recording: Recording, *, bin_size, kernel="gaussian", kernel_width=0.05,
                   t_start=None, t_stop=None, align_event=None, soft_normalise=False,
                   kernel_cutoff=5.0, tolerance=1e-8, drop_silent=True):
    """Spike counts and kernel-smoothed rates on a common bin grid, as an xarray Dataset.

    Counts come from ``elephant.conversion.BinnedSpikeTrain`` and rates from
    ``elephant.statistics.instantaneous_rate`` sampled once per bin, so ``counts`` and ``rates``
    share the ``time`` axis. Two corrections on top of Elephant, so that the rates integrate to
    the spike counts:

    * Elephant samples the kernel on the bin grid, whose sum × bin is not 1 for coarse bins
      (an exponential kernel 3 bins wide sums to 1.18): rates are divided by that sum.
    * Near the window edges the rates use the trial's spikes outside the window when the trial
      has them (up to ``kernel_cutoff`` widths of padding); where the recording ends, symmetric
      kernels are divided by the part of their mass on recorded bins (the usual edge
      correction; Elephant's own ``border_correction`` also rescales the whole trace to the
      spike count, which would make a rate depend on distant spikes, so it is not used). Causal
      kernels get no correction at the start of the data: they have no past there.

    Parameters
    ----------
    recording : Recording
    bin_size : float or quantity
        Bin width, seconds. Must divide ``t_stop − t_start`` (within ``tolerance`` bins).
    kernel : str
        One of ``KERNELS``. Exponential and alpha kernels stay causal.
    kernel_width : float or quantity
        The kernel's standard deviation (Elephant's ``sigma``), seconds.
    t_start, t_stop : float or quantity, optional
        The analysis window on the (aligned) trial clock; default: the window every trial
        covers (``recording.t_start``, ``recording.t_stop``).
    align_event : str, optional
        Re-align trials to this event first (see :func:`read_recording`).
    soft_normalise : bool or float
        Add ``normalised_rates = rates / (range + c)`` per neuron, with ``range`` the neuron's
        max − min over its condition-averaged rates (PSTHs) and ``c`` in Hz: ``True`` uses
        ``DEFAULT_SOFT_NORMALISATION`` (5 Hz, Churchland et al. 2012), a number sets ``c``.
    kernel_cutoff : float
        Kernel support in multiples of its width (Elephant's ``cutoff``).
    tolerance : float
        Spikes and window edges within this many *bins* of a bin edge are put on the edge
        (Elephant's ``tolerance``, passed explicitly).
    drop_silent : bool
        Drop neurons without any spike in the window (with a warning). If False they are kept
        (their rates are all zero).

    Returns
    -------
    xarray.Dataset
        ``counts`` (trial, time, neuron) int64 and ``rates`` (trial, time, neuron) float64
        [Hz]; optionally ``normalised_rates`` and ``soft_normalisation_scale`` (neuron) [Hz].
        Coordinates: ``trial`` (index into the recording), ``condition`` (trial), ``time``
        (bin centres, s), ``bin_start``/``bin_stop`` (time; the bin edges, s), ``neuron``
        (names). ``attrs``: bin_size, kernel, kernel_width, kernel_cutoff, t_start, t_stop,
        tolerance, align_event, source, dropped_neurons (names joined by ", "),
        soft_normalisation_constant.

    Raises
    ------
    ConfigError
        Non-positive bin size or kernel width, unknown kernel, ``t_stop <= t_start``, or a bin
        size that does not divide the window (the message lists the nearest valid bin sizes).
    DataError
        A window that reaches outside some trial's recorded extent; no neuron with spikes.

    Warns
    -----
    RecordingWarning
        Neurons without spikes in the window (dropped, listed), trials without any spike.

    Examples
    --------
    >>> from brainbias.data.recordings import from_spike_times, bin_and_smooth
    >>> rec = from_spike_times([[[0.05, 0.45], [0.2]]] * 2, ["a", "b"], t_start=0, t_stop=0.5)
    >>> ds = bin_and_smooth(rec, bin_size=0.1, kernel_width=0.05)
    >>> ds.counts.dims, ds.counts.shape
    (('trial', 'time', 'neuron'), (2, 5, 2))
    """
    b, width = _checked_arguments(recording, bin_size, kernel, kernel_width, kernel_cutoff,
                                  tolerance)
    if align_event is not None:
        recording = _realign(recording, align_event)
    start, stop, n_bins = _window(recording, t_start, t_stop, b, tolerance)
    counts, rates, cutoff = _counts_and_rates(recording, start, stop, n_bins, b, kernel, width,
                                              kernel_cutoff, tolerance)
    counts, rates, names, dropped = _drop_silent(counts, rates, recording, start, stop,
                                                 drop_silent)
    ds = _dataset(recording, counts, rates, names, start=start, b=b, attrs={
        "bin_size": b,
        "kernel": kernel,
        "kernel_width": width,
        "kernel_cutoff": cutoff,
        "t_start": start,
        "t_stop": stop,
        "tolerance": float(tolerance),
        "align_event": recording.align_event or "",
        "source": recording.source,
        # one string (netCDF turns a 1-element list into a scalar): names joined by ", "
        "dropped_neurons": ", ".join(dropped),
    })
    if soft_normalise is not False and soft_normalise is not None:
        _add_soft_normalisation(ds, soft_normalise)
    return ds


def kernel_reach(kernel, kernel_width, bin_size, kernel_cutoff=5.0) -> float:
    """Seconds beyond an analysis window whose spikes :func:`bin_and_smooth` reads.

    The rates near the window's edges use spikes up to the kernel's cutoff away (rounded up
    to whole bins); cropping trials at reading with this ``margin``
    (:func:`~brainbias.data.recordings.read_recording`) changes no count and no rate.

    Parameters
    ----------
    kernel : str
        One of ``KERNELS``.
    kernel_width, bin_size : float
        Seconds.
    kernel_cutoff : float
        As :func:`bin_and_smooth`.

    Returns
    -------
    float
        Seconds: the padding :func:`bin_and_smooth` uses plus two bins.

    Raises
    ------
    ConfigError
        As :func:`bin_and_smooth` for an unknown kernel or a non-positive width or bin size.
    """
    if kernel not in KERNELS:
        raise ConfigError(f"kernel: expected one of {tuple(KERNELS)}, got {kernel!r}."
                          + did_you_mean(kernel, KERNELS))
    b = _positive_seconds(bin_size, "bin_size")
    width = _positive_seconds(kernel_width, "kernel_width")
    cutoff = max(float(kernel_cutoff),
                 float(getattr(_make_kernel(kernel, width), "min_cutoff", 0.0)))
    return (math.ceil(cutoff * width / b) + 2) * b


def _checked_arguments(recording, bin_size, kernel, kernel_width, kernel_cutoff, tolerance):
    """Bin size and kernel width in seconds, after checking every argument of bin_and_smooth."""
    if not isinstance(recording, Recording):
        raise ConfigError(f"recording: expected a Recording, got {type(recording).__name__}. "
                          "Build one with read_recording or from_spike_times.")
    b = _positive_seconds(bin_size, "bin_size")
    width = _positive_seconds(kernel_width, "kernel_width")
    if kernel not in KERNELS:
        raise ConfigError(f"kernel: expected one of {tuple(KERNELS)}, got {kernel!r}."
                          + did_you_mean(kernel, KERNELS))
    if (isinstance(kernel_cutoff, bool) or not isinstance(kernel_cutoff, (int, float))
            or not kernel_cutoff > 0):
        raise ConfigError(f"kernel_cutoff: expected a positive number, got {kernel_cutoff!r}.")
    if not (isinstance(tolerance, (int, float)) and 0 < tolerance < 0.5):
        raise ConfigError(f"tolerance: expected a number in (0, 0.5) bins, got {tolerance!r}.")
    return b, width


def _window(recording, t_start, t_stop, b, tolerance):
    """The analysis window ``(start, stop)`` in seconds and its number of bins.

    The window defaults to the one every trial covers; it must lie inside every trial and be
    a whole number of bins.
    """
    start = recording.t_start if t_start is None else float(_seconds(t_start, "s", "t_start"))
    stop = recording.t_stop if t_stop is None else float(_seconds(t_stop, "s", "t_stop"))
    if not stop > start:
        raise ConfigError(f"t_stop ({stop:g} s) must be greater than t_start ({start:g} s).")
    n_bins = _check_divides(start, stop, b, tolerance)
    lo_ext, hi_ext = recording.trial_t_start, recording.trial_t_stop
    outside = np.nonzero((lo_ext > start + _TIME_EPS) | (hi_ext < stop - _TIME_EPS))[0]
    if outside.size:
        which = [recording.describe_trial(i) for i in outside]
        raise DataError(
            f"window [{start:g}, {stop:g}] s reaches outside {outside.size} trial(s) "
            f"{_short(outside.tolist())}: {_short(which, 5)} (e.g. {which[0]} covers "
            f"[{lo_ext[outside[0]]:g}, {hi_ext[outside[0]]:g}] s). Choose a window inside every "
            "trial (default: the window all trials cover) or drop those trials."
        )
    return start, stop, n_bins


def _counts_and_rates(recording, start, stop, n_bins, b, kernel, width, kernel_cutoff,
                      tolerance):
    """Counts and rates (trial, time, neuron) on the window's bins, and the kernel cutoff used.

    Counts are int64; rates are in Hz. The cutoff is ``kernel_cutoff`` or the kernel's own
    minimal cutoff, whichever is larger.
    """
    elephant_kernel = _make_kernel(kernel, width)
    cutoff = max(float(kernel_cutoff), float(getattr(elephant_kernel, "min_cutoff", 0.0)))
    pad = math.ceil(cutoff * width / b)
    causal = kernel in _CAUSAL_KERNELS
    n_trials, n_neurons = recording.n_trials, recording.n_neurons
    # Spike times in bins from the window start, snapped once for counts and rates alike.
    u = [[_snap((np.asarray(st.magnitude, float) - start) / b, tolerance) for st in row]
         for row in recording.spiketrains]
    groups = _padding_groups(recording, start, stop, b, pad, tolerance)
    # One set of neo.SpikeTrains (window plus the kernel's padding) serves both Elephant calls,
    # and each call takes a batch of trials: SpikeTrain construction and per-call checks
    # dominate the cost otherwise.
    trains = [None] * n_trials
    rates = np.zeros((n_trials, n_bins, n_neurons))
    with warnings.catch_warnings():
        # Elephant warns when a kernel is widened to its minimal cutoff — handled above.
        warnings.filterwarnings("ignore", message="The width of the kernel was adjusted")
        mass = _kernel_mass(elephant_kernel, b, cutoff, causal)
        for (lo, hi), idx in groups.items():
            batch = _padded_trains([u[i] for i in idx], n_bins, lo, hi, b)
            r = _rate([x for row in batch for x in row], n_bins, lo, hi, b, elephant_kernel,
                      cutoff, causal=causal, mass=mass)
            rates[idx] = r[lo:lo + n_bins].reshape(n_bins, len(idx), n_neurons).transpose(1, 0, 2)
            for i, row in zip(idx, batch, strict=True):
                trains[i] = row
    counts = _count([x for row in trains for x in row], n_bins, b, tolerance)
    counts = counts.reshape(n_trials, n_neurons, n_bins).transpose(0, 2, 1).astype(np.int64)
    return counts, rates, cutoff


def _padding_groups(recording, start, stop, b, pad, tolerance):
    """Trial indices by ``(lo, hi)``: the bins of recorded data before/after the window (≤ pad)."""
    lo_ext, hi_ext = recording.trial_t_start, recording.trial_t_stop
    groups = {}
    for i in range(recording.n_trials):
        lo = min(pad, math.floor((start - lo_ext[i]) / b + tolerance))
        hi = min(pad, math.floor((hi_ext[i] - stop) / b + tolerance))
        groups.setdefault((lo, hi), []).append(i)
    return groups


def _drop_silent(counts, rates, recording, start, stop, drop_silent):
    """Drop neurons without spikes in the window (warning), and warn about silent trials.

    Returns counts, rates, neuron names (ndarray) and the list of dropped names. The warnings'
    ``stacklevel`` points at the caller of :func:`bin_and_smooth`.
    """
    names = np.array(recording.neuron_names)
    silent = counts.sum(axis=(0, 1)) == 0
    dropped = names[silent].tolist() if drop_silent else []
    if silent.all():
        raise DataError(f"no neuron has a spike in the window [{start:g}, {stop:g}] s; check the "
                        "window and the alignment.")
    if silent.any() and drop_silent:
        warnings.warn(f"dropped {int(silent.sum())} neuron(s) without spikes in "
                      f"[{start:g}, {stop:g}] s: {_short(dropped, 20)}", RecordingWarning,
                      stacklevel=3)
        counts, rates, names = counts[..., ~silent], rates[..., ~silent], names[~silent]
    empty = np.nonzero(counts.sum(axis=(1, 2)) == 0)[0]
    if empty.size:
        which = [recording.describe_trial(i) for i in empty]
        warnings.warn(f"{empty.size} trial(s) have no spike in [{start:g}, {stop:g}] s and are "
                      f"kept (silence is data): {_short(empty.tolist(), 20)} = "
                      f"{_short(which, 10)}", RecordingWarning,
                      stacklevel=3)
    return counts, rates, names, dropped


def _dataset(recording, counts, rates, names, *, start, b, attrs):
    """The labelled (trial, time, neuron) Dataset of counts and rates on the window's bins."""
    import xarray as xr

    n_bins = counts.shape[1]
    edges = start + b * np.arange(n_bins + 1)
    coords = {
        "trial": ("trial", np.arange(recording.n_trials)),
        "condition": ("trial", np.array(recording.conditions)),
        "time": ("time", 0.5 * (edges[:-1] + edges[1:]), {"units": "s", "long_name": "bin centre"}),
        "bin_start": ("time", edges[:-1], {"units": "s"}),
        "bin_stop": ("time", edges[1:], {"units": "s"}),
        "neuron": ("neuron", names),
    }
    data = {
        "counts": (("trial", "time", "neuron"), counts,
                   {"units": "count", "long_name": "spike count per bin"}),
        "rates": (("trial", "time", "neuron"), rates,
                  {"units": "Hz", "long_name": f"{attrs['kernel']}-smoothed firing rate"}),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _add_soft_normalisation(ds, soft_normalise):
    """Add ``normalised_rates = rates / (range + c)`` and its scale to ``ds`` (in place)."""
    c = _soft_constant(soft_normalise)
    means = psth(ds).rates.values  # (condition, time, neuron)
    scale = means.max(axis=(0, 1)) - means.min(axis=(0, 1)) + c
    ds["normalised_rates"] = (("trial", "time", "neuron"), ds["rates"].values / scale,
                              {"units": "1", "long_name": "soft-normalised rate "
                               "rate / (range + c)"})
    ds["soft_normalisation_scale"] = ("neuron", scale, {"units": "Hz",
                                                         "long_name": "range + c"})
    ds.attrs["soft_normalisation_constant"] = c


def _positive_seconds(value, what):
    try:
        v = float(np.asarray(_seconds(value, "s", what)).reshape(()))
    except (ValueError, TypeError):
        raise ConfigError(f"{what}: expected one positive time (seconds), got {value!r}.") from None
    except DataError as exc:
        raise ConfigError(str(exc)) from None
    if not (math.isfinite(v) and v > 0):
        raise ConfigError(f"{what}: expected a positive time in seconds, got {value!r}.")
    return v


def _soft_constant(value):
    if value is True:
        return DEFAULT_SOFT_NORMALISATION
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError("soft_normalise: expected False, True or a constant c >= 0 in Hz, got "
                          f"{value!r}.")
    return float(value)


def _check_divides(start, stop, b, tolerance):
    ratio = (stop - start) / b
    n = round(ratio)
    if n >= 1 and abs(ratio - n) <= tolerance * max(1.0, n):
        return int(n)
    duration = stop - start
    options = sorted({duration / k for k in (math.floor(ratio), math.ceil(ratio)) if k >= 1},
                     key=lambda x: abs(x - b))
    suggestion = ", ".join(f"{x:.6g} s" for x in options)
    raise ConfigError(
        f"bin_size={b:g} s does not divide the window [{start:g}, {stop:g}] s "
        f"({duration:g} s = {ratio:.4g} bins). Nearest valid bin sizes: {suggestion}; or set "
        f"t_stop to {start + max(1, math.floor(ratio)) * b:.6g} s."
    )


def _snap(u, tolerance):
    """Put values within ``tolerance`` of an integer (a bin edge) on it."""
    r = np.round(u)
    return np.where(np.abs(u - r) < tolerance, r, u)


def _padded_trains(u, n_bins, lo, hi, b):
    """neo.SpikeTrains (seconds from the window start) over bins −lo … n_bins + hi.

    ``u`` holds spike times in bins, snapped (see _snap); the extent's end is nudged up by a
    few ulps so that Elephant's ``int((t_stop − t_start) / bin_size)`` does not floor a
    quotient like 1.2 / 0.01 = 119.999… to one bin short.
    """
    import neo
    import quantities as pq

    start, n_total = -lo * b, n_bins + lo + hi
    stop = start + n_total * b
    while int((stop - start) / b) < n_total:
        stop = np.nextafter(stop, np.inf)
    return [[neo.SpikeTrain(x[(x >= -lo) & (x < n_bins + hi)] * b, t_start=start, t_stop=stop,
                            units=pq.s) for x in row] for row in u]


def _count(trains, n_bins, b, tolerance):
    """Counts (train, time) in the window [0, n_bins · b) with Elephant's BinnedSpikeTrain."""
    import quantities as pq
    from elephant.conversion import BinnedSpikeTrain

    with warnings.catch_warnings():
        # Spikes after the window (the rate kernel's padding) are outside it by design.
        warnings.filterwarnings("ignore", message="Binning discarded")
        binned = BinnedSpikeTrain(trains, bin_size=b * pq.s, t_start=0.0 * pq.s,
                                  t_stop=n_bins * b * pq.s, tolerance=tolerance)
    return binned.to_array()


def _rate(trains, n_bins, lo, hi, b, kernel, cutoff, *, causal, mass):
    """Rates (time, train) in Hz on bins −lo … n_bins + hi − 1 of the window.

    Elephant convolves bin counts with the kernel sampled on the bin grid. Two corrections
    (documented in bin_and_smooth): divide by the sampled kernel's mass, so a spike contributes
    exactly one spike to the integral, and for symmetric kernels by the part of that mass that
    falls on recorded bins (edge correction). Both come from one extra train with a spike in
    every bin of the extent: its "rate" times b is that mass, bin by bin.
    """
    import neo
    import quantities as pq
    from elephant.statistics import instantaneous_rate

    n_total = n_bins + lo + hi
    start, stop = trains[0].t_start, trains[0].t_stop
    centres = (np.arange(n_total) + 0.5 - lo) * b
    uniform = neo.SpikeTrain(centres, t_start=start, t_stop=stop, units=pq.s)
    rate = instantaneous_rate(list(trains) + [uniform], sampling_period=b * pq.s, kernel=kernel,
                              cutoff=cutoff, t_start=start, t_stop=stop,
                              center_kernel=not causal, border_correction=False)
    out = np.asarray(rate.rescale("Hz").magnitude, dtype=float)
    if out.shape[0] != n_total:  # _padded_trains makes this unreachable; keep it loud
        raise DataError(f"internal: instantaneous_rate returned {out.shape[0]} bins, expected "
                        f"{n_total}.")
    covered = out[:, -1] * b
    # A causal kernel has no past at the start of the data: no edge correction there (it would
    # divide by ~0 for an alpha kernel); only the mass normalisation.
    norm = np.full(n_total, mass) if causal else covered
    return out[:, :-1] / norm[:, None]


def _kernel_mass(kernel, b, cutoff, causal):
    """Sum × b of Elephant's kernel sampled on the bin grid (1 for a perfectly resolved kernel)."""
    import neo
    import quantities as pq
    from elephant.statistics import instantaneous_rate

    half = math.ceil(cutoff * float(kernel.sigma.rescale(pq.s).magnitude) / b)
    n = 2 * half + 3
    stop = n * b
    while int(stop / b) < n:
        stop = np.nextafter(stop, np.inf)
    st = neo.SpikeTrain([(half + 1.5) * b], t_start=0.0, t_stop=stop, units=pq.s)
    r = instantaneous_rate(st, sampling_period=b * pq.s, kernel=kernel, cutoff=cutoff,
                           t_start=0.0 * pq.s, t_stop=stop * pq.s, center_kernel=not causal)
    return float(np.asarray(r.rescale("Hz").magnitude).sum() * b)


def _make_kernel(name, width):
    import quantities as pq
    from elephant import kernels

    return getattr(kernels, KERNELS[name])(sigma=width * pq.s)
