from __future__ import annotations

from pathlib import Path

import pytest

from storygen.errors import StorygenError
from storygen.paths import VOCAB_DIR
from storygen.vocab import check_vocabulary, inflection_of, load_vocabulary


def test_bundled_vocabulary_is_clean_and_sized():
    report = check_vocabulary(VOCAB_DIR)
    assert report.problems == []
    assert 1200 <= report.content_total <= 2000
    assert min(report.counts["nouns"], report.counts["verbs"], report.counts["adjectives"]) >= 200


def test_load_gives_allowed_lemmas_and_stable_version():
    v = load_vocabulary(VOCAB_DIR)
    assert {"cat", "run", "happy", "the", "lily"} <= v.allowed_lemmas
    assert load_vocabulary(VOCAB_DIR).version == v.version and len(v.version) == 12


def test_version_changes_with_files(vocab_copy: Path):
    before = load_vocabulary(vocab_copy).version
    with (vocab_copy / "nouns.txt").open("a") as f:
        f.write("zzzword\n")
    assert load_vocabulary(vocab_copy).version != before


@pytest.mark.parametrize(
    ("word", "upos", "base"),
    [
        ("cats", "NOUN", "cat"),
        ("went", "VERB", "go"),
        ("bigger", "ADJ", "big"),
        ("lay", "VERB", None),
        ("cat", "NOUN", None),
    ],
)
def test_inflection_detection(word, upos, base):
    assert inflection_of(word, upos) == base


def test_check_reports_every_problem(vocab_copy: Path):
    nouns = vocab_copy / "nouns.txt"
    words = nouns.read_text().split()
    nouns.write_text("\n".join(["zebra", "apple", "cats", "apple", "Bad Word", "", *words]) + "\n")
    problems = "\n".join(check_vocabulary(vocab_copy).problems)
    assert "not sorted" in problems
    assert "'cats' looks like an inflection of 'cat'" in problems
    assert "repeats line" in problems
    assert "'Bad Word' is not a lowercase word" in problems
    assert "empty line" in problems


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("verbs.txt", None, "verbs.txt: vocabulary file not found"),
        ("nouns.txt", "cat\ncat\n", "nouns.txt:2: 'cat' repeats line 1"),
        ("adjectives.txt", "big\nRed\n", "adjectives.txt:2: 'Red' is not a lowercase word"),
        ("names.txt", "lily\n", "names.txt:1: 'lily' is not a capitalised name"),
        ("nouns.txt", "", "nouns.txt: no words"),
        ("nouns.txt", b"\xff\xfe", "nouns.txt: not UTF-8"),
    ],
)
def test_load_refuses_malformed_files(vocab_copy: Path, name, content, expected):
    path = vocab_copy / name
    if content is None:
        path.unlink()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(StorygenError, match=expected.replace("(", r"\(")):
        load_vocabulary(vocab_copy)
