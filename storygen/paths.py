"""Where the bundled data lives: vocab/ and prompts/ sit beside the package in the repository."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VOCAB_DIR = PROJECT_ROOT / "vocab"
PROMPTS_DIR = PROJECT_ROOT / "prompts"
