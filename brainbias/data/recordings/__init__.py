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
``reading``        :func:`read_recording` (files and Neo objects, step by step) and
                   :func:`from_spike_times` (arrays);
``sources``        what a file holds before any spike is loaded: choosing the Neo IO, Neo's
                   lazy proxies, one ``load()`` per spike train;
``nwb``            NWB files through pynwb, lazily: Neo's layout plus the units-table
                   columns, the trials (and other intervals) tables, events' own names;
``trials``         cutting trials by segment or Epoch/Event, alignment to an event,
                   cropping, building the Recording;
``labels``         the trials' conditions: annotation or trials-table column, segment names
                   (a pattern), an events channel, a CSV file;
``sanity``         loading and checking spike times (errors vs repairs), unit selection by
                   annotation and rate, the progress bar;
``inspect``        :func:`inspect_file`: what a file holds and a ``[recording]`` table for it;
``config``         :class:`~brainbias.config.RecordingConfig`, the ``[recording]`` table;
``binning``        :func:`bin_and_smooth`, :func:`kernel_reach`, :data:`KERNELS`,
                   :data:`DEFAULT_SOFT_NORMALISATION` and the Elephant kernel corrections;
``averages``       :func:`psth` (condition averages);
``nitime_locust``  :func:`load_nitime_locust` (the locust receptor data shipped with nitime).

* :func:`read_recording` reads any file Neo can read (NWB needs ``pynwb``, NIX needs ``nixio``).
  Trials are Neo segments, or are cut from segments by an Epoch or an Event you name
  (``trial_key``). Condition labels come from annotations under ``condition_key`` (segment
  annotations, a trials-table column, or the cutting Epoch/Event's ``array_annotations`` or
  ``labels``), from the trials' names (``condition_from_name``), an events channel
  (``condition_events``) or a CSV file (``condition_csv``). NWB files are read with pynwb:
  the *trials* table (which Neo's NWBIO ignores) is an Epoch named ``"trials"`` in every
  segment it covers — one segment for the whole session, or one segment per trial.
* Spikes are loaded one spike train at a time, after the trials are cut and cropped; bad
  spike times are errors naming the trial, unsorted and duplicated times are repaired with
  a warning (the table in :mod:`.sanity`).
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
  trains, or with a non-positive duration, are DataErrors. Messages name trials by their
  name and condition (``Recording.trial_names``), not by an index alone.

Neo, Elephant, quantities, pynwb, xarray and nitime are imported inside functions only.
"""

from .averages import psth
from .binning import DEFAULT_SOFT_NORMALISATION, KERNELS, bin_and_smooth, kernel_reach
from .container import Recording, RecordingWarning
from .inspect import FileSummary, inspect_file
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
    "kernel_reach",
    "psth",
    "load_nitime_locust",
    "inspect_file",
    "FileSummary",
]
