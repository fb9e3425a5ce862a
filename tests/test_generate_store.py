from __future__ import annotations

import json
from pathlib import Path

import pytest

from storygen.errors import StorygenError
from storygen.generate.store import StoryWriter, iter_stories, repair, stored_ids
from storygen.records import Story


def _story(i: int) -> Story:
    return Story(id=f"s{i:04d}", text=f"Story number {i}.")


def test_write_and_read_back(tmp_path: Path):
    with StoryWriter(tmp_path, 0) as w:
        for i in range(5):
            w.write(_story(i))
    assert stored_ids(tmp_path) == {f"s{i:04d}" for i in range(5)}
    assert [s.id for s in iter_stories(tmp_path)] == [f"s{i:04d}" for i in range(5)]


def test_repair_keeps_a_complete_unterminated_line(tmp_path: Path):
    path = tmp_path / "stories.000.jsonl"
    lines = [_story(i).model_dump_json() for i in range(3)]
    path.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2])  # crash between the write and its newline
    report = repair(tmp_path)
    assert report.completed_lines == 1 and report.torn_fragments == 0
    assert path.read_text() == "\n".join(lines) + "\n"
    assert len(stored_ids(tmp_path)) == 3


def test_repair_moves_a_torn_fragment_aside(tmp_path: Path):
    path = tmp_path / "stories.000.jsonl"
    good = _story(0).model_dump_json() + "\n"
    torn = _story(1).model_dump_json()[:25]
    path.write_text(good + torn)
    report = repair(tmp_path)
    assert report.torn_fragments == 1 and report.torn_bytes == len(torn)
    assert path.read_text() == good
    kept = list((tmp_path / "torn").iterdir())
    assert len(kept) == 1 and kept[0].read_text() == torn
    assert repair(tmp_path).torn_fragments == 0  # idempotent


def test_repair_of_a_file_that_is_only_a_fragment(tmp_path: Path):
    (tmp_path / "stories.001.jsonl").write_text('{"id":"x","te')
    assert repair(tmp_path).torn_fragments == 1
    assert (tmp_path / "stories.001.jsonl").read_text() == ""


def test_duplicate_ids_are_read_once(tmp_path: Path):
    (tmp_path / "stories.000.jsonl").write_text(_story(0).model_dump_json() + "\n")
    (tmp_path / "stories.001.jsonl").write_text(_story(0).model_copy(update={"text": "other"}).model_dump_json() + "\n")
    stories = list(iter_stories(tmp_path))
    assert len(stories) == 1 and stories[0].text == "Story number 0."


def test_corrupt_middle_line_is_an_error_with_line_number(tmp_path: Path):
    (tmp_path / "stories.000.jsonl").write_text(_story(0).model_dump_json() + "\nnot json\n")
    with pytest.raises(StorygenError, match=r"stories.000.jsonl:2: not a story record"):
        stored_ids(tmp_path)


def test_fast_id_path_agrees_with_json(tmp_path: Path):
    line = _story(7).model_dump_json()
    assert line.startswith('{"id":"s0007"')
    assert json.loads(line)["id"] == "s0007"
