"""Reading training text: a `storygen build` folder, a local Parquet / JSON-lines / text file, or a
Hub dataset id (on a machine with internet). Anything with a `text` column works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storygen.errors import StorygenError


def load_text_dataset(source: str) -> Any:
    """A datasets.DatasetDict with a `text` column in every split (train, and validation if present)."""
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    path = Path(source)
    try:
        if path.is_dir():
            ds = datasets.load_dataset(str(path))
        elif path.is_file():
            kind = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".txt": "text"}.get(path.suffix)
            if kind is None:
                raise StorygenError(f"{path}: unknown file type; use .parquet, .jsonl or .txt")
            ds = datasets.load_dataset(kind, data_files={"train": str(path)})
        elif "/" in source and not source.startswith((".", "/")):
            ds = datasets.load_dataset(source)
        else:
            raise StorygenError(f"{source}: dataset not found; pass a folder, a file or a Hub id (org/name)")
    except StorygenError:
        raise
    except Exception as e:  # datasets raises many kinds; one line is what the user needs
        raise StorygenError(
            f"{source}: could not load the dataset ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        ) from None
    if "train" not in ds:
        raise StorygenError(f"{source}: no train split (found {', '.join(ds)})")
    for split, d in ds.items():
        if "text" not in d.column_names:
            raise StorygenError(
                f"{source}: split {split!r} has no 'text' column (columns: {', '.join(d.column_names)})"
            )
    return ds
