"""`storygen dedup`: exact, then near-duplicate removal, in three passes over the input.

1. signatures  worker processes parse each chunk of lines into (id, exact key, MinHash signature);
               the parent keeps only these compact arrays (1M stories x 128 perms = 512 MB).
2. candidates  exact duplicates group by key; among the exact-unique stories, LSH banding proposes
               near pairs; a second read loads the texts of candidate stories only, and rapidfuzz
               keeps the pairs at or above verify_threshold; union-find makes clusters.
3. write       one story kept per cluster (the smallest id), kept lines copied byte for byte to
               stories.jsonl, the others to removed.jsonl with the story they duplicate.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from tqdm import tqdm

from storygen.clean.dedup.lsh import band_keys, candidate_probability, pairs_from_band_keys
from storygen.clean.dedup.minhash import MinHasher, normalise
from storygen.clean.dedup.verify import UnionFind, similarities
from storygen.clean.io import (
    AtomicDir,
    BadLine,
    byte_ranges,
    copy_range,
    line_number,
    lines_in,
    parse_story,
    text_id,
)
from storygen.config import DedupConfig, RunConfig, save_config
from storygen.errors import StorygenError

_state: dict[str, Any] = {}


def id_and_text(line: bytes) -> tuple[str, str]:
    """The two fields dedup needs, without building a full record."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise BadLine(f"not JSON ({e.msg})") from None
    if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
        raise BadLine("no string field 'text'")
    sid = rec.get("id")
    return (str(sid) if sid is not None else text_id(rec["text"])), rec["text"]


def _init(cfg: dict[str, Any]) -> None:
    c = DedupConfig.model_validate(cfg)
    _state["hasher"] = MinHasher(c.num_perm, c.shingle_size, c.seed)
    _state["bands"] = (c.bands, c.rows)


def _signatures(task: tuple[str, int, int]) -> dict[str, Any]:
    path, start, end = task
    ids, texts, bad, offsets, lengths = [], [], [], [], []
    for offset, line in lines_in(path, start, end):
        try:
            sid, text = id_and_text(line)
        except BadLine as e:
            bad.append((path, offset, len(line), str(e)))
            continue
        ids.append(sid)
        texts.append(text)
        offsets.append(offset)
        lengths.append(len(line))
    sig, keys = _state["hasher"].signatures(texts)
    return {"path": path, "ids": ids, "keys": keys, "sig": sig, "bands": band_keys(sig, *_state["bands"]), "bad": bad,
            "offsets": np.array(offsets, dtype=np.int64), "lengths": np.array(lengths, dtype=np.int64)}  # fmt: skip


def read_lines(inputs: list[Path], file_of: np.ndarray, offsets: np.ndarray, lengths: np.ndarray,
               indices: list[int]) -> Iterator[tuple[int, bytes]]:  # fmt: skip
    """(index, line) for the given story indices, read by seeking to each one."""
    handles = [p.open("rb") for p in inputs]
    try:
        for i in sorted(indices):
            f = handles[file_of[i]]
            f.seek(offsets[i])
            yield i, f.read(lengths[i])
    finally:
        for f in handles:
            f.close()


def copy_except(src: Path, dst: Any, skip: list[tuple[int, int]]) -> None:
    """Append src to the binary file dst without the lines at the byte ranges (offset, length) in
    `skip` (each line's newline goes with it); output ends with a newline. Runs of kept lines are
    copied by the kernel (copy_file_range), never passing through Python."""
    size = src.stat().st_size
    dst.flush()
    out_fd = dst.fileno()
    last_end = 0
    with src.open("rb") as f:
        in_fd = f.fileno()
        pos = 0
        for offset, length in [*sorted(skip), (size, 0)]:
            if offset > pos:
                copy_range(in_fd, out_fd, pos, offset - pos)
                last_end = offset
            pos = offset + length + 1
        if last_end and os.pread(in_fd, 1, last_end - 1) != b"\n":
            os.write(out_fd, b"\n")


def dedup(
    inputs: list[Path], out: Path, config: RunConfig, skip_bad: bool = False, workers: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    cfg = config.dedup
    workers = workers or os.cpu_count() or 1
    started = time.perf_counter()

    # ---- pass 1: ids, exact keys, signatures
    ids: list[str] = []
    keys_parts, sig_parts, band_parts, off_parts, len_parts, file_parts = [], [], [], [], [], []
    bad: list[tuple[str, int, int, str]] = []
    file_index = {str(p): k for k, p in enumerate(inputs)}
    for path in inputs:
        if not path.is_file():
            raise StorygenError(f"{path}: input file not found")
    chunks = byte_ranges(inputs)
    if workers > 1:
        pool = mp.get_context("fork" if hasattr(os, "fork") else "spawn").Pool(workers, _init, (cfg.model_dump(),))
        results = pool.imap(_signatures, chunks)
    else:
        _init(cfg.model_dump())
        pool, results = None, map(_signatures, chunks)
    try:
        bar = tqdm(desc="signatures", unit="story", disable=not show_progress, mininterval=0.5)
        for r in results:
            if r["bad"] and not skip_bad:
                source, offset, _, msg = r["bad"][0]
                raise StorygenError(f"{source}:{line_number(source, offset)}: {msg}; fix the line or pass --skip-bad")
            bad.extend(r["bad"])
            ids.extend(r["ids"])
            keys_parts.append(r["keys"])
            sig_parts.append(r["sig"])
            band_parts.append(r["bands"])
            off_parts.append(r["offsets"])
            len_parts.append(r["lengths"])
            file_parts.append(np.full(len(r["ids"]), file_index[r["path"]], dtype=np.int32))
            bar.update(len(r["ids"]))
        bar.close()
    finally:
        if pool is not None:
            pool.terminate()
    n = len(ids)
    if n == 0:
        raise StorygenError(f"no stories in {', '.join(map(str, inputs))}; check the input files")
    keys = np.concatenate(keys_parts)
    sig = np.concatenate(sig_parts)
    bands = np.concatenate(band_parts, axis=1)  # (bands, n): each band's keys contiguous
    offsets, lengths, file_of = np.concatenate(off_parts), np.concatenate(len_parts), np.concatenate(file_parts)
    del sig_parts, band_parts
    t_sig = time.perf_counter() - started

    # ---- exact duplicates: keep the smallest id per key
    id_rank = np.empty(n, dtype=np.int64)
    id_rank[np.argsort(np.array(ids), kind="stable")] = np.arange(n)  # fixed-width strings sort in C
    order = np.lexsort((id_rank, keys))  # by key, then by id
    sk = keys[order]
    first_of_run = np.concatenate(([True], sk[1:] != sk[:-1]))
    keeper = order[np.maximum.accumulate(np.where(first_of_run, np.arange(n), 0))]
    exact_of = np.full(n, -1, dtype=np.int64)
    dup_positions = np.flatnonzero(~first_of_run)
    exact_of[order[dup_positions]] = keeper[dup_positions]
    unique = np.flatnonzero(exact_of < 0)

    t_exact = time.perf_counter() - started

    # ---- near duplicates among exact-unique stories
    pairs = pairs_from_band_keys(bands[:, unique])
    pairs = unique[pairs] if len(pairs) else pairs
    n_candidates = len(pairs)
    if len(pairs):  # the signatures' own Jaccard estimate drops chance collisions before rapidfuzz
        estimate = np.concatenate([
            (sig[pairs[k : k + 65536, 0]] == sig[pairs[k : k + 65536, 1]]).mean(axis=1)
            for k in range(0, len(pairs), 65536)
        ])  # fmt: skip
        pairs = pairs[estimate >= cfg.min_estimate]
    need = set(np.unique(pairs).tolist()) if len(pairs) else set()
    needed = read_lines(inputs, file_of, offsets, lengths, list(need))
    texts = {i: normalise(id_and_text(line)[1]) for i, line in needed}
    t_candidates = time.perf_counter() - started
    uf = UnionFind()
    verified: list[tuple[int, int, float]] = []
    pair_list = pairs.tolist()
    scores = similarities([texts[i] for i, _ in pair_list], [texts[j] for _, j in pair_list], workers)
    for (i, j), score in zip(pair_list, scores.tolist(), strict=True):
        if score >= cfg.verify_threshold:
            verified.append((i, j, score))
            uf.union(i, j)
    near_of = np.full(n, -1, dtype=np.int64)
    clusters = uf.clusters()
    for members in clusters.values():
        keep = min(members, key=lambda m: ids[m])
        for m in members:
            if m != keep:
                near_of[m] = keep

    t_verify = time.perf_counter() - started

    # ---- pass 3: write
    removed_exact = int((exact_of >= 0).sum())
    removed_near = int((near_of >= 0).sum())
    removed = np.flatnonzero((exact_of >= 0) | (near_of >= 0))
    with (
        AtomicDir(out) as tmp,
        (tmp / "stories.jsonl").open("wb") as kept_f,
        (tmp / "removed.jsonl").open("wb") as rem_f,
    ):
        for index, line in read_lines(inputs, file_of, offsets, lengths, removed.tolist()):
            story = parse_story(line, "")
            if exact_of[index] >= 0:
                story.reasons = [*story.reasons, "exact_duplicate"]
                story.meta["duplicate_of"] = ids[exact_of[index]]
            else:
                story.reasons = [*story.reasons, "near_duplicate"]
                story.meta["duplicate_of"] = ids[near_of[index]]
            rem_f.write(story.model_dump_json().encode() + b"\n")
        for k, path in enumerate(inputs):  # kept lines: everything else, copied in large blocks
            mine = removed[file_of[removed] == k]
            skip = list(zip(offsets[mine].tolist(), lengths[mine].tolist(), strict=True))
            skip += [(off, length) for src, off, length, _ in bad if src == str(path)]
            copy_except(path, kept_f, skip)
        seconds = time.perf_counter() - started
        samples = sorted(verified, key=lambda v: v[2])[:: max(1, len(verified) // 10)][:10]
        report = {
            "inputs": [str(p) for p in inputs],
            "total": n,
            "kept": n - removed_exact - removed_near,
            "exact_removed": removed_exact,
            "near_removed": removed_near,
            "clusters": sum(1 for m in clusters.values() if len(m) > 1),
            "candidate_pairs": n_candidates,
            "pairs_checked": len(pairs),
            "verified_pairs": len(verified),
            "bad_lines": len(bad),
            "bad_line_examples": [f"{src}:{line_number(src, off)}: {msg}" for src, off, _, msg in bad[:10]],
            "params": {
                **cfg.model_dump(),
                "candidate_threshold": round((1 / cfg.bands) ** (1 / cfg.rows), 3),
                "p_candidate_at_0.8": round(candidate_probability(0.8, cfg.bands, cfg.rows), 4),
            },
            "sample_pairs": [
                {
                    "kept": ids[i],
                    "removed": ids[j] if ids[i] < ids[j] else ids[i],
                    "similarity": round(s, 3),
                    "text_a": texts[i][:160],
                    "text_b": texts[j][:160],
                }
                for i, j, s in samples
            ],
            "seconds": round(seconds, 3),
            "signature_seconds": round(t_sig, 3),
            "timeline_s": {
                "signatures": round(t_sig, 2),
                "exact": round(t_exact, 2),
                "candidates_and_texts": round(t_candidates, 2),
                "verified": round(t_verify, 2),
                "written": round(seconds, 2),
            },
            "stories_per_s": round(n / seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        save_config(config, tmp / "config.yaml")
    return report
