"""Property-based tests (hypothesis): broken configs through ``brainbias fit`` (issue 14).

Each example starts from a tiny valid config (a ridge readout, so that the configs that stay
valid fit in about a second) and breaks it one way — a value of the wrong type, an unknown
key, an out-of-range number, broken TOML — then runs the command line and asserts what a user
must always get:

* exit code 0, or 2 with a ``brainbias: error:`` message, and never a traceback;
* after a failure, no output folder (nothing is created before the checks pass);
* after a success, a results file whose fitted arrays are all finite (metrics that are
  undefined for a target, e.g. the Lyapunov exponent of a limit cycle, are NaN by design and
  not checked).

An exception escaping ``main`` fails the example with its traceback: that is a bug.
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brainbias.cli import main

BASE = {
    "seed": 0,
    "network": {"n_units": 8, "tau": 0.1, "connectivity": {"gain": 1.2}},
    "training": {"mode": "readout", "washout": 5},
    "evaluation": {"washout": 5, "horizon": 10},
    "targets": [{"kind": "stuart_landau", "name": "hopf", "n_steps": 200, "dt": 0.02}],
}

#: (table, key) pairs that are mutated; ``targets`` is the first [[targets]] table
KEYS = {
    "": ["seed"],
    "network": ["n_units", "tau", "nonlinearity", "form", "input_scale", "feedback_scale",
                "readout_scale", "model", "tau_grid"],
    "network.connectivity": ["gain", "kind", "connection_probability", "spectral_radius",
                             "balanced"],
    "training": ["mode", "run_mode", "washout", "test_fraction", "ridge", "batch_size",
                 "window", "loss", "dtype", "n_iterations", "learning_rate"],
    "evaluation": ["washout", "horizon", "vpt_threshold"],
    "targets": ["kind", "name", "n_steps", "dt", "omega", "growth_rate", "transient",
                "standardise"],
}
NUMERIC = {
    "": ["seed"],
    "network": ["n_units", "tau", "input_scale", "feedback_scale", "readout_scale"],
    "network.connectivity": ["gain", "connection_probability", "spectral_radius"],
    "training": ["washout", "test_fraction", "ridge", "batch_size", "window", "n_iterations",
                 "learning_rate"],
    "evaluation": ["washout", "horizon", "vpt_threshold"],
    "targets": ["n_steps", "dt", "omega", "growth_rate", "transient"],
}
WRONG = ["text", "", [1, "a"], [], {"x": 1}, True, False, -7, 2.5, [0.1, 0.2]]
OUT_OF_RANGE = [-1, -0.5, 0, 0.0, math.nan, math.inf, -math.inf, 1e300, 10**7, 10**12]

# capsys is shared by the examples: each one reads (and so empties) it
#: examples per property: 12 keeps the file under a minute in CI; BRAINBIAS_FUZZ_EXAMPLES=500
#: searches deeper. capsys is shared by a property's examples: each reads (and empties) it.
SETTINGS = settings(max_examples=int(os.environ.get("BRAINBIAS_FUZZ_EXAMPLES", 12)),
                    deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def _table(config: dict, where: str) -> dict:
    if where == "":
        return config
    if where == "targets":
        return config["targets"][0]
    t = config
    for part in where.split("."):
        t = t.setdefault(part, {})
    return t


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + "}"


def to_toml(config: dict) -> str:
    """A TOML text of ``config`` (scalars first, then tables, then [[targets]])."""
    lines = []

    def table(d, name):
        scalars = {k: v for k, v in d.items() if not (isinstance(v, dict) and k in
                                                       ("connectivity", "ltc"))}
        lines.extend(f"{k} = {_value(v)}" for k, v in scalars.items())
        for k, v in d.items():
            if k not in scalars:
                lines.append(f"[{name}.{k}]")
                table(v, f"{name}.{k}")

    top = {k: v for k, v in config.items() if not isinstance(v, dict) and k != "targets"}
    lines.extend(f"{k} = {_value(v)}" for k, v in top.items())
    for k, v in config.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            table(v, k)
    for t in config.get("targets", []):
        lines.append("[[targets]]")
        lines.extend(f"{k} = {_value(v)}" for k, v in t.items())
    return "\n".join(lines) + "\n"


def test_to_toml_round_trips_the_base_config():
    import tomllib

    assert tomllib.loads(to_toml(BASE)) == BASE


def _fit_text(text: str | bytes, capsys) -> tuple[int, str, Path]:
    """Run ``brainbias fit`` on a config file holding ``text``; check the invariants."""
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "c.toml"
        config.write_bytes(text if isinstance(text, bytes) else text.encode())
        out = Path(folder) / "out" / "run"
        rc = main(["fit", str(config), "--out", str(out), "--no-progress", "--no-figures"])
        err = capsys.readouterr().err
        assert "Traceback" not in err, err
        if rc == 0:
            _check_results(out / "run.nc")
        else:
            assert rc == 2, (rc, err)
            assert "brainbias: error: " in err and len(err.strip()) > len("brainbias: error:")
            assert not (Path(folder) / "out").exists(), list((Path(folder) / "out").rglob("*"))
        return rc, err


#: the fitted arrays of a results file: never NaN or infinite
FINITE = ("target", "prediction", "rates", "states", "bias", "initial_state", "loss",
          "readout_weights", "trained_readout_weights", "recurrent_weights", "input_weights",
          "feedback_weights")


def _check_results(path: Path):
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as ds:
        for name in FINITE:
            if name in ds:
                assert np.all(np.isfinite(ds[name].values)), name


def _mutated(where: str, key: str, value) -> str:
    config = copy.deepcopy(BASE)
    _table(config, where)[key] = value
    return to_toml(config)


@SETTINGS
@given(data=st.data())
def test_wrong_types(data, capsys):
    where = data.draw(st.sampled_from(sorted(KEYS)))
    key = data.draw(st.sampled_from(KEYS[where]))
    _fit_text(_mutated(where, key, data.draw(st.sampled_from(WRONG))), capsys)


@SETTINGS
@given(where=st.sampled_from(sorted(KEYS)), key=st.from_regex(r"[a-z][a-z_]{0,11}",
                                                              fullmatch=True),
       value=st.sampled_from(WRONG))
def test_unknown_keys(where, key, value, capsys):
    rc, err = _fit_text(_mutated(where, key, value), capsys)
    if key not in _known(where):  # (the regex may also draw a real key: then anything goes)
        assert rc == 2 and f"unknown key {key!r}" in err, err


def _known(where: str) -> set:
    from brainbias.config import key_index

    section = () if where == "" else tuple(where.split("."))
    return {k for k, tables in key_index().items() if section in tables}


@SETTINGS
@given(data=st.data())
def test_out_of_range_numbers(data, capsys):
    where = data.draw(st.sampled_from(sorted(NUMERIC)))
    key = data.draw(st.sampled_from(NUMERIC[where]))
    values = OUT_OF_RANGE
    if where == "targets":  # 10**7 steps is a valid target, just one that takes minutes
        values = [v for v in OUT_OF_RANGE if v != 10**7]
    _fit_text(_mutated(where, key, data.draw(st.sampled_from(values))), capsys)


@SETTINGS
@given(data=st.data())
def test_broken_toml(data, capsys):
    text = to_toml(BASE)
    how = data.draw(st.sampled_from(["truncate", "insert", "bytes", "text"]))
    if how == "truncate":  # cut anywhere but keep at least the [network] header broken
        cut = data.draw(st.integers(1, len(text) - 2))
        broken = text[:cut] + data.draw(st.sampled_from(["[", "= ", '"', "[[", "x"]))
    elif how == "insert":
        at = data.draw(st.integers(0, len(text)))
        broken = text[:at] + data.draw(st.sampled_from(["=", "[", "]", '"', "\x00", "\\"])) \
            + text[at:]
    elif how == "bytes":
        broken = data.draw(st.binary(min_size=1, max_size=200))
    else:
        broken = data.draw(st.text(min_size=0, max_size=200))
    _fit_text(broken, capsys)


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_every_out_of_range_n_units(value, capsys):
    rc, err = _fit_text(_mutated("network", "n_units", value), capsys)
    assert rc == 2  # no value of the list is a valid size that fits this machine
