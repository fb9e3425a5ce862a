"""Cleaning benchmarks on a synthetic corpus of TinyStories-length stories (150-250 words) with 5%
planted duplicates (exact, character edits, word edits, reordered sentences):

dedup     `storygen dedup` on the whole corpus (default 1,000,000 stories, 2 workers) against
          datasketch MinHash + MinHashLSH and rensa RMinHash + RMinHashLSH on a subsample (their
          stories/s then scale to the corpus), all with the same word shingles and 128 permutations.
          Recall is measured on planted pairs whose true shingle Jaccard is >= 0.8, and per kind;
          precision on every pair a method reports.
validate  `storygen validate` on the same corpus against a plain per-story loop (regex tokens,
          lemminflect per token without caching, pyphen syllables) on a subsample.
curly     both stages on the first 100,000 stories with curly quotes and apostrophes (“ ” ’), as
          most LLM output has them: non-ASCII text must not fall off the fast path.

Writes bench/results/clean.json. The corpus is cached in bench/.cache/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from storygen.clean.dedup.minhash import normalise
from storygen.clean.dedup.verify import UnionFind
from storygen.config import DedupConfig
from storygen.testing.corpus import CorpusMaker

HERE = Path(__file__).resolve().parent
KINDS = ("exact", "chars_1", "chars_3", "words_5", "words_10", "reorder")


def corpus(n: int) -> tuple[Path, list[tuple[int, int, str]]]:
    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    path, truth_path = cache / f"corpus_{n}.jsonl", cache / f"corpus_{n}.truth.json"
    if not path.is_file():
        t0 = time.perf_counter()
        texts, planted = CorpusMaker(0).corpus(n, 0.05, KINDS)
        with path.open("w") as f:
            for i, t in enumerate(texts):
                f.write(json.dumps({"id": f"s{i:08d}", "text": t}) + "\n")
        truth_path.write_text(json.dumps([[p.index, p.original, p.kind] for p in planted]))
        print(f"corpus: {n} stories written in {time.perf_counter() - t0:.0f} s", flush=True)
    return path, [tuple(x) for x in json.loads(truth_path.read_text())]


def shingles(text: str, k: int) -> list[str]:
    w = normalise(text).split()
    return [" ".join(w[i : i + k]) for i in range(max(1, len(w) - k + 1))]


def jaccard(a: list[str], b: list[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb)


def _clusters(pairs: set[tuple[int, int]]) -> UnionFind:
    uf = UnionFind()
    for a, b in pairs:
        uf.union(a, b)
    return uf


def score(found: set[tuple[int, int]], truth: list[tuple[int, int, str]], texts: dict[int, str], k: int) -> dict:
    """Every method is scored the same way, by clusters: its reported pairs are joined by union-find.
    Recall: planted (copy, original) pairs that end in one cluster, over those whose true shingle
    Jaccard is >= 0.8, and per kind. Precision: reported pairs whose two stories belong to one planted
    family (an original and its copies)."""
    got, fam = _clusters(found), _clusters({(a, b) for a, b, _ in truth})

    def same(uf: UnionFind, a: int, b: int) -> bool:
        return uf.find(a) == uf.find(b)

    high = [(a, b) for a, b, _ in truth if jaccard(shingles(texts[a], k), shingles(texts[b], k)) >= 0.8]
    by_kind = {}
    for kind in KINDS:
        pairs = [(a, b) for a, b, kd in truth if kd == kind]
        if pairs:
            by_kind[kind] = round(sum(same(got, a, b) for a, b in pairs) / len(pairs), 4)
    return {
        "recall_at_jaccard_0.8": round(sum(same(got, a, b) for a, b in high) / max(1, len(high)), 4),
        "pairs_at_jaccard_0.8": len(high),
        "recall_by_kind": by_kind,
        "precision": round(sum(same(fam, a, b) for a, b in found) / max(1, len(found)), 4),
    }


def storygen_dedup(path: Path, n: int, workers: int) -> dict:
    out = HERE / ".cache" / f"dedup_{n}"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "storygen", "dedup", str(path), "--out", str(out), "--no-progress",
                    "--workers", str(workers)], check=True)  # fmt: skip
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    index = {f"s{i:08d}": i for i in range(n)}
    found = set()
    with (out / "removed.jsonl").open() as f:
        for line in f:
            rec = json.loads(line)
            a, b = index[rec["id"]], index[rec["meta"]["duplicate_of"]]
            found.add((min(a, b), max(a, b)))
    return {
        "stories_per_s": round(n / seconds, 1),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak, 1),
        "found": found,
    }


def datasketch_dedup(texts: dict[int, str], k: int) -> dict:
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    hashes = {}
    for i, t in texts.items():
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode() for s in shingles(t, k)])
        hashes[i] = m
        lsh.insert(i, m)
    found = {(min(i, j), max(i, j)) for i, m in hashes.items() for j in lsh.query(m) if j != i}
    return {"stories_per_s": round(len(texts) / (time.perf_counter() - t0), 1), "found": found}


def rensa_dedup(texts: dict[int, str], k: int) -> dict:
    from rensa import RMinHash, RMinHashLSH

    t0 = time.perf_counter()
    lsh = RMinHashLSH(threshold=0.8, num_perm=128, num_bands=16)
    hashes = {}
    for i, t in texts.items():
        m = RMinHash(num_perm=128, seed=1)
        m.update(shingles(t, k))
        hashes[i] = m
        lsh.insert(i, m)
    found = {(min(i, j), max(i, j)) for i, m in hashes.items() for j in lsh.query(m) if j != i}
    return {"stories_per_s": round(len(texts) / (time.perf_counter() - t0), 1), "found": found}


_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")


def plain_validate(lines: list[str]) -> float:
    """What a first version looks like: per-token lemminflect and pyphen, no caches. Returns stories/s."""
    import pyphen
    from lemminflect import getAllLemmas

    from storygen.paths import VOCAB_DIR
    from storygen.vocab import load_vocabulary

    allowed = load_vocabulary(VOCAB_DIR).allowed_lemmas
    hyph = pyphen.Pyphen(lang="en_US")
    t0 = time.perf_counter()
    for line in lines:
        text = json.loads(line)["text"]
        words = _TOKEN.findall(text)
        ok = sum(
            1
            for w in words
            if w.lower() in allowed or any(x in allowed for v in getAllLemmas(w.lower()).values() for x in v)
        )
        syl = sum(len(hyph.positions(w)) + 1 for w in words)
        sentences = max(1, len(re.findall(r"[.!?]+", text)))
        _ = (ok / len(words), 0.39 * len(words) / sentences + 11.8 * syl / len(words) - 15.59)
        _ = [re.search(p, text, re.I) for p in (r"as an ai", r"here is a story", r"^#", r"â€")]
    return len(lines) / (time.perf_counter() - t0)


def head_corpus(path: Path, n: int, curly: bool) -> Path:
    """The first n stories of `path`, with curly quotes and apostrophes if asked."""
    out = HERE / ".cache" / f"{path.stem}_head_{n}{'_curly' if curly else ''}.jsonl"
    if not out.is_file():
        with path.open() as f, out.open("w") as g:
            for line, _ in zip(f, range(n), strict=False):
                rec = json.loads(line)
                if curly:
                    rec["text"] = re.sub(r'"([^"]*)"', r"“\1”", rec["text"]).replace("'", "’")
                g.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return out


def stage_speed(stage: str, path: Path, workers: int) -> float:
    """Stories/s of one storygen stage run on `path`, as its report.json says."""
    out = HERE / ".cache" / f"{stage}_{path.stem}"
    subprocess.run([sys.executable, "-m", "storygen", stage, str(path), "--out", str(out), "--no-progress",
                    "--workers", str(workers)], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return json.loads((out / "report.json").read_text())["stories_per_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="corpus size")
    p.add_argument("--sample", type=int, default=20_000, help="subsample for the baselines")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=HERE / "results" / "clean.json")
    a = p.parse_args()
    k = DedupConfig().shingle_size
    path, truth = corpus(a.n)

    ours = storygen_dedup(path, a.n, a.workers)
    sample_truth = [(x, y, kind) for x, y, kind in truth if x < a.sample and y < a.sample]
    needed = {i for x, y, _ in truth for i in (x, y)} | set(range(a.sample))
    texts = {}
    with path.open() as f:
        for i, line in enumerate(f):
            if i in needed:
                texts[i] = json.loads(line)["text"]
    sample = {i: texts[i] for i in range(min(a.sample, a.n))}
    ds, rs = datasketch_dedup(sample, k), rensa_dedup(sample, k)
    head = {x: ours[x] for x in ("stories_per_s", "seconds", "peak_rss_mb")}
    rows = {
        "storygen": {**head, **score(ours.pop("found"), truth, texts, k)},
        "datasketch": {"stories_per_s": ds["stories_per_s"], **score(ds.pop("found"), sample_truth, texts, k)},
        "rensa": {"stories_per_s": rs["stories_per_s"], **score(rs.pop("found"), sample_truth, texts, k)},
    }  # fmt: skip
    for name, r in rows.items():
        print(f"dedup {name:10s} {r['stories_per_s']:>10,.0f} stories/s  recall@J>=0.8 {r['recall_at_jaccard_0.8']:.3f}"
              f"  precision {r['precision']:.3f}  by kind {r['recall_by_kind']}", flush=True)  # fmt: skip
    print(f"storygen dedup: {a.n:,} stories in {ours['seconds']:.1f} s, peak RSS {ours['peak_rss_mb']:.0f} MB; "
          f"{rows['storygen']['stories_per_s'] / rows['datasketch']['stories_per_s']:.1f}x datasketch, "
          f"{rows['storygen']['stories_per_s'] / rows['rensa']['stories_per_s']:.1f}x rensa", flush=True)  # fmt: skip

    t0 = time.perf_counter()
    vout = HERE / ".cache" / f"validate_{a.n}"
    subprocess.run([sys.executable, "-m", "storygen", "validate", str(path), "--out", str(vout), "--no-progress",
                    "--workers", str(a.workers)], check=True)  # fmt: skip
    v_seconds = time.perf_counter() - t0
    with path.open() as f:
        lines = [line for line, _ in zip(f, range(min(a.sample, 5000)), strict=False)]
    plain = plain_validate(lines)
    validate = {"storygen_stories_per_s": round(a.n / v_seconds, 1), "seconds": round(v_seconds, 2),
                "plain_loop_stories_per_s": round(plain, 1)}  # fmt: skip
    print(
        f"validate: {a.n:,} stories in {v_seconds:.1f} s ({a.n / v_seconds:,.0f}/s) vs plain loop {plain:,.0f}/s",
        flush=True,
    )
    m = min(a.n, 100_000)
    curly = {stage: {kind: stage_speed(stage, head_corpus(path, m, kind == "curly"), a.workers)
                     for kind in ("curly", "straight")} for stage in ("validate", "dedup")}  # fmt: skip
    for stage, r in curly.items():
        print(f"{stage} on {m:,} stories: {r['curly']:,.0f}/s with curly quotes, {r['straight']:,.0f}/s with "
              "straight ones", flush=True)  # fmt: skip
    a.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "clean", "n": a.n, "cores": os.cpu_count(), "dedup": rows, "validate": validate,
              "stories_per_s_on_100k_curly_vs_straight": curly}  # fmt: skip
    a.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
