"""Config validation: unknown keys, types, ranges — each a clear ConfigError."""

import tomllib
from pathlib import Path

import pytest

from brainbias import ConfigError
from brainbias.config import ExperimentConfig, from_dict
from brainbias.experiment.demo import DEMO_DICT

CONFIGS = Path(__file__).parents[1] / "analyses" / "configs"


def test_demo_toml_is_the_demo_config():
    with open(CONFIGS / "demo.toml", "rb") as fh:
        assert tomllib.load(fh) == DEMO_DICT


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    config = ExperimentConfig.from_toml(path)
    assert config.targets or config.recording is not None


@pytest.mark.parametrize(
    "data, message",
    [
        ({"trainig": {}}, "unknown key 'trainig'. Did you mean 'training'"),
        ({"network": {"n_unit": 3}}, "Did you mean 'n_units'"),
        ({"training": {"learning_rate": "fast"}}, "learning_rate: expected float, got str"),
        ({"training": {"n_iterations": 1.5}}, "n_iterations: expected int"),
        ({"network": {"tau": 0}}, "network.tau: expected a positive number"),
        ({"network": {"tau": -0.1}}, "network.tau"),
        ({"network": {"connectivity": {"gain": 0.0}}}, "gain: expected a positive number"),
        ({"network": {"nonlinearity": "tanhh"}}, "Did you mean 'tanh'"),
        ({"training": {"mode": "biases"}}, "Did you mean 'bias'"),
        ({"training": {"test_fraction": 1.0}}, "test_fraction"),
        ({"targets": [{"name": "x"}]}, "'kind' key"),
        ({"targets": [{"kind": "lorenz"}, {"kind": "lorenz"}]}, "must be unique"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_config_values(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(ExperimentConfig, data)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        ExperimentConfig.from_toml(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        ExperimentConfig.from_toml(bad)


def test_round_trip_through_dict():
    config = ExperimentConfig.from_toml(CONFIGS / "demo.toml")
    assert from_dict(ExperimentConfig, config.to_dict()) == config


@pytest.mark.parametrize("network, match", [
    ({"model": "ltcc"}, r"network.model: expected one of \('rate', 'ltc'\).*Did you mean 'ltc'"),
    ({"model": "ltc", "form": "discrete"}, r"network.form: belongs to the rate family.*"
                                           r"\[network.ltc\]"),
    ({"model": "ltc", "connectivity": {"gain": 2.0}}, r"network.connectivity: belongs to the "
                                                      r"rate family"),
    ({"ltc": {"solver": "euler"}}, r'\[network.ltc\] table configures model = "ltc".*Set '
                                   r'model = "ltc" or remove the table'),
    ({"model": "ltc", "ltc": {"synapse_scale": -1.0}}, r"network.ltc.synapse_scale"),
    ({"model": "ltc", "ltc": {"leak_conductance": -0.5}}, r"network.ltc.leak_conductance"),
    ({"model": "ltc", "ltc": {"reversal_inhibitory": 1.5}},
     r"reversal_inhibitory < leak_reversal < reversal_excitatory.*Swap them"),
    ({"model": "ltc", "ltc": {"reversal_excitatory": "high"}},
     r"network.ltc.reversal_excitatory: expected float"),
    ({"model": "ltc", "ltc": {"gain": 3.0}}, r"unknown key 'gain'.*Did you mean 'gain_range'"),
])
def test_model_family_keys_are_checked(network, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(ExperimentConfig, {"network": network})


def test_ltc_table_defaults_when_model_is_ltc():
    from brainbias.models.ltc import LTCConfig

    cfg = from_dict(ExperimentConfig, {"network": {"model": "ltc"}})
    assert cfg.network.ltc == LTCConfig()
    assert cfg.network.model_options() == {"config": LTCConfig()}
    assert from_dict(ExperimentConfig, cfg.to_dict()) == cfg  # the stored config rebuilds it
