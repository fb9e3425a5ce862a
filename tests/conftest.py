from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from storygen.paths import PROMPTS_DIR, VOCAB_DIR


@pytest.fixture
def vocab_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled vocab/ to break on purpose."""
    dst = tmp_path / "vocab"
    shutil.copytree(VOCAB_DIR, dst)
    return dst


@pytest.fixture
def prompts_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, dst)
    return dst
