"""Spike recordings in, binned counts and smoothed rates out: Neo and Elephant at the boundary.

The flow is::

    file Neo can read ─┐
    neo.Block/Segments ┼─► Recording ─► bin_and_smooth ─► xarray Dataset (trial, time, neuron)
    spike-time arrays ─┘   (trials × neurons of          counts (Elephant BinnedSpikeTrain)
                            neo.SpikeTrain, seconds,     rates  (Elephant instantaneous_rate)
                            condition per trial)                   │
                                                                  psth ─► (condition, time, neuron)

Which file holds what:

``container``      :class:`Recording` (with ``Recording.select``), :class:`RecordingWarning`, and
                   the conversions every part uses (times to seconds, labels, short messages);
``reading``        :func:`read_recording` (Neo/NWB/NIX files and Neo objects, the NWB trials
                   table) and :func:`from_spike_times` (arrays);
``trials``         trials and conditions: cutting trials by segment or Epoch/Event, condition
                   labels, alignment to an event, cropping, building the Recording;
``binning``        :func:`bin_and_smooth`, :data:`KERNELS`, :data:`DEFAULT_SOFT_NORMALISATION`
                   and the Elephant kernel corrections;
``averages``       :func:`psth` (condition averages);
``nitime_locust``  :func:`load_nitime_locust` (the locust receptor data shipped with nitime).

* :func:`read_recording` reads any file Neo can read (NWB needs ``pynwb``, NIX needs ``nixio``).
  Trials are Neo segments, or are cut from one segment by an Epoch or an Event you name
  (``trial_key``). Condition labels come from annotations under ``condition_key``: segment
  annotations, or the cutting Epoch/Event's ``array_annotations`` (or its ``labels``). NWB
  files: Neo's NWBIO (0.14) ignores the NWB *trials* table, so it is added here as an Epoch
  named ``"trials"`` whose ``array_annotations`` are the table's columns — read such files with
  ``trial_key="trials"`` (and e.g. ``align_event="stimulus_onset"`` for a time column).
* :func:`from_spike_times` builds the same :class:`Recording` from arrays passed in Python.
* :func:`bin_and_smooth` bins with ``elephant.conversion.BinnedSpikeTrain`` (explicit
  tolerance) and smooths with ``elephant.statistics.instantaneous_rate``. Elephant's history is
  full of float-binning edge cases, so times are handed to Elephant relative to the window
  start (``t_start = 0``, ``t_stop = n_bins · bin_size``: multiples of the bin size), spikes
  within ``tolerance`` bins of an edge are snapped onto it once, for counts and rates alike,
  and the number of rate samples is checked.

Conventions (the choices the issue asked to state):

* Times are seconds everywhere after the boundary; quantities in other time units (ms, µs)
  are converted, non-time quantities are a :class:`DataError`.
* Trial time zero is the trial's start, or ``align_event``'s first occurrence in the trial.
* Bins are half-open ``[edge_k, edge_k+1)``: a spike exactly at the window's ``t_stop`` is not
  counted (it belongs to the next bin, outside the window).
* Spike times outside a trial's ``[t_start, t_stop]`` given to :func:`from_spike_times` are a
  :class:`DataError` (nothing is dropped silently). Spikes of a trial that fall outside the
  *analysis window* of :func:`bin_and_smooth` are simply outside the window (that is what a
  window is), but a window that reaches outside a trial's recorded extent is a DataError.
* Neurons without a spike in the analysis window are dropped with a :class:`RecordingWarning`
  listing them (their names are kept in ``attrs["dropped_neurons"]``, joined by ", ").
  Trials without any spike are kept with a warning (silence is data). Trials without spike
  trains, or with a non-positive duration, are DataErrors.

Neo, Elephant, quantities, pynwb, xarray and nitime are imported inside functions only.
"""

from .averages import psth
from .binning import DEFAULT_SOFT_NORMALISATION, KERNELS, bin_and_smooth
from .container import Recording, RecordingWarning
from .nitime_locust import load_nitime_locust
from .reading import from_spike_times, read_recording

__all__ = [
    "Recording",
    "RecordingWarning",
    "KERNELS",
    "DEFAULT_SOFT_NORMALISATION",
    "read_recording",
    "from_spike_times",
    "bin_and_smooth",
    "psth",
    "load_nitime_locust",
]
