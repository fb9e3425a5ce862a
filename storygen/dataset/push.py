"""`storygen push`: a built dataset folder -> a Hugging Face dataset repository.

The repository is created if needed. Files go up in commits of bounded size; before each attempt the
files already on the Hub with the same content (LFS sha256, or git blob id for small files) are
skipped, so a push that failed halfway resumes where it stopped. The token comes from HF_TOKEN or the
cached `hf auth login` and is never printed.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storygen.errors import StorygenError

COMMIT_BYTES = 2 * 2**30  # one commit carries at most ~2 GB
COMMIT_FILES = 200


def local_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def remote_matches(remote: Any, path: Path) -> bool:
    """Is this remote file (a RepoFile) the same content as the local one?"""
    if getattr(remote, "size", None) != path.stat().st_size:
        return False
    lfs = getattr(remote, "lfs", None)
    if lfs is not None:
        return (lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)) == sha256(path)
    return getattr(remote, "blob_id", None) == git_blob_id(path)


def batches(files: list[Path]) -> list[list[Path]]:
    out: list[list[Path]] = []
    size = 0
    for f in files:
        n = f.stat().st_size
        if not out or len(out[-1]) >= COMMIT_FILES or size + n > COMMIT_BYTES:
            out.append([])
            size = 0
        out[-1].append(f)
        size += n
    return out


def push(folder: Path, repo: str, private: bool = False, revision: str | None = None, dry_run: bool = False,
         api: Any = None, say: Callable[[str], None] = print) -> int:  # fmt: skip
    if not (folder / "README.md").is_file() or not (folder / "data").is_dir():
        raise StorygenError(f"{folder}: not a dataset folder (no README.md and data/); make one with `storygen build`")
    if "/" not in repo or repo.count("/") != 1:
        raise StorygenError(f"--repo {repo!r}: expected ORG/NAME")
    files = local_files(folder)
    if dry_run:
        total = sum(f.stat().st_size for f in files)
        for f in files:
            say(f"{f.stat().st_size:>12,}  {f.relative_to(folder)}")
        say(
            f"dry run: {len(files)} files, {total:,} bytes would go to dataset {repo}"
            + (f"@{revision}" if revision else "")
        )
        return 0
    if api is None:
        from huggingface_hub import HfApi, get_token

        token = get_token()
        if not token:
            raise StorygenError("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then push again")
        api = HfApi(token=token)
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    try:
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        if revision:
            api.create_branch(repo, repo_type="dataset", branch=revision, exist_ok=True)
        remote = {f.path: f for f in api.list_repo_tree(repo, repo_type="dataset", revision=revision, recursive=True)
                  if hasattr(f, "size")}  # fmt: skip
        todo = [
            f
            for f in files
            if not (str(f.relative_to(folder)) in remote and remote_matches(remote[str(f.relative_to(folder))], f))
        ]
        skipped = len(files) - len(todo)
        groups = batches(todo)
        for i, group in enumerate(groups, start=1):
            ops = [CommitOperationAdd(path_in_repo=str(f.relative_to(folder)), path_or_fileobj=str(f)) for f in group]
            api.create_commit(repo, ops, commit_message=f"storygen push ({i}/{len(groups)})", repo_type="dataset",
                              revision=revision)  # fmt: skip
            say(f"committed {i}/{len(groups)}: {len(group)} files")
    except HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", "?")
        hint = "check the token's write access" if status in (401, 403) else "run the same command again to resume"
        raise StorygenError(f"the Hub refused the push ({status}: {str(e).splitlines()[0][:200]}); {hint}") from None
    except OSError as e:
        raise StorygenError(f"push to {repo} failed ({e}); run the same command again to resume") from None
    say(f"pushed {len(todo)} files ({skipped} already there) to https://huggingface.co/datasets/{repo}")
    sys.stdout.flush()
    return 0
