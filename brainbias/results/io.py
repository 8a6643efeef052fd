"""NetCDF files of results: :func:`save` (atomic), :func:`load` (validated), and picking a
context or the config out of a Dataset; the output folder's checks (:func:`check_output` before
any work, :func:`removed_on_failure` after a failure) and :func:`atomic_write`."""

from __future__ import annotations

import contextlib
import errno
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


def check_output(path, *, force: bool = False) -> Path:
    """Check, before any work and without creating anything, that ``path`` can be written:
    refuse an existing file unless ``force``; the nearest existing folder on the way must be a
    writable folder (the missing ones are created only when the first file is written, so a run
    that fails early leaves no empty folder behind).

    Raises
    ------
    ConfigError
        The file exists (without ``force``), a part of the path is a file, or the folder is
        not writable.
    """
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; refusing to overwrite it (use --force / force=True, "
                          "or another --out).")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; it cannot be replaced by a results file.")
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot create output folder {folder}: {existing} is a file, not a "
                          "folder. Pass another --out.")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "output folder" if existing == folder else f"folder {existing} (above {folder})"
        raise ConfigError(f"{what} is not writable: nothing could be saved there. Pass an --out "
                          f"you can write to, or fix its permissions (chmod u+w {existing}).")
    return path


def prepare_output(path, *, force: bool = False) -> Path:
    """:func:`check_output`, then create the folder of ``path``.

    Raises
    ------
    ConfigError
        The file exists (without ``force``), the folder cannot be created or is not writable.
    """
    path = check_output(path, force=force)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {folder}: {exc.strerror}.") from None
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"output folder {folder} is not writable.")
    return path


def atomic_write(path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, flush it to disk, then rename
    it to ``path`` (one atomic step): a crash or a kill at any moment leaves either the old
    file or the new one, never a half-written one; a failure removes the temporary file.

    Raises
    ------
    DataError
        The disk is full or the file could not be written (the old file, if any, is kept).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            full = exc.errno == errno.ENOSPC
            raise DataError(
                f"could not write {path}: {'the disk is full' if full else exc.strerror or exc}."
                + (" Free some space or pass --out on another disk;" if full else "")
                + " nothing was replaced.") from None
        raise
    return path


def write_netcdf(ds: xr.Dataset, path, *, force: bool = False) -> Path:
    """Write ``ds`` through a temporary file in the same folder (:func:`atomic_write`), so a
    failure never leaves a half-written file."""
    path = prepare_output(path, force=force)
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


@contextlib.contextmanager
def removed_on_failure(folder):
    """Run the block; if it raises, remove the folders on the way to ``folder`` that did not
    exist before it and are empty after it, so that a failed run leaves no empty folder (a
    folder holding a checkpoint stays: the run can be resumed from it)."""
    if folder is None:
        yield
        return
    folder = Path(folder)
    new = []
    p = folder
    while not p.exists() and p != p.parent:
        new.append(p)
        p = p.parent
    try:
        yield
    except BaseException:
        for p in new:  # deepest first
            try:
                p.rmdir()
            except OSError:  # not empty (a checkpoint) or already gone
                break
        raise


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
