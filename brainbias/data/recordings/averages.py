"""Condition averages: :func:`psth` of a :func:`~.binning.bin_and_smooth` dataset."""

from __future__ import annotations

import numpy as np

from ..._errors import DataError


def psth(dataset):
    """Condition averages (PSTHs) of a :func:`bin_and_smooth` dataset.

    Parameters
    ----------
    dataset : xarray.Dataset
        With ``rates`` and ``counts`` (trial, time, neuron) and a ``condition`` coordinate on
        ``trial``.

    Returns
    -------
    xarray.Dataset
        ``rates`` (condition, time, neuron) [Hz], ``mean_counts`` (condition, time, neuron)
        [spikes per bin], ``normalised_rates`` if present, and ``n_trials`` (condition).
        Conditions are in order of first appearance.

    Raises
    ------
    DataError
        A dataset without a ``trial`` dimension, ``condition`` coordinate or ``rates``.
    """
    import xarray as xr

    for what, ok in (("a 'trial' dimension", "trial" in dataset.dims),
                     ("a 'condition' coordinate", "condition" in dataset.coords),
                     ("a 'rates' variable", "rates" in dataset.data_vars)):
        if not ok:
            raise DataError(f"psth: expected a bin_and_smooth dataset with {what}.")
    cond = np.asarray(dataset["condition"].values).astype(str)
    labels = list(dict.fromkeys(cond.tolist()))
    data = {}
    for var, out in (("rates", "rates"), ("counts", "mean_counts"),
                     ("normalised_rates", "normalised_rates")):
        if var not in dataset.data_vars:
            continue
        arr = dataset[var].transpose("trial", "time", "neuron").values.astype(float)
        units = "count/bin" if var == "counts" else dataset[var].attrs.get("units", "")
        data[out] = (("condition", "time", "neuron"),
                     np.stack([arr[cond == lab].mean(axis=0) for lab in labels]),
                     {"units": units})
    data["n_trials"] = ("condition", np.array([int(np.sum(cond == lab)) for lab in labels]))
    coords = {"condition": ("condition", np.array(labels))}
    for name in ("time", "bin_start", "bin_stop", "neuron"):
        if name in dataset.coords:
            c = dataset.coords[name]
            coords[name] = (c.dims, c.values, dict(c.attrs))
    return xr.Dataset(data, coords=coords, attrs=dict(dataset.attrs))
