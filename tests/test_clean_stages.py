"""`storygen validate` and `storygen dedup` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from storygen.testing.corpus import CorpusMaker
from tests.test_clean_checks import GOOD, story


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "storygen", *args, "--no-progress"], capture_output=True, text=True)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_validate_splits_and_reports(tmp_path: Path):
    good = story().model_dump(mode="json")
    bad = story(text=GOOD.replace('"', "")).model_dump(mode="json") | {"id": "s2"}
    hard = " Photosynthesis seemed ostentatious, bureaucratic, melancholic, and thoroughly incomprehensible."
    plain = {"text": GOOD + hard * 2, "source": "elsewhere"}  # no id, no prompt
    inp = write_jsonl(tmp_path / "in.jsonl", [good, bad, plain])
    r = run("validate", str(inp), "--out", str(tmp_path / "v"), "--workers", "1", "--set", "clean.min_words=10")
    assert r.returncode == 0, r.stderr
    accepted = [json.loads(x) for x in (tmp_path / "v/accepted.jsonl").read_text().splitlines()]
    rejected = [json.loads(x) for x in (tmp_path / "v/rejected.jsonl").read_text().splitlines()]
    assert [a["id"] for a in accepted] == ["s"] and accepted[0]["scores"]["vocab_compliance"] == 1.0
    assert {x["id"]: x["reasons"] for x in rejected}["s2"] == ["no_dialogue"]
    report = json.loads((tmp_path / "v/report.json").read_text())
    assert (report["total"], report["accepted"], report["rejected"]) == (3, 1, 2)
    assert report["reasons"]["no_dialogue"] == 1 and report["reasons"]["low_vocab_compliance"] == 1
    assert dict(report["top_oov"])["photosynthesis"] == 2


def test_validate_bad_input(tmp_path: Path):
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"text": GOOD}) + "\n{broken\n" + json.dumps({"id": 3}) + "\n")
    r = run("validate", str(inp), "--out", str(tmp_path / "v"))
    assert r.returncode == 2 and "in.jsonl:2: not JSON" in r.stderr and not (tmp_path / "v").exists()
    r = run("validate", str(inp), "--out", str(tmp_path / "v"), "--skip-bad")
    assert r.returncode == 0
    assert json.loads((tmp_path / "v/report.json").read_text())["bad_lines"] == 2
    r = run("validate", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "w"))
    assert r.returncode == 2 and "missing.jsonl: input file not found" in r.stderr


@pytest.mark.parametrize("stage", ["validate", "dedup"])
def test_an_output_path_that_cannot_be_made_is_one_line(tmp_path: Path, stage: str):
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"text": GOOD}) + "\n")
    r = run(stage, str(inp), "--out", str(tmp_path / "in.jsonl" / "out"))  # a file where a folder should be
    assert r.returncode == 2 and "Traceback" not in r.stderr
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith(f"storygen: error: {inp}: ") and "check the path" in line


def test_validate_is_the_same_with_one_or_two_workers(tmp_path: Path):
    maker = CorpusMaker(3)
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": f"s{i}", "text": maker.story()} for i in range(5000)])
    run("validate", str(inp), "--out", str(tmp_path / "a"), "--workers", "1")
    run("validate", str(inp), "--out", str(tmp_path / "b"), "--workers", "2")
    for name in ("accepted.jsonl", "rejected.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, list]:
    tmp = tmp_path_factory.mktemp("dedup")
    texts, planted = CorpusMaker(0).corpus(6000, 0.2, ("exact", "chars_1", "words_5", "reorder", "chars_2", "words_10"))
    # ids in shuffled order so "smallest id" is not simply "first seen"
    records = [{"id": f"s{(i * 7919) % 100003:06d}", "text": t} for i, t in enumerate(texts)]
    write_jsonl(tmp / "in.jsonl", records)
    return tmp, [(records[p.index]["id"], records[p.original]["id"], p.kind) for p in planted]


def test_dedup_recall_and_precision_on_planted_duplicates(planted):
    tmp, truth = planted
    r = run("dedup", str(tmp / "in.jsonl"), "--out", str(tmp / "d"))
    assert r.returncode == 0, r.stderr
    removed = {json.loads(x)["id"]: json.loads(x) for x in (tmp / "d/removed.jsonl").read_text().splitlines()}
    kept = [json.loads(x)["id"] for x in (tmp / "d/stories.jsonl").read_text().splitlines()]
    assert len(kept) + len(removed) == 6000 and not set(kept) & set(removed)
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    pair_ids = set()
    for copy_id, orig_id, kind in truth:
        pair_ids |= {copy_id, orig_id}
        got = copy_id in removed or orig_id in removed  # one of the two must go; the smaller id stays
        hits[kind][0] += got
        hits[kind][1] += 1
    recall = {k: h / n for k, (h, n) in hits.items()}
    assert (
        recall["exact"] == 1.0 and recall["chars_1"] >= 0.95 and recall["words_5"] >= 0.95 and recall["reorder"] >= 0.95
    )
    assert recall["chars_2"] >= 0.7 and recall["words_10"] >= 0.75
    false = [i for i in removed if i not in pair_ids]
    assert len(false) / len(removed) <= 0.01  # precision >= 0.99
    for rec in removed.values():  # the kept one is the smallest id of its cluster
        assert rec["meta"]["duplicate_of"] < rec["id"] and rec["reasons"][-1] in ("exact_duplicate", "near_duplicate")
    report = json.loads((tmp / "d/report.json").read_text())
    assert report["exact_removed"] + report["near_removed"] == len(removed) and report["sample_pairs"]


def test_dedup_is_deterministic_and_worker_independent(planted):
    tmp, _ = planted
    run("dedup", str(tmp / "in.jsonl"), "--out", str(tmp / "e1"), "--workers", "1")
    run("dedup", str(tmp / "in.jsonl"), "--out", str(tmp / "e2"), "--workers", "2")
    assert (tmp / "e1/stories.jsonl").read_bytes() == (tmp / "e2/stories.jsonl").read_bytes()
    assert (tmp / "e1/removed.jsonl").read_bytes() == (tmp / "e2/removed.jsonl").read_bytes()


def test_dedup_bad_input(tmp_path: Path):
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"text": GOOD}) + "\n[1, 2]\n")
    r = run("dedup", str(inp), "--out", str(tmp_path / "d"))
    assert r.returncode == 2 and "in.jsonl:2: no string field 'text'" in r.stderr and not (tmp_path / "d").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no scratch signatures left behind
    assert run("dedup", str(inp), "--out", str(tmp_path / "d"), "--skip-bad").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "in.jsonl"]
    r = run("dedup", str(inp), "--out", str(tmp_path / "x"), "--set", "dedup.bands=64")
    assert r.returncode == 2 and "bands * rows (320) must be <= num_perm (128)" in r.stderr


def test_batched_similarities_equal_the_pairwise_definition():
    import random

    from storygen.clean.dedup.verify import similarities, similarity

    rng = random.Random(0)
    words = ["the", "dog", "ran", "to", "a", "big", "red", "ball", "and", "sat", "in", "sun"]
    a, b = [], []
    for _ in range(300):
        x = [rng.choice(words) for _ in range(rng.randint(0, 30))]
        y = list(x)
        for _ in range(rng.randint(0, 6)):  # edits, swaps and new words
            if y and rng.random() < 0.5:
                k, m = rng.randrange(len(y)), rng.randrange(len(y))
                y[k], y[m] = y[m], y[k]
            else:
                y.insert(rng.randint(0, len(y)), rng.choice(words))
        a.append(" ".join(x))
        b.append(" ".join(y))
    got = similarities(a, b, workers=2)
    want = [similarity(x, y) for x, y in zip(a, b, strict=True)]
    assert got.tolist() == pytest.approx(want, abs=1e-9)


def test_signatures_in_cache_sized_batches_equal_one_pass():
    from storygen.clean.dedup.minhash import BATCH, MinHasher

    maker = CorpusMaker(seed=3)
    texts = [maker.story() for _ in range(BATCH * 2 + 17)] + ["", "one", "two words"]
    hasher = MinHasher(num_perm=64, shingle_size=3)
    sig, keys = hasher.signatures(texts)
    one_sig, one_keys = hasher._signatures(texts)
    assert (sig == one_sig).all() and (keys == one_keys).all()
    assert len({int(k) for k in keys}) == len(set(texts))  # the exact key tells texts apart


@pytest.mark.parametrize("threads", [1, 3])
def test_copy_except_drops_exactly_the_skipped_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int):
    from storygen.clean.dedup import run as dedup_run

    monkeypatch.setattr(dedup_run, "_PIECE", 100)  # long runs split into many pieces shared by the threads
    lines = [f'{{"id": "s{i}", "text": "story {i}"}}'.encode() for i in range(50)]
    for last_newline in (True, False):
        for drop in ({0, 7, 8, 30, 49}, set(), set(range(50)), {1}):
            src = tmp_path / f"in{last_newline}.jsonl"
            src.write_bytes(b"\n".join(lines) + (b"\n" if last_newline else b""))
            offsets = [sum(len(x) + 1 for x in lines[:i]) for i in range(50)]
            out = tmp_path / "out.jsonl"
            with out.open("wb") as f:
                f.write(b"head\n")
                skip = [(offsets[i], len(lines[i])) for i in sorted(drop, reverse=True)]
                dedup_run.copy_except(src, f, skip, threads=threads)
                f.write(b"tail\n")  # the file position is left at the end of what was copied
            kept = b"".join(x + b"\n" for i, x in enumerate(lines) if i not in drop)
            assert out.read_bytes() == b"head\n" + kept + b"tail\n"


def test_fast_words_equal_the_definition():
    import random

    from storygen.clean.dedup.minhash import words
    from storygen.clean.split import SPLIT

    rng = random.Random(0)
    chars = [chr(c) for c in range(128)] + ["’", "“", "—", "\u00a0", "\u3000", "é", "İ", "Σ", "日", "\u0085"]
    for _ in range(3000):
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 20)))
        assert words(text) == text.lower().translate(SPLIT).split(), repr(text)


def test_minhash_estimates_jaccard_without_bias():
    import math

    import numpy as np

    from storygen.clean.dedup.minhash import MinHasher, jaccard_estimate, words

    maker = CorpusMaker(seed=5)
    hasher = MinHasher(num_perm=128, shingle_size=3)
    a_texts, b_texts = [], []
    for k in range(300):
        a = maker.story()
        a_texts.append(a)
        b_texts.append(maker.word_edits(a, rate=[0.02, 0.05, 0.1][k % 3]))
    sa, _ = hasher.signatures(a_texts)
    sb, _ = hasher.signatures(b_texts)

    def shingles(text: str) -> set[tuple[str, ...]]:
        w = words(text)
        return {tuple(w[i : i + 3]) for i in range(len(w) - 2)}

    truth = np.array([len(x & y) / len(x | y) for x, y in ((shingles(a), shingles(b)) for a, b in zip(
        a_texts, b_texts, strict=True))])  # fmt: skip
    est = np.array([jaccard_estimate(x, y) for x, y in zip(sa, sb, strict=True)])
    error = est - truth
    ideal = math.sqrt(float(np.mean(truth * (1 - truth))) / 128)
    assert 0.4 < truth.mean() < 0.9  # the pairs span the range dedup cares about
    assert abs(error.mean()) < 0.01
    assert error.std() < 1.3 * ideal


def test_word_hashes_tell_words_apart_and_ignore_position():
    import random

    from storygen.clean.dedup.minhash import MinHasher

    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz'0123456789"
    vocab = sorted({"".join(rng.choice(letters) for _ in range(rng.choice([1, 2, 7, 8, 9, 16, 17, 30])))
                    for _ in range(20000)})  # fmt: skip
    hasher = MinHasher()
    flat, lens, _ = hasher.word_hashes([" ".join(vocab)])
    assert lens.tolist() == [len(vocab)] and len(set(flat.tolist())) == len(vocab)
    word = vocab[123]
    a, _, _ = hasher.word_hashes([f"x, {word}!", word.upper(), f"{word}"])
    assert a[1] == a[2] == a[3]
    _, lens, keys = hasher.word_hashes(["", "", "Two words.", "two   WORDS"])
    assert lens.tolist() == [0, 0, 2, 2] and keys[2] == keys[3] and keys[0] == keys[1] != keys[2]


def test_band_pairs_equal_brute_force_with_columns_and_threads():
    from storygen.clean.dedup.lsh import pairs_from_band_keys

    rng = np.random.default_rng(3)
    keys = rng.integers(0, 40, size=(4, 300)).astype(np.uint64)  # many collisions in every band
    columns = np.sort(rng.choice(300, size=200, replace=False))
    for cols in (None, columns):
        members = range(300) if cols is None else cols.tolist()
        expected = {(i, j) for i in members for j in members if i < j and (keys[:, i] == keys[:, j]).any()}
        clusters_expected = _components(expected)
        for threads in (1, 2):
            got = pairs_from_band_keys(keys, cols, threads=threads)
            assert got.dtype == np.int64 and (got[:, 0] < got[:, 1]).all()
            assert {tuple(p) for p in got.tolist()} <= expected  # stars, not all pairs: same clusters
            assert _components({tuple(p) for p in got.tolist()}) == clusters_expected


def _components(pairs: set[tuple[int, int]]) -> set[frozenset[int]]:
    from storygen.clean.dedup.verify import UnionFind

    uf = UnionFind()
    for a, b in pairs:
        uf.union(a, b)
    return {frozenset(m) for m in uf.clusters().values()}


def test_signature_rows_read_back_from_chunk_files(tmp_path: Path):
    from storygen.clean.dedup.run import SignatureFiles

    rng = np.random.default_rng(0)
    chunks = [rng.integers(0, 2**32, size=(n, 16), dtype=np.uint64).astype(np.uint32) for n in (5, 0, 12, 1)]
    files = SignatureFiles(16)
    for k, sig in enumerate(chunks):
        sig.tofile(tmp_path / f"{k}.u32")
        files.add(str(tmp_path / f"{k}.u32"), len(sig))
    whole = np.concatenate(chunks)
    index = rng.permutation(len(whole))[:10]
    assert (files.rows(index) == whole[index]).all()
    assert files.rows(np.zeros(0, dtype=np.int64)).shape == (0, 16)
