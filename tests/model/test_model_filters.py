"""The filters every generated sentence passes: one ordered list, one config, and the text measures under them."""

import pytest

from soulsgen_lib.model import filters
from soulsgen_lib.model.filters import FILTER_NAMES, FilterConfig, FilterContext, TextFilter, first_failure
from soulsgen_lib.model.novelty import NoveltyIndex
from soulsgen_lib.textcheck import TWEET_MAX_WEIGHT, balanced, ends_like_sentence, tweet_length


def test_tweet_length_follows_x_weighting():
    assert tweet_length("Ashen one.") == 10
    assert tweet_length("火の時代") == 8  # CJK weighs 2
    assert tweet_length("see https://example.com/a/very/long/path/indeed now") == len("see ") + 23 + len(" now")
    assert tweet_length("a" * 280) == TWEET_MAX_WEIGHT
    assert tweet_length("a" * 281) > TWEET_MAX_WEIGHT
    assert tweet_length("火" * 141) > TWEET_MAX_WEIGHT
    assert first_failure("") == "empty"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("The (old) lord’s ring.", True),
        ("“Hold fast,” said the knight.", True),
        ('He said "rest" and slept.', True),
        ("The (old lord.", False),
        ("A ring] of ash.", False),
        ('He said "rest and slept.', False),
        ("“Unclosed quote.", False),
    ],
)
def test_balanced(text, ok):
    assert balanced(text) is ok


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Too short.", "too_few_words"),
        ("The flame fades and the lords go", "no_sentence_end"),
        ("The flame fades and ## the lords go.", "bad_characters"),
        ("The flame fades and <unk> lords go.", "bad_characters"),
        ("The flame \ufffd fades and the lords go.", "bad_characters"),
        ("The flame (fades and the lords go.", "unbalanced"),
        ("word " * 70 + "end.", "too_many_words"),
        ("The flame fades, and the lords go…", None),
        ("“Seek the old lords,” whispered the crone.", None),
    ],
)
def test_corpus_free_filters(text, reason):
    assert first_failure(text) == reason


def test_ends_like_sentence_accepts_closing_quotes():
    assert ends_like_sentence("It is over.”")
    assert ends_like_sentence("Is it over?")
    assert not ends_like_sentence("It is over,")


def test_one_ordered_list_names_every_filter():
    assert FILTER_NAMES == (
        "empty",
        "too_few_words",
        "too_many_words",
        "too_long",
        "bad_characters",
        "unbalanced",
        "no_sentence_end",
        "repeated_word",
        "stacked_punctuation",
        "article",
        "copy",
        "near_copy",
        "duplicate",
    )


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("   ", "empty"),
        ("Too short.", "too_few_words"),
        ("word " * 41 + "end.", "too_many_words"),
        ("The flame fades and ## the lords go.", "bad_characters"),
        ("The flame (fades and the lords go.", "unbalanced"),
        ("The flame fades and the lords go", "no_sentence_end"),
        ("The bell rings the the bell again.", "repeated_word"),
        ("A cleaver of salt-cured linen,, hidden in the age of the tale.", "stacked_punctuation"),
        ("The bell rings, . and the keep falls.", "stacked_punctuation"),
        ("The bell rings, ... and the keep falls.", None),
        ("The old knight guards an broken lantern.", "article"),
        ("The moth sleeps in the cold lamp tonight!", "copy"),
        ("The moth sleeps in the cold lamp forever.", "near_copy"),
        ("A bell tolls for the moth tonight.", "duplicate"),
        ("A new bell tolls for the grey hound.", None),
    ],
)
def test_first_failure_names_the_first_filter_a_sentence_fails(text, name):
    corpus = NoveltyIndex.from_texts(["The moth sleeps in the cold lamp tonight.", "Nothing else here."])
    context = FilterContext(corpus, accepted={"A bell tolls for the moth tonight."})
    assert first_failure(text, FilterConfig(), context) == name


def test_limits_come_from_the_one_config():
    text = "The bell tolls far away from the tower."
    assert first_failure(text, FilterConfig(min_words=9)) == "too_few_words"
    assert first_failure(text, FilterConfig(max_words=5)) == "too_many_words"
    assert first_failure(text, FilterConfig(max_chars=20)) == "too_long"
    corpus = FilterContext(NoveltyIndex.from_texts(["The bell tolls far away from the sea."]))
    assert first_failure(text, FilterConfig(), corpus) == "near_copy"  # 6 of 8 words in one run
    assert first_failure(text, FilterConfig(near_copy_ratio=0.9), corpus) is None


def test_without_a_corpus_the_filters_that_need_one_are_skipped():
    # Posting checks a served sentence: no training corpus at hand, every other filter applies.
    assert first_failure("The old knight guards an broken lantern.") is None
    assert first_failure("The bell rings the the bell again.") == "repeated_word"
    assert first_failure("The bell rings the the bell again.") == "repeated_word"


def test_a_new_filter_is_one_entry_and_generation_applies_it(tiny_model_dir, monkeypatch):
    from soulsgen_lib.model.generate import GenerationRequest, Generator

    no_knights = TextFilter("knight", lambda text, config, context: "knight" not in text.casefold())
    monkeypatch.setattr(filters, "FILTERS", (*filters.FILTERS, no_knights))
    assert first_failure("The old knight sleeps beneath the tower.") == "knight"
    generator = Generator.load(tiny_model_dir, device="cpu")
    texts = [result.text for result in generator.generate([GenerationRequest(seed=s) for s in range(20)])]
    assert all(text and "knight" not in text.casefold() for text in texts)
    assert generator.stats.rejected["knight"] > 0


def test_the_markovify_baseline_runs_the_same_filters(model_corpus_dir):
    from soulsgen_lib.model.evaluate import markov_drafts

    train = (model_corpus_dir / "train.txt").read_text(encoding="utf-8").splitlines()
    corpus = NoveltyIndex.from_texts(train)
    drafts = markov_drafts(train, corpus, seed=0)(300, 0)
    problems = {problem for _, problem in drafts}
    assert problems <= {*FILTER_NAMES, None}
    assert "copy" in problems or "near_copy" in problems  # the corpus filters ran
    for text, problem in drafts:
        assert problem == first_failure(text, FilterConfig(), FilterContext(corpus))
