"""Smoke run of the LTC vs rate study (analyses/ltc_vs_rate) on its tiny config."""

import json
from pathlib import Path

import numpy as np
from _studies import load_study

from brainbias import results

STUDY = Path(__file__).parents[1] / "analyses" / "ltc_vs_rate"


def test_tiny_study_fits_each_family_and_writes_table_and_figure(tmp_path):
    run = load_study("ltc_vs_rate")
    assert run.main([str(STUDY / "config_tiny.toml"), "--out", str(tmp_path),
                     "--no-progress"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(r["variant"], r["model"], r["n_units"]) for r in rows] == [
        ("rate", "rate", 16), ("ltc", "ltc", 16), ("rate_matched_fixed", "rate", 32)]
    for r in rows:
        ds = results.load(tmp_path / r["variant"] / "van_der_pol" / "run.nc")
        assert ds.attrs["model"] == r["model"] and ds.sizes["unit"] == r["n_units"]
        # the row's numbers are the run file's
        assert r["nrmse"] == float(ds["nrmse"][0]) and np.isfinite(r["nrmse"])
        assert r["train_time"] == float(ds.attrs["training_wall_time"]) > 0
    table = (tmp_path / "table.md").read_text().splitlines()
    assert len(table) == 2 + len(rows) and "| van_der_pol | ltc | 16 |" in table[3]
    assert (tmp_path / "fits.png").stat().st_size > 10_000
