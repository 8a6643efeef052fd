"""NetCDF files of results: :func:`save` (atomic), :func:`load` (validated), and picking a
context or the config out of a Dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import xarray as xr

from .._errors import ConfigError, DataError, did_you_mean
from .schema import validate


def save(ds: xr.Dataset, path, *, force: bool = False) -> Path:
    """Write a validated results Dataset to NetCDF.

    Refuses to overwrite an existing file unless ``force``; writes to a temporary file first so
    that a failure never leaves a half-written result.

    Raises
    ------
    ConfigError
        The file exists (without ``force``) or the folder is not writable.
    """
    validate(ds)
    return write_netcdf(ds, path, force=force)


def prepare_output(path, *, force: bool = False) -> Path:
    """Check that ``path`` may be written (before any work is done): refuse an existing file
    unless ``force``, create the folder, check it is writable.

    Raises
    ------
    ConfigError
        The file exists (without ``force``), the folder cannot be created or is not writable.
    """
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; refusing to overwrite it (use --force / force=True).")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {folder}: {exc.strerror}.") from None
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"output folder {folder} is not writable.")
    return path


def write_netcdf(ds: xr.Dataset, path, *, force: bool = False) -> Path:
    """Write ``ds`` through a temporary file, so a failure never leaves a half-written file."""
    path = prepare_output(path, force=force)
    tmp = path.with_name(path.name + ".tmp")
    ds.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, path)
    return path


def load(path) -> xr.Dataset:
    """Read a results file and validate it (the data are loaded into memory, file closed).

    Raises
    ------
    DataError
        Missing or unreadable file.
    SchemaError
        Not a brainbias results file, or an unknown schema version.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"results file not found: {path}")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as f:
            ds = f.load()
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable NetCDF file ({exc}).") from None
    return validate(ds)


def config_of(ds: xr.Dataset) -> dict:
    """The run's configuration dict (stored as JSON in the attrs)."""
    return json.loads(ds.attrs["config"])


def select_context(ds: xr.Dataset, context: str) -> xr.Dataset:
    """``ds.sel(context=context)`` with a clear error for unknown names."""
    names = [str(c) for c in ds["context"].values]
    if context not in names:
        raise ConfigError(f"context: no context named {context!r} in this run; it has {names}."
                          + did_you_mean(context, names))
    return ds.sel(context=context)
