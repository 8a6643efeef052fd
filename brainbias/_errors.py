"""Exception types. Every user error raised by brainbias is a :class:`BrainbiasError`.

Also here, in the base layer because they need nothing else: the helpers that turn bad input into
those errors — "did you mean" suggestions that know which table a key belongs to, and the
reading of a config file with one clear message for each way it can be wrong.

The CLI catches :class:`BrainbiasError` and prints its message without a traceback; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import types
import typing
from pathlib import Path

__all__ = [
    "BrainbiasError",
    "ConfigError",
    "DataError",
    "SchemaError",
    "TrainingError",
    "TrainingInterrupted",
    "did_you_mean",
    "suggest_key",
    "table_name",
    "check_positive",
    "check_int",
    "dataclass_of",
    "type_ok",
    "type_message",
    "qualified",
    "table_index",
    "missing_tables",
    "read_toml",
    "MAX_CONFIG_BYTES",
]


class BrainbiasError(Exception):
    """Base class for errors caused by user input (bad config, bad data, bad files)."""


class ConfigError(BrainbiasError, ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


class DataError(BrainbiasError, ValueError):
    """Input arrays or files are malformed (NaN, wrong shape, unreadable, ...)."""


class SchemaError(BrainbiasError, ValueError):
    """A results file does not follow a schema version this brainbias understands."""


class TrainingError(BrainbiasError, RuntimeError):
    """Training could not continue (e.g. a non-finite loss). The last good checkpoint is kept."""


class TrainingInterrupted(BrainbiasError, KeyboardInterrupt):
    """Training was interrupted (Ctrl-C). The last completed chunk was checkpointed."""


def did_you_mean(name: str, options) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest option, or ``""`` if none is close."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def table_name(section) -> str:
    """How a config section is written in TOML: ``("network", "connectivity")`` →
    ``"[network.connectivity]"``, ``("targets",)`` → ``"[[targets]]"``, ``()`` → ``"the top
    level"``."""
    section = tuple(section)
    if not section:
        return "the top level"
    if section == ("targets",):
        return "[[targets]]"
    return "[" + ".".join(section) + "]"


def suggest_key(name: str, section, index) -> str:
    """The hint after "unknown key ``name`` in ``section``": where the key belongs, or the
    closest key.

    Parameters
    ----------
    name : str
        The unknown key.
    section : tuple of str
        The table it was found in (``()`` for the top level).
    index : mapping of str to sequence of tuple
        Every known key → the sections that hold it (built from the config dataclasses).

    Returns
    -------
    str
        ``""`` or one or two sentences, each starting with a space: ``'gain'`` under
        ``[network]`` → " 'gain' is a key of [network.connectivity], not of [network]: move it
        under that table."; ``'iterations'`` at the top level → " Did you mean 'n_iterations'
        (a key of [training])?".
    """
    section = tuple(section)
    here = sorted(k for k, where in index.items() if section in where)
    hint = ""
    close_here = difflib.get_close_matches(str(name), here, n=1, cutoff=0.5)
    ratio = lambda a: difflib.SequenceMatcher(None, str(name), a).ratio()  # noqa: E731
    elsewhere = [s for s in index.get(str(name), ()) if s != section]
    if close_here:
        hint = f" Did you mean {close_here[0]!r}?"
    if elsewhere:
        tables = " and ".join(table_name(s) for s in elsewhere)
        if close_here:
            return hint + (f" ({name!r} is a key of {tables}: if you meant that one, move it "
                           "there.)")
        return (f" {name!r} is a key of {tables}, not of {table_name(section)}: move it under "
                "that table.")
    others = [(k, s) for k, where in index.items() for s in where if s != section]
    best = max(others, key=lambda ks: ratio(ks[0]), default=None)
    if best is not None and ratio(best[0]) >= 0.7 and (
            not close_here or ratio(best[0]) > ratio(close_here[0])):
        return f" Did you mean {best[0]!r} (a key of {table_name(best[1])})?"
    return hint


def check_positive(name: str, value, *, allow_zero: bool = False) -> None:
    """Raise ConfigError unless ``value`` is a finite (non-bool) number > 0 (≥ 0 if allowed)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        word = "non-negative" if allow_zero else "positive"
        raise ConfigError(f"{name}: expected a {word} number, got {value!r}.")


def check_int(name: str, value, *, minimum: int) -> None:
    """Raise ConfigError unless ``value`` is a (non-bool) integer ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: expected an integer ≥ {minimum}, got {value!r}.")


# ----------------------------------------------------------------------------- config tables
# What turns a wrong config *file* or *table* into one clear ConfigError: used by
# :mod:`brainbias.config`, kept here (the base layer) because it needs only dataclasses.


def dataclass_of(annotation):
    """The dataclass in a hint ``X`` or ``X | None`` (else None)."""
    if dataclasses.is_dataclass(annotation):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and dataclasses.is_dataclass(args[0]):
            return args[0]
    return None


def type_ok(value, annotation) -> bool:
    """Whether a TOML ``value`` fits a config field's type hint (no coercion: 1 is a float,
    true is not a number)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in (str, bool):
        return isinstance(value, annotation)
    if annotation is tuple:
        return isinstance(value, (list, tuple))
    return True


#: how a value of each type is written in TOML, for the messages
_HOW = {float: "a number, without quotes", int: "a whole number, without quotes",
        str: "text in double quotes", bool: "true or false", tuple: "a list in brackets"}


def _as_toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def type_message(name: str, hint, value, default) -> str:
    """The message for a value of the wrong type: what was expected, what came, how to write
    it (with the default as the example)."""
    how = [h for t, h in _HOW.items() if t is hint or t in typing.get_args(hint)]
    example = (f" (e.g. {name.rsplit('.', 1)[-1]} = {_as_toml(default)})"
               if default is not None and default is not dataclasses.MISSING
               and not dataclasses.is_dataclass(default) else "")
    return (f"{name}: expected {getattr(hint, '__name__', hint)}, got {type(value).__name__} "
            f"{value!r}." + (f" Write {' or '.join(how)}{example}." if how else ""))


def qualified(message: str, section, fields) -> str:
    """``message`` of a table's own check, starting with the key's full dotted name (the
    tables' checks name their keys in several ways: ``gain``, ``network.tau``, ...)."""
    section = tuple(section)
    dotted = ".".join(section)
    if not section or message.startswith(dotted + ".") or message.startswith(dotted + ":"):
        return message
    first = message.split(":", 1)[0].split(" ", 1)[0]
    if first in fields:
        return f"{dotted}.{message}"
    return f"{table_name(section)}: {message}"


def table_index(cls, extra=None) -> dict:
    """Every field name of the dataclass tree under ``cls`` → the tables (tuples of names)
    that hold it; ``extra`` maps more tables to their keys (e.g. ``[[targets]]``)."""
    index: dict = {}

    def walk(c, section):
        hints = typing.get_type_hints(c)
        for f in dataclasses.fields(c):
            index.setdefault(f.name, []).append(section)
            sub = dataclass_of(hints[f.name])
            if sub is not None:
                walk(sub, section + (f.name,))

    walk(cls, ())
    for section, keys in (extra or {}).items():
        for key in keys:
            if section not in index.setdefault(key, []):
                index[key].append(tuple(section))
    return {k: tuple(v) for k, v in index.items()}


def missing_tables(cls, data, section=()) -> tuple:
    """The tables of dataclass ``cls`` (dotted names) that the dict ``data`` leaves out, so
    that their defaults apply; a nested table is listed only when its parent is present."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        sub = dataclass_of(hints[f.name])
        if sub is None or f.default is None:
            continue
        name = ".".join(tuple(section) + (f.name,))
        if not isinstance(data, dict) or f.name not in data:
            out.append(name)
        else:
            out.extend(missing_tables(sub, data[f.name], tuple(section) + (f.name,)))
    return tuple(out)


#: a config is a small text file; reading a large data file by mistake would take all memory
MAX_CONFIG_BYTES = 10 * 2**20


def read_toml(path) -> dict:
    """The tables of a TOML config file, with one clear :class:`ConfigError` for each way the
    file can be wrong: missing, a folder or device, unreadable, too large, binary, empty, or not
    valid TOML."""
    path = Path(path)
    fix = "Pass a TOML config such as analyses/configs/demo_tiny.toml."
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.toml"))[:5]
        raise ConfigError(f"{path} is a folder, not a config file: pass the TOML file itself"
                          + (f" (this folder holds {', '.join(inside)})." if inside else
                             ", e.g. analyses/configs/demo_tiny.toml."))
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ConfigError(f"{path} is not a regular file (a device, pipe or socket). {fix}")
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is {size / 2**20:.0f} MiB; a config is a small text file "
                              f"(a few kB). Was a data or results file passed by mistake? {fix}")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (relative paths start from the "
                          f"working folder {Path.cwd()}). Check the name. {fix}") from None
    except PermissionError:
        raise ConfigError(f"cannot read the config file {path}: permission denied. Make it "
                          f"readable (chmod u+r {path}) or copy it to a folder you own.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: "
                          f"{exc.strerror or exc}. {fix}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not a text file (byte 0x{raw[exc.start]:02x} at offset {exc.start} is "
            "not UTF-8), so it cannot be a TOML config. Was a results (.nc), data or binary file "
            f"passed by mistake? {fix}") from None
    if "\x00" in text:
        raise ConfigError(f"{path} is not a text file (it contains NUL bytes), so it cannot be "
                          f"a TOML config. {fix}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}). Fix the line named (TOML is "
                          "key = value lines under [table] headers, text in double quotes).") \
            from None
    if not data:
        raise ConfigError(f"{path} is empty (no settings, only blank lines or comments): a "
                          "config needs at least one [[targets]] table, or a [recording] table. "
                          f"{fix}")
    return data
