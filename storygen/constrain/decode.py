"""Keeping a decoder inside the pattern: before each token, mask every token whose characters would
leave it (and end-of-text unless the text so far may end).

The allowed tokens of a state are found by walking a trie of the tokenizer's pieces alongside the
word automaton, so a branch is dropped at its first impossible character (inside a word, only the
few tokens that continue it are visited), and the part after a separator is shared by all states.
They are cached per state as an index tensor (small: a median state allows a dozen tokens), together
with the state each token leads to. The sampler then draws among those tokens only, so a step in a
state seen before costs two dictionary hits and one small gather, and sampling from a dozen logits
is cheaper than from the whole vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from storygen.constrain.pattern import Matcher, State


@dataclass
class _Allowed:
    ids: torch.Tensor  # int64: the tokens allowed (end-of-text excluded)
    ids_with_end: torch.Tensor  # the same plus end-of-text when the text may end here
    next: dict[int, State] = field(default_factory=dict)  # token -> the state it leads to


class _PieceTrie:
    """The tokenizer's pieces as a character trie: node -> {char: child}, node -> tokens ending there."""

    def __init__(self, pieces: list[str | None]):
        self.children: list[dict[str, int]] = [{}]
        self.tokens: list[list[int]] = [[]]
        for token, piece in enumerate(pieces):
            if piece is None:
                continue
            node = 0
            for ch in piece:
                nxt = self.children[node].get(ch)
                if nxt is None:
                    nxt = self.children[node][ch] = len(self.children)
                    self.children.append({})
                    self.tokens.append([])
                node = nxt
            self.tokens[node].append(token)


class TokenConstraint:
    def __init__(self, matcher: Matcher, tokenizer: Any, eot: int | None):
        self.matcher, self.eot = matcher, eot
        self.n = len(tokenizer)
        self.pieces: list[str | None] = []
        for i in range(self.n):
            text = tokenizer.decode([i])
            self.pieces.append(None if (i == eot or not text or "\ufffd" in text) else text)
        self.has_letter = [p is not None and any(ch.isalpha() for ch in p) for p in self.pieces]
        self._trie = _PieceTrie(self.pieces)
        self._allowed: dict[State, _Allowed] = {}
        self._canon: dict[State, State] = {}  # one object per state, so its hash is computed once
        self._below_between: dict[int, list[int]] = {}

    def start(self, prefix_ids: list[int] | None = None) -> State:
        """The state to decode from, after the prompt's tokens (a prompt ending in a letter needs a
        separator first, or the first word would glue onto its last)."""
        tail = "".join(p for p in (self.pieces[i] for i in (prefix_ids or [])[-4:]) if p)
        return self._intern(self.matcher.start_after(tail))

    def allowed(self, state: State, allow_end: bool = True) -> torch.Tensor:
        """Int64 ids of the tokens allowed in `state` (end-of-text only if `allow_end` and the text
        may end here); empty when none is."""
        a = self._allowed_in(state)
        return a.ids_with_end if allow_end else a.ids

    def can_end(self, state: State) -> bool:
        return self.matcher.can_end(state)

    def advance(self, state: State, token: int) -> State:
        a = self._allowed_in(state)
        nxt = a.next.get(token)
        if nxt is None:
            piece = self.pieces[token]
            if piece is None:
                return state
            nxt = self.matcher.walk(state, piece)
            assert nxt, "advance() with a token the mask did not allow"
            nxt = a.next[token] = self._intern(nxt)
        return nxt

    def _intern(self, state: State) -> State:
        return self._canon.setdefault(state, state)

    def _allowed_in(self, state: State) -> _Allowed:
        a = self._allowed.get(state)
        if a is None:
            ids = sorted(self._below(0, state))
            with_end = sorted([*ids, self.eot]) if self.eot is not None and self.matcher.can_end(state) else ids
            a = self._allowed[self._intern(state)] = _Allowed(torch.tensor(ids, dtype=torch.long),
                                                               torch.tensor(with_end, dtype=torch.long))  # fmt: skip
        return a

    def _below(self, node: int, state: State) -> list[int]:
        """Tokens in the piece trie below `node` whose remaining characters can be read from `state`.
        Every word ends in a separator, after which the state is "between words" whatever came
        before, so that case is computed once per piece-trie node and shared."""
        between = state == self.matcher.start
        if between and node in self._below_between:
            return self._below_between[node]
        ids: list[int] = []
        children = self._trie.children[node]
        for ch in self.matcher.next_chars(state):  # inside a word: a handful, not the whole alphabet
            child = children.get(ch)
            if child is not None:
                ids.extend(self._trie.tokens[child])
                ids.extend(self._below(child, self.matcher.step(state, ch)))
        if between:
            self._below_between[node] = ids
        return ids
