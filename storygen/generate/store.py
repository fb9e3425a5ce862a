"""Crash-safe story storage: append-only JSON lines, keyed by story id.

Layout of a run directory:
    stories.<k>.jsonl     Story records written by writer k (one per worker process)
    failures.<k>.jsonl    prompts that used up their tries (retried by the next run)
    torn/                 incomplete trailing fragments cut off by a crash, kept for inspection

Each story is written with one os.write on an O_APPEND descriptor, so a process killed at any moment
(SIGKILL included) leaves at most a torn last line; the data already written is in the kernel and
survives. Writers fsync at most once a second against power loss. `repair` runs before any writer
opens: a last line without its newline that still parses is completed, one that does not is moved to
torn/ and cut. Reading keeps the first record of an id, so a story is never counted twice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storygen.errors import StorygenError
from storygen.records import Story

STORIES_GLOB = "stories.*.jsonl"
FAILURES_GLOB = "failures.*.jsonl"


def failures_path(out_dir: Path, shard: int) -> Path:
    return out_dir / f"failures.{shard:03d}.jsonl"


@dataclass
class RepairReport:
    completed_lines: int = 0
    torn_fragments: int = 0
    torn_bytes: int = 0
    files: list[str] = field(default_factory=list)


def story_files(out_dir: Path) -> list[Path]:
    return sorted(out_dir.glob(STORIES_GLOB))


def _is_complete_record(fragment: bytes) -> bool:
    try:
        return isinstance(json.loads(fragment), dict)
    except ValueError:
        return False


def repair(out_dir: Path) -> RepairReport:
    """Make every story file end at a line boundary without losing a complete record."""
    report = RepairReport()
    for path in [*story_files(out_dir), *sorted(out_dir.glob(FAILURES_GLOB))]:
        if path.stat().st_size == 0:
            continue
        with path.open("rb+") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - 1))
            if f.read(1) == b"\n":
                continue
            # Find the start of the unterminated last line.
            start, block = size, 1 << 16
            while start > 0:
                lo = max(0, start - block)
                f.seek(lo)
                chunk = f.read(start - lo)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    start = lo + nl + 1
                    break
                start = lo
            f.seek(start)
            fragment = f.read()
            if _is_complete_record(fragment):
                f.seek(0, os.SEEK_END)
                f.write(b"\n")
                report.completed_lines += 1
            else:
                torn_dir = out_dir / "torn"
                torn_dir.mkdir(exist_ok=True)
                stamp = time.strftime("%Y%m%dT%H%M%S")
                (torn_dir / f"{path.name}.{stamp}.{start}.partial").write_bytes(fragment)
                f.truncate(start)
                report.torn_fragments += 1
                report.torn_bytes += len(fragment)
            report.files.append(path.name)
    return report


def _line_id(line: bytes) -> str | None:
    """The id of a stored story line; a fast path for lines that start with '{"id":"...'."""
    if line.startswith(b'{"id":"'):
        end = line.find(b'"', 7)
        if end > 0:
            return line[7:end].decode()
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec.get("id") if isinstance(rec, dict) else None


def stored_ids(out_dir: Path) -> set[str]:
    """Ids of every story stored in out_dir (call after `repair`)."""
    ids: set[str] = set()
    for path in story_files(out_dir):
        with path.open("rb") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                sid = _line_id(line)
                if sid is None:
                    raise StorygenError(f"{path}:{lineno}: not a story record; move the file away or fix the line")
                ids.add(sid)
    return ids


def iter_stories(out_dir: Path) -> Iterator[Story]:
    """Every stored story once (first record of an id wins), in file order."""
    seen: set[str] = set()
    for path in story_files(out_dir):
        with path.open("rb") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    story = Story.model_validate_json(line)
                except ValueError as e:
                    raise StorygenError(f"{path}:{lineno}: not a story record ({str(e).splitlines()[0]})") from e
                if story.id not in seen:
                    seen.add(story.id)
                    yield story


class LineWriter:
    """Appends whole lines to a file with one write each; fsyncs at most every `sync_every` seconds."""

    def __init__(self, path: Path, sync_every: float = 1.0):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.sync_every = sync_every
        self._last_sync = time.monotonic()
        self._dirty = False

    def write_line(self, data: bytes) -> None:
        view = memoryview(data + b"\n")
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self._dirty = True
        now = time.monotonic()
        if now - self._last_sync >= self.sync_every:
            os.fsync(self.fd)
            self._last_sync, self._dirty = now, False

    def close(self) -> None:
        if self.fd < 0:
            return
        if self._dirty:
            os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1

    def __enter__(self) -> LineWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StoryWriter(LineWriter):
    def __init__(self, out_dir: Path, shard: int, sync_every: float = 1.0):
        super().__init__(out_dir / f"stories.{shard:03d}.jsonl", sync_every)

    def write(self, story: Story) -> None:
        self.write_line(story.model_dump_json(exclude_defaults=False).encode())


def record_failure(writer: LineWriter, story_id: str, index: int, reason: str, attempts: int, error: str) -> None:
    rec: dict[str, Any] = {
        "id": story_id, "index": index, "reason": reason, "attempts": attempts,
        "error": error[:500], "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip
    writer.write_line(json.dumps(rec).encode())


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file and rename it into place: readers see the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
