"""The grid of a parameter sweep: dotted config keys, their values, the points and their configs.

A grid maps dotted keys of an :class:`~brainbias.config.ExperimentConfig` (``seed``,
``network.connectivity.gain``, ``training.n_iterations``, ``targets.0.n_steps`` — the
``[[targets]]`` tables by index) to lists of values; the points of a sweep are the Cartesian
product, in the order of the grid's keys. Each point's config is the base config with those keys
set, re-validated by :func:`brainbias.config.from_dict` (so a bad value fails that point only).

On the command line a grid entry is ``KEY=VALUES`` (:func:`parse_grid_option`); in a config file
it is the ``[sweep]`` table (:func:`read_sweep_config`).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import itertools
import json
import numbers
import os
import re
import tomllib
import typing
from pathlib import Path

from .._errors import ConfigError, did_you_mean
from ..config import ExperimentConfig, from_dict

__all__ = ["normalise_grid", "check_keys", "grid_points", "point_slug", "point_config",
           "parse_grid_option", "parse_values", "read_sweep_config"]

#: keys of the ``[sweep]`` table of a config file
SWEEP_KEYS = ("grid",)


def normalise_grid(grid) -> dict[str, tuple]:
    """The grid as ``{dotted key: tuple of plain Python scalars or tables}``.

    Lists, tuples, ranges and 1-d arrays are accepted; NumPy scalars become Python ones; in a key
    whose numbers mix integers and floats, all become floats (``0.8, 1, 1.2`` is one float axis).

    Raises
    ------
    ConfigError
        Not a mapping, a key that is not a string, an empty or non-list value, repeated values.
    """
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"grid: expected a non-empty mapping of dotted config keys to lists of "
                          f"values, e.g. {{'network.connectivity.gain': [0.8, 1.2]}}; got "
                          f"{grid!r}.")
    out = {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"grid: keys are dotted config keys (strings), got {key!r}.")
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise ConfigError(f"grid[{key!r}]: expected a list of values, got {values!r} "
                              f"(write [{values!r}] for a single value).")
        vals = [_plain(v, key) for v in values]
        if not vals:
            raise ConfigError(f"grid[{key!r}]: no values.")
        numbers_ = [v for v in vals if _is_number(v)]
        if len(numbers_) == len(vals) and any(isinstance(v, float) for v in vals):
            vals = [float(v) for v in vals]
        texts = [json.dumps(v, sort_keys=True) for v in vals]
        repeated = sorted({t for t in texts if texts.count(t) > 1})
        if repeated:
            raise ConfigError(f"grid[{key!r}]: values must be unique; repeated: "
                              f"{', '.join(repeated)}.")
        out[key] = tuple(vals)
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _plain(v, key):
    """``v`` as a JSON-able Python value (NumPy scalars → int/float/bool)."""
    if hasattr(v, "item") and getattr(v, "ndim", None) == 0:
        v = v.item()
    if isinstance(v, bool) or v is None or isinstance(v, (str, dict, list)):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    raise ConfigError(f"grid[{key!r}]: values must be numbers, booleans, strings or tables, "
                      f"got {type(v).__name__} {v!r}.")


def check_keys(grid, config: ExperimentConfig) -> None:
    """Raise a :class:`ConfigError` (with a "did you mean") for any key ``config`` does not have.

    Keys run through the config tables (``network.connectivity.gain``); ``targets.<i>.<key>``
    sets key ``<key>`` of the i-th ``[[targets]]`` table (its keys are those of the target kind,
    checked when the point runs).
    """
    for key in grid:
        parts = key.split(".")
        cls, where = ExperimentConfig, ""
        for i, part in enumerate(parts):
            fields = {f.name for f in dataclasses.fields(cls)}
            if part not in fields:
                raise ConfigError(f"grid: unknown config key {key!r}: {where or 'the config'} has "
                                  f"no key {part!r}." + _suggest(parts, i, fields)
                                  + f" Known keys there: {sorted(fields)}.")
            where = f"{where}.{part}" if where else part
            rest = parts[i + 1:]
            if where == "targets" and rest:
                _check_target_key(key, rest, config)
                break
            sub = _table_class(typing.get_type_hints(cls)[part])
            if sub is None:
                if rest:
                    raise ConfigError(f"grid: {key!r}: {where} is a value, not a table.")
                break
            if not rest:
                raise ConfigError(f"grid: {key!r} is a whole table; sweep one of its keys, e.g. "
                                  f"{key}.{dataclasses.fields(sub)[0].name}.")
            cls = sub


def _dotted_keys(cls=ExperimentConfig, prefix="") -> list[str]:
    """Every dotted key of the config tables (``network.connectivity.gain``, …)."""
    out = []
    for name, hint in typing.get_type_hints(cls).items():
        sub = _table_class(hint)
        out += _dotted_keys(sub, f"{prefix}{name}.") if sub else [f"{prefix}{name}"]
    return out


def _suggest(parts, i, fields) -> str:
    """" Did you mean 'network.connectivity.gain'?" for ``network.connectivity.gian``,
    ``network.gain`` or ``gain``: the closest key of the same table, or for the last word any
    dotted key ending in a close word (a same-table key wins a tie)."""
    def ratio(a):
        return difflib.SequenceMatcher(None, parts[i], a).ratio()

    options = [(ratio(f), ".".join(parts[:i] + [f] + parts[i + 1:])) for f in sorted(fields)]
    if i == len(parts) - 1:
        options += [(ratio(k.rsplit(".", 1)[-1]) - 0.01, k) for k in _dotted_keys()]
    score, best = max(options, default=(0, ""))
    return f" Did you mean {best!r}?" if score >= 0.6 else ""


def _check_target_key(key, rest, config):
    n = len(config.targets)
    if not rest[0].isdigit() or int(rest[0]) >= n or len(rest) != 2:
        raise ConfigError(f"grid: {key!r}: a target key is targets.<index>.<key> with an index "
                          f"below {n} (the config has {n} [[targets]] table(s)), e.g. "
                          "targets.0.n_steps.")


def _table_class(hint):
    """The config dataclass in a hint ``X`` or ``X | None`` (else None)."""
    if dataclasses.is_dataclass(hint):
        return hint
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 and dataclasses.is_dataclass(args[0]) else None


def grid_points(grid: dict) -> list[dict]:
    """The Cartesian product of a (normalised) grid: one ``{key: value}`` per point, the last
    key varying fastest."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(grid[k] for k in keys))]


def point_slug(point: dict) -> str:
    """A stable, file-name-safe name of a point: ``gain=0.8_seed=3-<8 hex digits>``.

    The readable part uses the last word of each key; the digest (of the point's keys and values,
    independent of their order) keeps names unique.
    """
    items = sorted(point.items())
    text = "_".join(f"{k.rsplit('.', 1)[-1]}={_text(v)}" for k, v in items)
    text = re.sub(r"[^A-Za-z0-9.=+_-]", "-", text)[:80]
    digest = hashlib.sha1(json.dumps(items, sort_keys=True).encode()).hexdigest()[:8]
    return f"{text}-{digest}"


def _text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True)


def point_config(base: dict, point: dict) -> ExperimentConfig:
    """The config of one point: ``base`` (an ``ExperimentConfig.to_dict()``) with the point's
    keys set, validated.

    Raises
    ------
    ConfigError
        A value the config rejects (the message names the key).
    """
    data = copy.deepcopy(base)
    for key, value in point.items():
        *tables, last = key.split(".")
        node = data
        for part in tables:
            if isinstance(node, list):
                node = node[int(part)]
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        node[last] = copy.deepcopy(value)
    return from_dict(ExperimentConfig, data)


def parse_grid_option(text: str) -> tuple[str, tuple]:
    """``KEY=VALUES`` of ``brainbias sweep --grid``: ``seed=0:20``, ``network.tau=0.05,0.1``.

    Raises
    ------
    ConfigError
        No ``=``, an empty key or bad values.
    """
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--grid {text!r}: expected KEY=VALUES, e.g. "
                          "network.connectivity.gain=0.8,1.0,1.2 or seed=0:20.")
    return key, parse_values(values, where=f"--grid {key}")


def parse_values(text: str, *, where: str = "grid") -> tuple:
    """Values of a grid entry: ``a:b`` or ``a:b:step`` (from a up to, not including, b) or a
    comma list of TOML scalars (``0.8,1.0``, ``true``, ``"tanh"``; a bare word is a string).

    Raises
    ------
    ConfigError
        An empty list, a range whose bounds are not numbers or whose step is not positive, or a
        range that is empty.
    """
    items = [t.strip() for t in text.split(",")]
    if len(items) == 1 and ":" in items[0] and not items[0].startswith(('"', "'")):
        return _parse_range(items[0], where)
    if not all(items):
        raise ConfigError(f"{where}: expected a comma list of values or a range a:b[:step], got "
                          f"{text!r}.")
    return tuple(_scalar(t) for t in items)


def _scalar(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _parse_range(text, where):
    parts = [_scalar(p.strip()) for p in text.split(":")]
    if len(parts) not in (2, 3) or not all(_is_number(p) for p in parts):
        raise ConfigError(f"{where}: a range is a:b or a:b:step with numbers, got {text!r}.")
    start, stop, step = (*parts, 1) if len(parts) == 2 else parts
    if not step > 0:
        raise ConfigError(f"{where}: the step of range {text!r} must be positive.")
    if all(isinstance(p, int) for p in (start, stop, step)):
        values = tuple(range(start, stop, step))
    else:
        n = int((stop - start) / step - 1e-9) + 1 if stop > start else 0
        values = tuple(round(start + k * step, 12) for k in range(n))  # no 0.30000000000000004
    if not values:
        raise ConfigError(f"{where}: range {text!r} is empty (a:b runs from a up to, not "
                          "including, b).")
    return values


def read_sweep_config(path) -> tuple[ExperimentConfig, dict]:
    """A TOML config file with an optional ``[sweep]`` table: the config (without the table) and
    the grid of ``[sweep] grid`` (``{}`` without it).

    In ``[sweep] grid`` a value is a list (``"network.tau" = [0.05, 0.1]``) or a string in the
    command-line syntax (``seed = "0:20"``). A relative ``[recording] path`` / ``teacher`` is
    resolved against the file's folder, as by :meth:`ExperimentConfig.from_toml`.

    Raises
    ------
    ConfigError
        Missing or invalid file, unknown keys in ``[sweep]``, a grid that is not a table.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}).") from None
    table = data.pop("sweep", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: sweep: expected a [sweep] table, got {table!r}.")
    for key in table:
        if key not in SWEEP_KEYS:
            raise ConfigError(f"{path}: sweep: unknown key {key!r}." + did_you_mean(key, SWEEP_KEYS)
                              + f" Known keys: {list(SWEEP_KEYS)}.")
    grid = table.get("grid", {})
    if not isinstance(grid, dict):
        raise ConfigError(f"{path}: sweep.grid: expected a table of dotted keys to lists, e.g. "
                          'grid = {"network.connectivity.gain" = [0.8, 1.2]}; got ' f"{grid!r}.")
    grid = {k: parse_values(v, where=f"{path}: sweep.grid.{k}") if isinstance(v, str) else v
            for k, v in grid.items()}
    config = from_dict(ExperimentConfig, data, where=str(path))
    rec = config.recording
    if rec is not None:  # as ExperimentConfig.from_toml: data paths move with the config file
        resolved = {name: os.path.normpath(path.parent.absolute() / getattr(rec, name))
                    for name in ("path", "teacher") if getattr(rec, name) is not None
                    and not Path(getattr(rec, name)).is_absolute()}
        if resolved:
            config = dataclasses.replace(config, recording=dataclasses.replace(rec, **resolved))
    return config, grid
