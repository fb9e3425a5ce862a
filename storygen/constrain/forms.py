"""Every word form a constrained story may contain, built from vocab/.

content      the nouns, verbs and adjectives with their inflections (lemminflect: go -> went, gone,
             going, goes; cat -> cats; big -> bigger, biggest)
closed       closed-class words, number words
names        character names
possessive   noun and name possessives: dog's, dogs', Lily's
contraction  contractions of allowed words: don't, can't, I'm, it's, let's, ...
capitalised  every form above with a capital first letter, for sentence starts (and "I")
"""

from __future__ import annotations

from storygen.clean.lexicon import NUMBER_WORDS
from storygen.vocab import CONTENT_FILES, Vocabulary

# contraction -> the allowed words it stands for
CONTRACTIONS = {
    "don't": ("do", "not"), "doesn't": ("do", "not"), "didn't": ("do", "not"), "can't": ("can", "not"),
    "couldn't": ("could", "not"), "won't": ("will", "not"), "wouldn't": ("would", "not"),
    "shouldn't": ("should", "not"), "isn't": ("is", "not"), "aren't": ("are", "not"), "wasn't": ("was", "not"),
    "weren't": ("were", "not"), "haven't": ("have", "not"), "hasn't": ("has", "not"), "hadn't": ("had", "not"),
    "i'm": ("i", "am"), "i'll": ("i", "will"), "i've": ("i", "have"), "i'd": ("i", "would"),
    "you're": ("you", "are"), "you'll": ("you", "will"), "you've": ("you", "have"), "we're": ("we", "are"),
    "we'll": ("we", "will"), "they're": ("they", "are"), "they'll": ("they", "will"), "he's": ("he", "is"),
    "she's": ("she", "is"), "it's": ("it", "is"), "that's": ("that", "is"), "there's": ("there", "is"),
    "what's": ("what", "is"), "let's": ("let", "us"), "who's": ("who", "is"), "here's": ("here", "is"),
}  # fmt: skip


def inflections(word: str, upos: str) -> set[str]:
    from lemminflect import getAllInflections

    forms = {word}
    for values in getAllInflections(word, upos=upos).values():
        forms.update(values)
    return forms


def allowed_forms(vocab: Vocabulary) -> dict[str, set[str]]:
    """Forms by category; their union is what a constrained story may use."""
    lists = {"nouns": vocab.nouns, "verbs": vocab.verbs, "adjectives": vocab.adjectives}
    content: set[str] = set()
    nouns: set[str] = set()
    for name, upos in CONTENT_FILES.items():
        for word in lists[name]:
            forms = inflections(word, upos)
            content |= forms
            if upos == "NOUN":
                nouns |= forms
    closed = set(vocab.closed_class) | set(NUMBER_WORDS)
    names = set(vocab.names)
    possessive = {f"{w}'s" for w in nouns | names if not w.endswith("s")} | {f"{w}'" for w in nouns if w.endswith("s")}
    known = content | closed
    contraction = {c for c, parts in CONTRACTIONS.items() if all(p in known for p in parts)}
    lower = content | closed | possessive | contraction
    capitalised = {w[:1].upper() + w[1:] for w in lower} | {"I"}
    return {
        "content": content, "closed": closed, "names": names, "possessive": possessive,
        "contraction": contraction, "capitalised": capitalised - lower,
    }  # fmt: skip


def all_forms(vocab: Vocabulary) -> set[str]:
    out: set[str] = set()
    for forms in allowed_forms(vocab).values():
        out |= forms
    return out
