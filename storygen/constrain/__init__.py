"""Vocabulary-constrained decoding: the set of allowed word forms, the character-level pattern
they make, and a token mask that keeps a decoder inside it."""
