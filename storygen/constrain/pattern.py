"""The constraint over characters: allowed words, with at least one separator between two words
(otherwise two allowed words could glue into one that is not: "sun" + "day"). Separators are
whitespace (paragraph breaks included) and punctuation, dialogue quotes among them.

`regex(forms)` is the pattern for vLLM's structured outputs; `Matcher` is the same language as a
character trie, used to check text and to mask tokens during decoding on CPU.
"""

from __future__ import annotations

import re

SEPARATORS = " \n\t.,!?;:\"'()-“”‘’—…"


def regex(forms: set[str]) -> str:
    """SEP* (WORD (SEP+ WORD)*)? SEP*, words longest first."""
    words = "|".join(re.escape(w) for w in sorted(forms, key=lambda w: (-len(w), w)))
    sep = "[" + re.escape(SEPARATORS) + "]"
    return f"{sep}*(?:(?:{words})(?:{sep}+(?:{words}))*)?{sep}*"


State = frozenset[int]


class Matcher:
    """A trie of the forms, read as an automaton. One position can be read two ways: the apostrophe
    is a separator (a quote) and a letter of words such as "Who's", so a state is the set of trie
    positions still possible, with -1 meaning "between words" and -2 "right after text that ends in
    a letter" (a prompt's last word: a separator must come before the next word)."""

    BETWEEN = -1
    AFTER_WORD = -2

    def __init__(self, forms: set[str]):
        self.children: list[dict[str, int]] = [{}]
        self.terminal: list[bool] = [False]
        for word in forms:
            node = 0
            for ch in word:
                nxt = self.children[node].get(ch)
                if nxt is None:
                    nxt = len(self.children)
                    self.children[node][ch] = nxt
                    self.children.append({})
                    self.terminal.append(False)
                node = nxt
            self.terminal[node] = True
        self.separators = frozenset(SEPARATORS)
        self.start: State = frozenset({self.BETWEEN})
        self._steps: dict[tuple[State, str], State] = {}
        self._next: dict[State, frozenset[str]] = {}

    def step(self, state: State, ch: str) -> State:
        """The states after `ch`; empty if `ch` leaves the language. Memoised: decoding revisits
        the same few thousand states."""
        key = (state, ch)
        out = self._steps.get(key)
        if out is None:
            out = self._steps[key] = self._step(state, ch)
        return out

    def _step(self, state: State, ch: str) -> State:
        out = set()
        for s in state:
            if ch in self.separators and (s < 0 or self.terminal[s]):
                out.add(self.BETWEEN)
            if s == self.AFTER_WORD:
                continue
            child = self.children[0 if s == self.BETWEEN else s].get(ch)
            if child is not None:
                out.add(child)
        return frozenset(out)

    def next_chars(self, state: State) -> frozenset[str]:
        """The characters that `state` can read (memoised)."""
        chars = self._next.get(state)
        if chars is None:
            found: set[str] = set()
            for s in state:
                if s < 0 or self.terminal[s]:
                    found |= self.separators
                if s != self.AFTER_WORD:
                    found |= self.children[0 if s == self.BETWEEN else s].keys()
            chars = self._next[state] = frozenset(found)
        return chars

    def walk(self, state: State, text: str) -> State:
        for ch in text:
            state = self.step(state, ch)
            if not state:
                break
        return state

    def can_end(self, state: State) -> bool:
        return any(s < 0 or self.terminal[s] for s in state)

    def start_after(self, prefix: str) -> State:
        """The state to continue `prefix` from (its own words are not checked)."""
        if prefix and prefix[-1] not in self.separators:
            return frozenset({self.AFTER_WORD})
        return self.start

    def accepts(self, text: str) -> bool:
        return self.can_end(self.walk(self.start, text))
