from __future__ import annotations

import pytest

from storygen.clean.checks import analyse, run_checks
from storygen.clean.lexicon import Lexicon, lemmas_of, strip_clitic
from storygen.clean.split import tokens
from storygen.config import CleanConfig
from storygen.paths import VOCAB_DIR
from storygen.records import Prompt, Story, Words
from storygen.vocab import load_vocabulary

LEX = Lexicon(load_vocabulary(VOCAB_DIR))
CFG = CleanConfig(min_words=10)
FRENCH = "Il était une fois un petit chien qui aimait courir dans le parc avec ses amis tous les jours. " * 2
GOOD = (
    "Once upon a time, there was a little dog named Max. Max liked to run in the park.\n\n"
    'One day, Max saw a big red ball. "Can I play with it?" he asked. His friend said, "Yes!"\n\n'
    "They played all day and were very happy."
)


def story(
    text: str = GOOD, verb: str = "run", noun: str = "ball", adjective: str = "big", features=("dialogue",), **kw
) -> Story:
    words = Words(verb=verb, noun=noun, adjective=adjective)
    prompt = Prompt(
        id="p", index=0, seed=0, template="default", vocab_version="v", words=words, features=list(features), text="p"
    )
    return Story(id="s", text=text, prompt=prompt, **kw)


def reasons(s: Story, cfg: CleanConfig = CFG) -> list[str]:
    return run_checks(analyse(s, LEX), cfg, LEX)


def test_a_good_story_passes_and_gets_scores():
    doc = analyse(story(), LEX)
    assert run_checks(doc, CFG, LEX) == []
    assert doc.scores["vocab_compliance"] == 1.0 and doc.scores["words"] == len(tokens(GOOD))
    assert 0 < doc.scores["reading_age"] < 8 and doc.scores["mean_zipf"] > 5


@pytest.mark.parametrize(
    ("text_word", "base"),
    [("decorated", "decorate"), ("decorating", "decorate"), ("cats", "cat"), ("bigger", "big"), ("biggest", "big"),
     ("went", "go"), ("ran", "run"), ("mice", "mouse"), ("children", "child"), ("flew", "fly"), ("happily", "happy")],
)  # fmt: skip
def test_required_words_in_any_inflection(text_word, base):
    assert LEX.uses({text_word}, base)


def test_missing_words_are_named():
    s = story(verb="decorate", noun="cat", adjective="tiny")
    assert set(reasons(s)) >= {"missing_verb", "missing_noun", "missing_adjective"}
    s = story(text=GOOD.replace("run", "ran").replace("ball", "balls"))
    assert "missing_verb" not in reasons(s) and "missing_noun" not in reasons(s)


def test_checks_needing_the_prompt_are_skipped_without_it():
    s = Story(id="x", text=GOOD.replace('"', ""))
    assert reasons(s) == []


def test_clitics_and_names():
    assert strip_clitic("don't") == "do" and strip_clitic("lily's") == "lily" and strip_clitic("can't") == "can"
    assert LEX.allowed_token("Lily's") and LEX.allowed_token("don't") and LEX.allowed_token("I'm")
    assert LEX.allowed_token("7") and not LEX.allowed_token("photosynthesis")
    assert "go" in lemmas_of("went")


def test_vocabulary_compliance_threshold():
    hard = GOOD + " Nevertheless, the ostentatious philosopher contemplated ephemeral epistemology incessantly."
    doc = analyse(story(text=hard), LEX)
    assert doc.scores["vocab_compliance"] < 0.95
    assert "low_vocab_compliance" in run_checks(doc, CleanConfig(min_words=10, vocab_threshold=0.95), LEX)
    assert "low_vocab_compliance" not in run_checks(doc, CleanConfig(min_words=10, vocab_threshold=0), LEX)


@pytest.mark.parametrize(
    ("text", "finish", "reason"),
    [
        (GOOD.replace('"', ""), "stop", "no_dialogue"),
        (GOOD[:-1] + " and then they", "stop", "truncated"),
        (GOOD, "length", "truncated"),
        ("As an AI language model, I cannot write that. " + GOOD, "stop", "refusal"),
        ("I'm sorry, but I cannot help with that.", "stop", "refusal"),
        ("I am unable to write stories about that. " + GOOD, "stop", "refusal"),
        (GOOD + " I won't be able to write more.", "stop", "refusal"),
        (GOOD + "\n\nI hope you enjoy this story!", "stop", "meta_text"),
        (GOOD + "\n\nWord count: 120", "stop", "meta_text"),
        (GOOD + " This story uses the verb run.", "stop", "meta_text"),
        (GOOD + " The **big** dog.", "stop", "markup"),
        (GOOD + " The <b>big</b> dog.", "stop", "markup"),
        (GOOD + " The dog @ home.", "stop", "unexpected_chars"),
        (GOOD + " The dog\x07 ran.", "stop", "bad_encoding"),
        ("Here is a short story about a dog:\n\n" + GOOD, "stop", "meta_text"),
        ("## The Dog\n\n" + GOOD, "stop", "markup"),
        ("- one\n- two\n" + GOOD, "stop", "markup"),
        (GOOD + " He didnâ€™t stop.", "stop", "bad_encoding"),
        (GOOD + " 🐶", "stop", "unexpected_chars"),
        (FRENCH, "stop", "not_english"),
        ("The dog ran.", "stop", "too_short"),
        ("", "stop", "empty"),
    ],
)  # fmt: skip
def test_each_check_flags_its_problem(text, finish, reason):
    assert reason in reasons(story(text=text, finish_reason=finish))


def test_ordinary_stories_are_not_refusals_or_meta():
    text = GOOD + ' "I can help," said Tom. "I am sorry," said Sue. "Let me know when you come back."'
    assert not {"refusal", "meta_text", "markup", "unexpected_chars"} & set(reasons(story(text=text)))


def test_word_hints_skip_no_refusal_meta_text_or_markup():
    """The hint words only decide which regex scans run: the result equals scanning every story."""
    import random

    from storygen.clean import checks

    def scanned(text: str) -> list[str]:  # the check without any prefilter
        low, reasons = text.lower(), []
        if checks._REFUSAL.search(low):
            reasons.append("refusal")
        if checks._META_ANYWHERE.search(low) or checks._META_START.search("\n" + low):
            reasons.append("meta_text")
        if checks._MARKUP_INLINE.search(text) or checks._MARKUP_LINE.search("\n" + text):
            reasons.append("markup")
        return reasons

    pieces = [
        "As an AI", "as an ai's", "as a language model", "I'm sorry, but", "I am sorry but", "I cannot write",
        "I can't help", "i can’t create", "I'm unable to", "I won't be able to", "I hope you enjoy", "I hope you like",
        "outlet me know if", "let me know if", "Word count :", "This story has the words", "this story uses the noun",
        "Sure!", "Certainly.", "Of course,", "Title:", "Story :", "Here's a story", "here is your short story",
        "The Dog", "ran", "'", '"', "\n", "\n  ", " ", ",", ".", "AI", "ai", "Sorry", "KNOW", "\u212anow",
        "1.", "12)", "'3.", "-", "* ", "+", "#", "## ", "**big**", "__x__", "<b>", "```", "> ", "•", "٣.", "x2.",
    ]  # fmt: skip
    rng = random.Random(1)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) + rng.choice(["", " ", "\n", "-", "'"]) for _ in range(rng.randint(1, 8)))
        assert [r for r in reasons(story(text=text)) if r in ("refusal", "meta_text", "markup")] == scanned(text), text


def test_fast_sentence_counts_equal_the_regex_count():
    import random

    from storygen.clean.readability import sentence_count, sentence_counts

    rng = random.Random(0)
    alphabet = [*"ab .!?\"')\n\t\x0b\x1c", "’", "”", "“", "\u00a0", "\u3000", "\u0085", "é", "日", "\0"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(5000)]
    ascii_texts = [t for t in texts if t.isascii()]
    for batch in (texts, ascii_texts, [t for t in texts if "\0" not in t], [""], ["’."], texts[:1]):
        assert sentence_counts(batch).tolist() == [sentence_count(t) for t in batch]


def test_too_long_and_too_many_paragraphs():
    assert "too_long" in reasons(story(), CleanConfig(min_words=1, max_words=10))
    assert "too_many_paragraphs" in reasons(story(), CleanConfig(min_words=1, max_paragraphs=2))


def test_default_threshold_separates_simple_from_hard_stories():
    """tests/data/style_sample.jsonl: hand-written stories in TinyStories' style and stories that drift into
    hard words. The default threshold must accept every simple one and flag every hard one."""
    import json

    from storygen.paths import PROJECT_ROOT

    cfg = CleanConfig()
    for line in (PROJECT_ROOT / "tests/data/style_sample.jsonl").read_text().splitlines():
        rec = json.loads(line)
        doc = analyse(Story(id=rec["id"], text=rec["text"]), LEX)
        flagged = "low_vocab_compliance" in run_checks(doc, cfg, LEX)
        assert flagged == (rec["kind"] == "hard"), (rec["id"], doc.scores["vocab_compliance"])


def test_unexpected_characters_equal_the_regex_for_a_batch():
    import random

    from storygen.clean.checks import _UNEXPECTED, unexpected_chars

    rng = random.Random(2)
    alphabet = [*"aZ9 .,!?;:'\"()-\n\t\r#*_<>`+", "“", "”", "‘", "’", "–", "—", "…", "•", "é", "â€", "\0", "\x07", "日"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25))) for _ in range(2000)]
    for batch in (texts, [t for t in texts if "\0" not in t], [t for t in texts if t.isascii() and "\0" not in t]):
        assert unexpected_chars(batch) == ["".join(_UNEXPECTED.findall(t)) for t in batch]
