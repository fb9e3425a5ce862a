"""The one error type a user sees: a one-line message, exit code 2, no traceback."""

from __future__ import annotations


class StorygenError(Exception):
    """Bad input or an unusable environment. The message says what is wrong, where, and what to do."""

    exit_code = 2
