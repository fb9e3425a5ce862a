"""Reading story files for the cleaning stages: our Story records, or any JSON lines with a `text`
field (e.g. a TinyStories dump), with bad lines reported by file and line number."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from storygen.errors import StorygenError
from storygen.records import Story

_STORY_FIELDS = frozenset(Story.model_fields)


class BadLine(ValueError):
    pass


def text_id(text: str) -> str:
    return "t" + hashlib.sha256(text.encode()).hexdigest()[:15]


def parse_story(line: bytes, source: str) -> Story:
    """One JSON line -> Story. Records with only Story fields are validated as such; anything else
    needs a string `text`, and its other fields go to `meta` (so `words`/`features` still count)."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise BadLine(f"not JSON ({e.msg})") from None
    if not isinstance(rec, dict):
        raise BadLine("not a JSON object")
    if not isinstance(rec.get("text"), str):
        raise BadLine("no string field 'text'")
    if rec.keys() <= _STORY_FIELDS and "id" in rec:
        try:
            return Story.model_validate(rec)
        except ValidationError as e:
            err = e.errors()[0]
            raise BadLine(f"field {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    meta = {k: v for k, v in rec.items() if k not in ("id", "text")}
    sid = rec.get("id")
    return Story(id=str(sid) if sid is not None else text_id(rec["text"]), text=rec["text"], source=source, meta=meta)


def copy_range(in_fd: int, out_fd: int, offset: int, count: int, out_offset: int | None = None) -> None:
    """Copy count bytes at offset of in_fd to out_fd: at out_offset, or else at its current position."""
    while count > 0:
        try:
            n = os.copy_file_range(in_fd, out_fd, count, offset, out_offset)
        except (AttributeError, OSError):  # not Linux, or a file system without it
            data = os.pread(in_fd, min(count, 16 << 20), offset)
            n = os.write(out_fd, data) if out_offset is None else os.pwrite(out_fd, data, out_offset)
        if n <= 0:
            raise OSError(f"copying {count} bytes at {offset} wrote nothing")
        offset, count = offset + n, count - n
        out_offset = None if out_offset is None else out_offset + n


def append_file(src: Path, dst: Any) -> None:
    """Append all of src to the binary file object dst, copied by the kernel."""
    dst.flush()
    with src.open("rb") as f:
        copy_range(f.fileno(), dst.fileno(), 0, os.fstat(f.fileno()).st_size)


CHUNK_BYTES = 4 << 20  # a worker task reads ~4 MB of an input itself (~3,000 stories)


def byte_ranges(paths: list[Path], size: int = CHUNK_BYTES) -> list[tuple[str, int, int]]:
    """(file, start, end) pieces of about `size` bytes that start and end at line boundaries."""
    out = []
    for path in paths:
        total = path.stat().st_size
        with path.open("rb") as f:
            start = 0
            while start < total:
                f.seek(min(total, start + size))
                f.readline()  # move to the end of the line the cut fell in
                end = min(total, f.tell()) if start + size < total else total
                out.append((str(path), start, end))
                start = end
    return out


def lines_in(path: str, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(byte offset, line) of the non-blank lines in [start, end)."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    offset = start
    for line in data.split(b"\n"):
        if line.strip():
            yield offset, line
        offset += len(line) + 1


def line_number(path: str, offset: int) -> int:
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


def iter_lines(paths: list[Path]) -> Iterator[tuple[str, int, bytes]]:
    """(file, line number, raw line) for every non-blank line of every input."""
    for path in paths:
        if not path.is_file():
            raise StorygenError(f"{path}: input file not found")
    for path in paths:
        with path.open("rb") as f:
            for lineno, line in enumerate(f, start=1):
                if line.strip():
                    yield str(path), lineno, line


# What a directory stands for, first match wins: a generate run, validate's output, dedup's output.
STAGE_OUTPUTS = ("stories.*.jsonl", "accepted.jsonl", "stories.jsonl", "judged.jsonl")


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given; a directory stands for the stories a storygen stage wrote into it."""
    out: list[Path] = []
    for p in inputs:
        if not p.is_dir():
            out.append(p)
            continue
        for pattern in STAGE_OUTPUTS:
            found = sorted(p.glob(pattern))
            if found:
                out.extend(found)
                break
        else:
            raise StorygenError(
                f"{p}: no stories.*.jsonl, accepted.jsonl, stories.jsonl or judged.jsonl in this directory"
            )
    return out


class AtomicDir:
    """Write outputs into a temporary sibling directory; on success move each file into `out`.
    On an error nothing in `out` changes."""

    def __init__(self, out: Path):
        self.out = out

    def __enter__(self) -> Path:
        if self.out.exists() and not self.out.is_dir():
            raise StorygenError(f"--out {self.out}: exists and is not a directory")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))
        return self.tmp

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                self.out.mkdir(exist_ok=True)
                for f in self.tmp.iterdir():
                    os.replace(f, self.out / f.name)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
