"""Keeping a decoder inside the pattern: before each token, mask every token whose characters
would leave it (and end-of-text unless the text so far may end). Masks are cached per state, so
after the first few words almost every step is a dictionary hit."""

from __future__ import annotations

from typing import Any

import torch

from storygen.constrain.pattern import Matcher, State


class TokenConstraint:
    def __init__(self, matcher: Matcher, tokenizer: Any, eot: int | None):
        self.matcher, self.eot = matcher, eot
        n = len(tokenizer)
        self.pieces: list[str | None] = []
        for i in range(n):
            text = tokenizer.decode([i])
            self.pieces.append(None if (i == eot or not text or "\ufffd" in text) else text)
        self._masks: dict[State, torch.Tensor] = {}
        self.by_first: dict[str, list[int]] = {}  # tokens grouped by their first character
        for i, piece in enumerate(self.pieces):
            if piece is not None:
                self.by_first.setdefault(piece[0], []).append(i)
        self.n = n

    def start(self, prefix_ids: list[int] | None = None) -> State:
        """The state to decode from, after the prompt's tokens (a prompt ending in a letter needs a
        separator first, or the first word would glue onto its last)."""
        tail = "".join(p for p in (self.pieces[i] for i in (prefix_ids or [])[-4:]) if p)
        return self.matcher.start_after(tail)

    def mask(self, state: State) -> torch.Tensor:
        """Bool (V,): tokens allowed in `state`."""
        cached = self._masks.get(state)
        if cached is None:
            m = self.matcher
            allowed = torch.zeros(self.n, dtype=torch.bool)
            # only tokens whose first character can follow this state are worth walking
            for first in self._next_chars(state):
                for i in self.by_first.get(first, ()):
                    if m.walk(state, self.pieces[i]):  # type: ignore[arg-type]
                        allowed[i] = True
            if self.eot is not None:
                allowed[self.eot] = m.can_end(state)
            cached = self._masks[state] = allowed
        return cached

    def _next_chars(self, state: State) -> set[str]:
        m = self.matcher
        chars: set[str] = set()
        for s in state:
            if s < 0 or m.terminal[s]:
                chars |= m.separators
            if s != m.AFTER_WORD:
                chars |= m.children[0 if s == m.BETWEEN else s].keys()
        return chars

    def advance(self, state: State, token: int) -> State:
        piece = self.pieces[token]
        if piece is None:
            return state
        nxt = self.matcher.walk(state, piece)
        assert nxt, "advance() with a token the mask did not allow"
        return nxt
