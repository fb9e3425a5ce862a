from __future__ import annotations

from pathlib import Path

import pytest

from storygen.config import RunConfig
from storygen.errors import StorygenError
from storygen.paths import PROMPTS_DIR
from storygen.prompts import PromptFactory, available_templates, prompt_id, split_summary


def factory(**prompts) -> PromptFactory:
    return PromptFactory(RunConfig.model_validate({"seed": 3, "prompts": prompts}))


def test_bundled_templates():
    assert {"default", "summary"} <= set(available_templates(PROMPTS_DIR))


@pytest.mark.parametrize("template", ["default", "summary"])
def test_render_contains_words_and_feature_instructions(template):
    f = factory(template=template)
    for i in range(30):
        p = f.render(i)
        assert f'verb "{p.words.verb}"' in p.text
        assert f'noun "{p.words.noun}"' in p.text
        assert f'adjective "{p.words.adjective}"' in p.text
        for name in p.features:
            assert f.features.features[name].instruction in p.text
        for name, value in p.axes.items():
            assert f.features.axes[name].instruction.replace("{value}", value) in p.text
        assert "{{" not in p.text and "{%" not in p.text and "\n\n\n" not in p.text
        assert p.template == template
        assert p.id == prompt_id(3, i, p.text)
    assert "Summary:" in factory(template="summary").render(0).text


def test_same_index_same_record_different_template_different_id():
    a, b = factory().render(5), factory().render(5)
    assert a == b and a.model_dump_json() == b.model_dump_json()
    assert factory(template="summary").render(5).id != a.id


def test_unknown_template_lists_available():
    with pytest.raises(StorygenError, match=r"unknown template 'nope'.*available: default, summary"):
        factory(template="nope")


def test_template_syntax_error_names_file_and_line(prompts_copy: Path):
    (prompts_copy / "broken.j2").write_text("line one\n{% if x %}\nno end\n")
    with pytest.raises(StorygenError, match=r"broken.j2:\d+: template syntax error"):
        factory(template="broken", prompts_dir=str(prompts_copy))


def test_template_with_unknown_variable(prompts_copy: Path):
    (prompts_copy / "odd.j2").write_text("Use {{ verb }} and {{ colour }}.")
    with pytest.raises(StorygenError, match=r"template 'odd': 'colour' is undefined"):
        factory(template="odd", prompts_dir=str(prompts_copy)).render(0)


def test_missing_prompts_dir(tmp_path: Path):
    with pytest.raises(StorygenError, match="prompts directory not found"):
        factory(prompts_dir=str(tmp_path / "none"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("A features file\n  - not: valid: yaml", "features.yaml:2: not valid YAML"),
        ("features: {}\n", "features.yaml: features: Dictionary should have at least 1 item"),
        (
            "features:\n  dialogue: {instruction: hi, wieght: 2}\n",
            "features.yaml: features.dialogue.wieght: unknown key",
        ),
        (
            "features:\n  d: {instruction: hi}\naxes:\n  t: {instruction: no placeholder, values: [a]}\n",
            "axes.t.instruction",
        ),
    ],
)
def test_bad_features_file(vocab_copy: Path, body, expected):
    (vocab_copy / "features.yaml").write_text(body)
    with pytest.raises(StorygenError, match=expected):
        factory(vocab_dir=str(vocab_copy))


def test_unknown_feature_in_config_weights():
    with pytest.raises(StorygenError, match=r"prompts.features.weights.dialog: unknown feature"):
        factory(features={"weights": {"dialog": 1}})


def test_split_summary():
    story, summary = split_summary("Tom ran.\nHe was happy.\n\nSummary: Tom runs and is happy.\n")
    assert (story, summary) == ("Tom ran.\nHe was happy.", "Tom runs and is happy.")
    assert split_summary("Just a story.") == ("Just a story.", None)
    assert split_summary("Story.\n**Summary:** A tale.")[1] == "A tale."
    assert split_summary("Story.\n**Summary**: A tale.") == ("Story.", "A tale.")
