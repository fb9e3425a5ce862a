from __future__ import annotations

from pathlib import Path

import pytest

from storygen.config import RunConfig, load_config, parse_override, save_config
from storygen.errors import StorygenError


def test_defaults_are_valid():
    cfg = load_config()
    assert cfg.n == 100 and cfg.prompts.template == "default" and cfg.generate.backend == "openai"


def test_yaml_and_toml_files_and_relative_paths(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("seed: 5\nprompts:\n  vocab_dir: myvocab\nsampling:\n  temperature: 0.7\n")
    cfg = load_config(tmp_path / "a.yaml")
    assert cfg.seed == 5 and cfg.sampling.temperature == 0.7
    assert cfg.prompts.vocab_dir == tmp_path / "myvocab"
    (tmp_path / "b.toml").write_text("n = 7\n[generate]\nmodel = 'm'\nconcurrency = 9\n")
    cfg = load_config(tmp_path / "b.toml")
    assert (cfg.n, cfg.generate.model, cfg.generate.concurrency) == (7, "m", 9)


def test_overrides_win_and_are_typed(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("seed: 5\n")
    cfg = load_config(tmp_path / "a.yaml", dict([parse_override("seed=9"), parse_override("sampling.top_p=0.5")]))
    assert cfg.seed == 9 and cfg.sampling.top_p == 0.5


def test_save_round_trip(tmp_path: Path):
    cfg = load_config(overrides={"seed": 4, "generate.base_url": "http://127.0.0.1:1/v1"})
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        ("sede: 1\n", {}, r"a.yaml: sede: unknown key"),
        ("prompts:\n  tempate: x\n", {}, r"a.yaml: prompts.tempate: unknown key"),
        ("n: 0\n", {}, r"a.yaml: n: Input should be greater than or equal to 1 \(got 0\)"),
        ("", {"n": -3}, r"command line: n: Input should be greater than or equal to 1 \(got -3\)"),
        (
            "",
            {"sampling.temperature": "hot"},
            r"command line: sampling.temperature: Input should be a valid number",
        ),
        ("", {"generate.backend": "foo"}, r"command line: generate.backend: Input should be 'openai'"),
        (
            "prompts:\n  features: {min_count: 3, max_count: 1}\n",
            {},
            r"prompts.features: .*min_count \(3\) must be <= max_count \(1\)",
        ),
        ("seed: [1\n", {}, r"a.yaml: not valid YAML"),
        ("- 1\n- 2\n", {}, r"a.yaml: config must be a mapping"),
    ],
)
def test_bad_config_is_one_line_error(tmp_path: Path, text, overrides, expected):
    (tmp_path / "a.yaml").write_text(text)
    with pytest.raises(StorygenError, match=expected) as e:
        load_config(tmp_path / "a.yaml", overrides)
    assert "\n" not in str(e.value)


def test_missing_and_wrong_kind_of_file(tmp_path: Path):
    with pytest.raises(StorygenError, match="config file not found"):
        load_config(tmp_path / "none.yaml")
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(StorygenError, match=r"must be .yaml, .yml or .toml"):
        load_config(tmp_path / "c.json")


def test_bad_override_syntax():
    with pytest.raises(StorygenError, match="expected KEY=VALUE"):
        parse_override("seed")


def test_runconfig_refuses_unknown_nested_key():
    with pytest.raises(Exception, match="Extra inputs"):
        RunConfig.model_validate({"generate": {"modle": "x"}})
