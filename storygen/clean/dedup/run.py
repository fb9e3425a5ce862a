"""`storygen dedup`: exact, then near-duplicate removal, in three passes over the input.

1. signatures  worker processes parse each chunk of lines into (id, exact key, LSH band keys) and
               write the chunk's MinHash signatures to a scratch file beside the output; the parent
               keeps ids, keys, band keys and line positions (~230 bytes a story, not the 512 of a
               signature), so no signature crosses a pipe.
2. candidates  exact duplicates group by key; among the exact-unique stories, LSH banding proposes
               near pairs (one band per thread); the pairs' signatures, read back from the scratch
               files, drop chance collisions; the workers load and normalise the texts of candidate
               stories only, rapidfuzz keeps the pairs at or above verify_threshold, and union-find
               makes clusters.
3. write       one story kept per cluster (the smallest id): kept lines copied byte for byte to
               stories.jsonl by the kernel on `workers` threads, while the removed ones are written
               to removed.jsonl with the story they duplicate.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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


def _signatures(task: tuple[str, int, int, str]) -> dict[str, Any]:
    """One chunk of lines -> ids, exact keys, band keys and line positions; the signatures go to the
    file `sig_path` (row k: the chunk's k-th good line)."""
    path, start, end, sig_path = task
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
    sig.tofile(sig_path)
    return {"path": path, "sig_path": sig_path, "ids": ids, "keys": keys, "bad": bad,
            "bands": band_keys(sig, *_state["bands"]),
            "offsets": np.array(offsets, dtype=np.int64), "lengths": np.array(lengths, dtype=np.int64)}  # fmt: skip


def _normalised(task: tuple[str, list[int], list[int]]) -> list[str]:
    """`normalise`d texts of the lines at (offsets, lengths) of one file."""
    path, offsets, lengths = task
    with open(path, "rb") as f:
        return [normalise(id_and_text(os.pread(f.fileno(), n, at))[1]) for at, n in zip(offsets, lengths, strict=True)]


class SignatureFiles:
    """The signature matrix as the workers wrote it, one file per chunk; rows are read back (memory
    mapped) for the stories that need them only."""

    def __init__(self, num_perm: int):
        self.num_perm = num_perm
        self.paths: list[str] = []
        self.first = [0]  # global row of each file's first row, and the total at the end

    def add(self, path: str, rows: int) -> None:
        self.paths.append(path)
        self.first.append(self.first[-1] + rows)

    def rows(self, index: np.ndarray) -> np.ndarray:
        """Signatures of the global rows `index` (any order), as (len(index), num_perm) uint32."""
        out = np.empty((len(index), self.num_perm), dtype=np.uint32)
        first = np.array(self.first)
        chunk = np.searchsorted(first, index, side="right") - 1
        for c in np.unique(chunk):
            mine = np.flatnonzero(chunk == c)
            rows = int(first[c + 1] - first[c])
            sig = np.memmap(self.paths[c], dtype=np.uint32, mode="r", shape=(rows, self.num_perm))
            out[mine] = sig[index[mine] - first[c]]
        return out


@contextmanager
def _workers(workers: int, cfg: DedupConfig) -> Iterator[Callable[..., Iterator[Any]]]:
    """An ordered map over `workers` processes (forked after `_init`), or over this one for 1."""
    if workers <= 1:
        _init(cfg.model_dump())
        yield map
        return
    pool = mp.get_context("fork" if hasattr(os, "fork") else "spawn").Pool(workers, _init, (cfg.model_dump(),))
    try:
        yield pool.imap
    finally:
        pool.terminate()


def read_lines(inputs: list[Path], file_of: np.ndarray, offsets: np.ndarray, lengths: np.ndarray,
               indices: list[int]) -> Iterator[tuple[int, bytes]]:  # fmt: skip
    """(index, line) for the given story indices, in index order, each read by one pread."""
    fds = [os.open(p, os.O_RDONLY) for p in inputs]
    try:
        for i in sorted(indices):
            yield i, os.pread(fds[file_of[i]], int(lengths[i]), int(offsets[i]))
    finally:
        for fd in fds:
            os.close(fd)


_PIECE = 8 << 20  # bytes a copy_except thread copies at a time


def copy_except(src: Path, dst: Any, skip: list[tuple[int, int]], threads: int = 1) -> None:
    """Append src to the binary file dst without the lines at the byte ranges (offset, length) in
    `skip` (each line's newline goes with it); output ends with a newline. Runs of kept lines are
    copied by the kernel (copy_file_range), never passing through Python, split over `threads`
    threads that each write their own part of the output."""
    size = src.stat().st_size
    dst.flush()
    out_fd = dst.fileno()
    at = os.lseek(out_fd, 0, os.SEEK_CUR)
    pieces: list[tuple[int, int, int]] = []  # (source offset, length, output offset)
    pos = 0
    for offset, length in [*sorted(skip), (size, 0)]:
        for start in range(pos, offset, _PIECE):  # long runs in pieces, so that threads can share them
            n = min(_PIECE, offset - start)
            pieces.append((start, n, at))
            at += n
        pos = offset + length + 1
    with src.open("rb") as f:
        in_fd = f.fileno()

        def copy(part: list[tuple[int, int, int]]) -> None:
            for offset, n, out_offset in part:
                copy_range(in_fd, out_fd, offset, n, out_offset)

        if threads > 1 and len(pieces) > 1:
            share = -(-len(pieces) // threads)
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(copy, [pieces[k : k + share] for k in range(0, len(pieces), share)]))
        else:
            copy(pieces)
        os.lseek(out_fd, at, os.SEEK_SET)
        if pieces and os.pread(in_fd, 1, pieces[-1][0] + pieces[-1][1] - 1) != b"\n":
            os.write(out_fd, b"\n")


def exact_duplicates(ids: list[str], keys: np.ndarray) -> np.ndarray:
    """For each story, the index of the story with the same exact key and the smallest id that it
    duplicates, or -1 (it is that story, or unique)."""
    n = len(ids)
    id_rank = np.empty(n, dtype=np.int64)
    id_rank[np.argsort(np.array(ids), kind="stable")] = np.arange(n)  # fixed-width strings sort in C
    order = np.lexsort((id_rank, keys))  # by key, then by id
    sk = keys[order]
    first_of_run = np.concatenate(([True], sk[1:] != sk[:-1]))
    keeper = order[np.maximum.accumulate(np.where(first_of_run, np.arange(n), 0))]
    exact_of = np.full(n, -1, dtype=np.int64)
    dup_positions = np.flatnonzero(~first_of_run)
    exact_of[order[dup_positions]] = keeper[dup_positions]
    return exact_of


def estimates(signatures: SignatureFiles, pairs: np.ndarray) -> np.ndarray:
    """The signatures' Jaccard estimate of each (i, j) pair: the share of equal values."""
    if not len(pairs):
        return np.zeros(0)
    need = np.unique(pairs)
    sig = signatures.rows(need)
    a, b = np.searchsorted(need, pairs[:, 0]), np.searchsorted(need, pairs[:, 1])
    return np.concatenate([
        (sig[a[k : k + 65536]] == sig[b[k : k + 65536]]).mean(axis=1) for k in range(0, len(pairs), 65536)
    ])  # fmt: skip


def candidate_texts(need: np.ndarray, inputs: list[Path], file_of: np.ndarray, offsets: np.ndarray,
                    lengths: np.ndarray, imap: Callable[..., Iterator[Any]]) -> dict[int, str]:  # fmt: skip
    """story index -> normalised text, for the stories `need`, read and normalised by the workers in
    tasks of 1,024 lines in file order."""
    tasks = []
    for k in range(len(inputs)):
        mine = need[file_of[need] == k]
        mine = mine[np.argsort(offsets[mine])]
        for j in range(0, len(mine), 1024):
            part = mine[j : j + 1024]
            tasks.append((part, (str(inputs[k]), offsets[part].tolist(), lengths[part].tolist())))
    texts: dict[int, str] = {}
    for (part, _), normalised in zip(tasks, imap(_normalised, [t for _, t in tasks]), strict=True):
        texts.update(zip(part.tolist(), normalised, strict=True))
    return texts


def dedup(
    inputs: list[Path], out: Path, config: RunConfig, skip_bad: bool = False, workers: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    cfg = config.dedup
    workers = workers or os.cpu_count() or 1
    started = time.perf_counter()
    for path in inputs:
        if not path.is_file():
            raise StorygenError(f"{path}: input file not found")
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix=f".{out.name}.signatures.", dir=out.parent) as scratch,
        _workers(workers, cfg) as imap,
    ):
        # ---- pass 1: ids, exact keys, band keys; signatures to scratch files
        ids: list[str] = []
        keys_parts, band_parts, off_parts, len_parts, file_parts = [], [], [], [], []
        bad: list[tuple[str, int, int, str]] = []
        signatures = SignatureFiles(cfg.num_perm)
        file_index = {str(p): k for k, p in enumerate(inputs)}
        chunks = [(*c, os.path.join(scratch, f"{k:06d}.u32")) for k, c in enumerate(byte_ranges(inputs))]
        bar = tqdm(desc="signatures", unit="story", disable=not show_progress, mininterval=0.5)
        for r in imap(_signatures, chunks):
            if r["bad"] and not skip_bad:
                source, offset, _, msg = r["bad"][0]
                raise StorygenError(f"{source}:{line_number(source, offset)}: {msg}; fix the line or pass --skip-bad")
            bad.extend(r["bad"])
            ids.extend(r["ids"])
            signatures.add(r["sig_path"], len(r["ids"]))
            keys_parts.append(r["keys"])
            band_parts.append(r["bands"])
            off_parts.append(r["offsets"])
            len_parts.append(r["lengths"])
            file_parts.append(np.full(len(r["ids"]), file_index[r["path"]], dtype=np.int32))
            bar.update(len(r["ids"]))
        bar.close()
        n = len(ids)
        if n == 0:
            raise StorygenError(f"no stories in {', '.join(map(str, inputs))}; check the input files")
        keys = np.concatenate(keys_parts)
        bands = np.concatenate(band_parts, axis=1)  # (bands, n): each band's keys contiguous
        offsets, lengths, file_of = np.concatenate(off_parts), np.concatenate(len_parts), np.concatenate(file_parts)
        del band_parts
        t_sig = time.perf_counter() - started

        # ---- exact duplicates: the smallest id per key is kept
        exact_of = exact_duplicates(ids, keys)
        unique = np.flatnonzero(exact_of < 0)
        t_exact = time.perf_counter() - started

        # ---- near duplicates among exact-unique stories
        pairs = pairs_from_band_keys(bands, None if len(unique) == n else unique, threads=workers)
        del bands
        n_candidates = len(pairs)
        pairs = pairs[estimates(signatures, pairs) >= cfg.min_estimate]  # chance collisions go before rapidfuzz
        texts = candidate_texts(np.unique(pairs), inputs, file_of, offsets, lengths, imap)
    t_candidates = time.perf_counter() - started

    # ---- verify with rapidfuzz; clusters by union-find, the smallest id of each kept
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

        def copy_kept() -> None:  # everything else, copied in large blocks by the kernel
            for k, path in enumerate(inputs):
                mine = removed[file_of[removed] == k]
                skip = list(zip(offsets[mine].tolist(), lengths[mine].tolist(), strict=True))
                skip += [(off, length) for src, off, length, _ in bad if src == str(path)]
                copy_except(path, kept_f, skip, threads=workers)

        with ThreadPoolExecutor(1) as background:  # the copy runs while the removed lines are written
            kept_copied = background.submit(copy_kept)
            for index, line in read_lines(inputs, file_of, offsets, lengths, removed.tolist()):
                story = parse_story(line, "")
                if exact_of[index] >= 0:
                    story.reasons = [*story.reasons, "exact_duplicate"]
                    story.meta["duplicate_of"] = ids[exact_of[index]]
                else:
                    story.reasons = [*story.reasons, "near_duplicate"]
                    story.meta["duplicate_of"] = ids[near_of[index]]
                rem_f.write(story.model_dump_json().encode() + b"\n")
            kept_copied.result()
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
