"""`storygen build` and `storygen push` (push at the HfApi boundary: no network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset

from storygen.config import RunConfig
from storygen.dataset import push as push_mod
from storygen.dataset.push import git_blob_id, push, sha256
from storygen.dataset.schema import split_of
from storygen.errors import StorygenError
from storygen.prompts import PromptFactory
from storygen.records import Story, Usage
from storygen.testing.corpus import CorpusMaker


def make_stories(n: int, start: int = 0) -> list[Story]:
    factory, maker = PromptFactory(RunConfig(seed=5)), CorpusMaker(start)
    out = []
    for i in range(start, start + n):
        p = factory.render(i)
        out.append(Story(id=p.id, text=maker.story(40, 80), prompt=p, model="m", backend="openai",
                         finish_reason="stop", usage=Usage(prompt_tokens=50, completion_tokens=90 + i % 7),
                         scores={"reading_age": 5.0 + i % 3, "words": 60.0, "vocab_compliance": 0.95},
                         sampling={"temperature": 1.0}, summary="A summary." if i % 2 else None))  # fmt: skip
    return out


def write(path: Path, stories: list[Story]) -> Path:
    path.write_text("".join(s.model_dump_json() + "\n" for s in stories))
    return path


def build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storygen", "build", *args, "--no-progress"], capture_output=True, text=True
    )


def front_matter(readme: Path) -> dict:
    text = readme.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_build_loads_back_with_every_record_and_split(tmp_path: Path):
    stories = make_stories(120)
    src = write(tmp_path / "in.jsonl", stories)
    r = build(
        str(src),
        "--out",
        str(tmp_path / "ds"),
        "--set",
        "dataset.validation_share=0.2",
        "--set",
        "dataset.shard_rows=40",
    )
    assert r.returncode == 0, r.stderr
    ds = load_dataset(str(tmp_path / "ds"))
    full = load_dataset(str(tmp_path / "ds"), "instruct")
    expected = {s.id: s for s in stories}
    for split in ("train", "validation"):
        ids = full[split]["id"]
        assert all(split_of(i, 0.2) == split for i in ids)
        assert sorted(ds[split]["text"]) == sorted(expected[i].text for i in ids)
    assert len(full["train"]) + len(full["validation"]) == 120 and len(full["validation"]) > 5
    row = full["train"][0]
    s = expected[row["id"]]
    assert row["story"] == s.text and row["prompt"] == s.prompt.text and row["words"] == s.prompt.words.model_dump()
    assert row["features"] == s.prompt.features and row["completion_tokens"] == s.usage.completion_tokens
    assert row["reading_age"] == pytest.approx(s.scores["reading_age"])
    shards = sorted(p.name for p in (tmp_path / "ds/data/default").iterdir())
    assert any(name.startswith("train-00000-of-0000") for name in shards) and len(shards) >= 3  # bounded shards


def test_card_numbers_match_the_data_and_plots_exist(tmp_path: Path):
    stories = make_stories(60)
    build(str(write(tmp_path / "in.jsonl", stories)), "--out", str(tmp_path / "ds"), "--repo", "me/tiny")
    meta = front_matter(tmp_path / "ds/README.md")
    assert meta["license"] and meta["language"] == ["en"] and meta["size_categories"] == ["n<1K"]
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert configs["default"]["default"] is True and "instruct" in configs
    info = {i["config_name"]: i for i in meta["dataset_info"]}
    full = load_dataset(str(tmp_path / "ds"), "instruct")
    for sp in info["instruct"]["splits"]:
        assert sp["num_examples"] == len(full[sp["name"]])
    st = json.loads((tmp_path / "ds/stats.json").read_text())
    assert st["stories"] == 60 and st["completion_tokens"] == sum(s.usage.completion_tokens for s in stories)
    assert st["with_summary"] == 30 and sum(st["features"].values()) == sum(len(s.prompt.features) for s in stories)
    card = (tmp_path / "ds/README.md").read_text()
    assert f"| stories | {60:,} |" in card and 'load_dataset("me/tiny")' in card
    for png in ("length_histogram", "vocabulary_coverage", "feature_distribution", "reading_age"):
        data = (tmp_path / f"ds/plots/{png}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"plots/{png}.png" in card
    txt = (tmp_path / "ds/txt/train.txt").read_text()
    assert txt.count("<|endoftext|>") == len(full["train"])


def test_split_is_stable_when_stories_are_added(tmp_path: Path):
    first = make_stories(80)
    build(str(write(tmp_path / "a.jsonl", first)), "--out", str(tmp_path / "a"))
    build(str(write(tmp_path / "b.jsonl", first + make_stories(80, start=80))), "--out", str(tmp_path / "b"))
    before = load_dataset(str(tmp_path / "a"), "instruct")
    after = load_dataset(str(tmp_path / "b"), "instruct")
    for split in ("train", "validation"):
        assert set(before[split]["id"]) <= set(after[split]["id"])


def test_bad_input(tmp_path: Path):
    (tmp_path / "empty.jsonl").write_text("")
    r = build(str(tmp_path / "empty.jsonl"), "--out", str(tmp_path / "ds"))
    assert r.returncode == 2 and "no stories in" in r.stderr and not (tmp_path / "ds").exists()
    (tmp_path / "bad.jsonl").write_text(make_stories(1)[0].model_dump_json() + '\n{"id": "x"}\n')
    r = build(str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "ds"))
    assert r.returncode == 2 and "bad.jsonl:2: no string field 'text'" in r.stderr and not (tmp_path / "ds").exists()
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    src = write(tmp_path / "ok.jsonl", make_stories(5))
    r = build(str(src), "--out", str(out))
    assert r.returncode == 2 and "pass --overwrite" in r.stderr and (out / "keep.txt").read_text() == "mine"
    assert build(str(src), "--out", str(out), "--overwrite").returncode == 0
    assert not (out / "keep.txt").exists() and (out / "README.md").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folders left


# ---------------------------------------------------------------- push


@dataclass
class RemoteFile:
    path: str
    size: int
    blob_id: str | None = None
    lfs: dict | None = None


class FakeApi:
    """The HfApi calls push makes, with a commit that can fail on purpose."""

    def __init__(self, fail_on_commit: int | None = None):
        self.files: dict[str, RemoteFile] = {}
        self.commits: list[list[str]] = []
        self.fail_on_commit = fail_on_commit
        self.repos: list[tuple] = []

    def create_repo(self, repo, repo_type, private, exist_ok):
        self.repos.append((repo, repo_type, private))

    def list_repo_tree(self, repo, repo_type, revision, recursive):
        return list(self.files.values())

    def create_commit(self, repo, ops, commit_message, repo_type, revision):
        if self.fail_on_commit is not None and len(self.commits) + 1 == self.fail_on_commit:
            raise OSError("connection reset by peer")
        self.commits.append([op.path_in_repo for op in ops])
        for op in ops:
            p = Path(op.path_or_fileobj)
            big = p.suffix == ".parquet"  # LFS files carry a sha256, small ones a git blob id
            blob, lfs = (None, {"sha256": sha256(p)}) if big else (git_blob_id(p), None)
            self.files[op.path_in_repo] = RemoteFile(op.path_in_repo, p.stat().st_size, blob, lfs)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    build(
        str(write(tmp_path / "in.jsonl", make_stories(50))),
        "--out",
        str(tmp_path / "ds"),
        "--set",
        "dataset.shard_rows=10",
    )
    return tmp_path / "ds"


def test_push_interrupted_then_resumed_uploads_only_the_rest(built: Path, monkeypatch):
    monkeypatch.setattr(push_mod, "COMMIT_FILES", 3)
    files = push_mod.local_files(built)
    api = FakeApi(fail_on_commit=3)
    with pytest.raises(StorygenError, match="run the same command again to resume"):
        push(built, "me/stories", api=api, say=lambda _: None)
    assert len(api.commits) == 2
    done = {p for c in api.commits for p in c}
    api.fail_on_commit = None
    api.commits = []
    push(built, "me/stories", api=api, say=lambda _: None)
    resent = {p for c in api.commits for p in c}
    assert not resent & done and resent | done == {str(f.relative_to(built)) for f in files}
    api.commits = []
    push(built, "me/stories", api=api, say=lambda _: None)
    assert api.commits == []  # everything already there
    assert api.repos[0] == ("me/stories", "dataset", False)


def test_push_dry_run_missing_token_and_bad_folder(built: Path, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env["HF_HOME"] = str(tmp_path / "hf")  # no cached login
    cli = [sys.executable, "-m", "storygen", "push", str(built), "--repo", "me/stories"]
    r = subprocess.run([*cli, "--dry-run"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "README.md" in r.stdout and "would go to dataset me/stories" in r.stdout
    r = subprocess.run(cli, capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "no Hugging Face token: set HF_TOKEN" in r.stderr
    r = subprocess.run([*cli[:4], str(tmp_path), "--repo", "me/x"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "not a dataset folder" in r.stderr
    secret = "hf_secretsecretsecret"
    r = subprocess.run([*cli, "--dry-run"], capture_output=True, text=True, env={**env, "HF_TOKEN": secret})
    assert secret not in r.stdout + r.stderr
    assert all(secret not in p.read_text(errors="ignore") for p in built.rglob("*") if p.is_file())
