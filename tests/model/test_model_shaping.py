"""The shape rules the decoder keeps: each rule rules out exactly the tokens its filter would reject."""

import dataclasses
import math

import pytest
import torch

from soulsgen_lib.model.generate import GenerationRequest, Generator
from soulsgen_lib.model.shaping import ShapeRules
from soulsgen_lib.model.tokenizer import train_tokenizer

SENTENCES = [
    "The ember fades in the old keep.",
    "An ember, a blade; and a (hidden) door... no more!",
    "“Seek the hollow king,” said she. Why? [Not yet.]",
    'He said "the end" twice: the end.',
    "It was an ember and a blade.",
]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(SENTENCES)


def allowed_after(rules: ShapeRules, tokenizer, text: str) -> set[str]:
    """The tokens rules allow after a row that wrote `text`."""
    state = rules.start(1)
    for token_id in tokenizer.encode(text):
        rules.advance(state, torch.tensor([0]), torch.tensor([token_id]))
    logits = torch.zeros(1, tokenizer.vocab_size)
    rules.restrict(logits, state, torch.tensor([0]))
    return {tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size) if logits[0, i] > -math.inf}


def test_the_end_comes_only_after_enough_words_a_final_mark_and_closed_brackets(tokenizer):
    rules = ShapeRules(tokenizer, min_words=4)
    assert "</s>" not in allowed_after(rules, tokenizer, "The ember fades.")  # three words
    assert "</s>" in allowed_after(rules, tokenizer, "The ember fades in the keep.")
    assert "</s>" in allowed_after(rules, tokenizer, "“Seek the hollow king.”")  # closing quote after the stop
    assert "</s>" in allowed_after(rules, tokenizer, "The ember fades in the keep...")
    assert "</s>" not in allowed_after(rules, tokenizer, "The ember fades in the keep")  # no final mark
    assert "</s>" not in allowed_after(rules, tokenizer, "The ember (fades in the keep.")  # ( still open
    assert "</s>" not in allowed_after(rules, tokenizer, 'He said "the ember fades.')  # " still open
    assert "</s>" in allowed_after(rules, tokenizer, 'He said "the ember fades."')


def test_a_closing_bracket_or_quote_needs_its_opener(tokenizer):
    rules = ShapeRules(tokenizer, min_words=4)
    after_plain = allowed_after(rules, tokenizer, "The ember")
    assert not {")", "]", "”"} & after_plain
    assert ")" in allowed_after(rules, tokenizer, "The (ember")
    assert "]" in allowed_after(rules, tokenizer, "The [ember")
    assert ")" not in allowed_after(rules, tokenizer, "The (ember) fades")


def test_no_mark_after_a_comma_but_an_ellipsis(tokenizer):
    rules = ShapeRules(tokenizer, min_words=4)
    after_comma = allowed_after(rules, tokenizer, "An ember,")
    assert not {",", ".", ";", ":", "!", "?"} & after_comma
    assert {"...", "and", "a"} <= after_comma


def test_the_word_just_written_is_not_written_again_in_any_case(tokenizer):
    rules = ShapeRules(tokenizer, min_words=4)
    after_the = allowed_after(rules, tokenizer, "Why the")
    assert "the" not in after_the and "The" not in after_the
    assert "ember" in after_the


def test_an_article_is_followed_only_by_words_it_fits(tokenizer):
    rules = ShapeRules(tokenizer, min_words=4)
    after_a = allowed_after(rules, tokenizer, "He said a")
    after_an = allowed_after(rules, tokenizer, "He said an")
    assert "ember" not in after_a and "blade" in after_a
    assert "ember" in after_an and "blade" not in after_an and "hollow" not in after_an


def test_a_corpus_pair_overrides_the_article_rule(tokenizer):
    rules = ShapeRules(tokenizer, min_words=4, corpus_pairs={("an", "blade")})
    assert "blade" in allowed_after(rules, tokenizer, "He said an")


def test_a_row_may_not_replay_a_run_of_training_words(tokenizer):
    corpus = [("the", "ember", "fades", "in", "the", "old", "keep")]
    rules = ShapeRules(tokenizer, min_words=4, corpus_sentences=corpus, max_shared_run=4)
    assert "in" not in allowed_after(rules, tokenizer, "Why? The ember fades")  # would make "the ember fades in"
    assert "in" not in allowed_after(rules, tokenizer, "Why? The ember, fades")  # punctuation aside, as novelty
    assert "in" in allowed_after(rules, tokenizer, "An ember fades")  # "an ember fades" is no corpus run
    assert "ember" in allowed_after(rules, tokenizer, "It was the")  # shorter runs stay free
    whole_runs = ShapeRules(tokenizer, min_words=4, corpus_sentences=corpus, max_shared_run=0)
    assert "in" in allowed_after(whole_runs, tokenizer, "Why? The ember fades")  # 0: the rule is off


def test_a_row_the_rules_leave_nothing_may_end(tokenizer):
    rules = ShapeRules(tokenizer, min_words=4)
    state = rules.start(2)
    logits = torch.zeros(2, tokenizer.vocab_size)
    logits[0] = -math.inf  # as a word constraint might leave a row
    rules.restrict(logits, state, torch.tensor([0, 1]))
    assert logits[0, tokenizer.eos_id] == 0.0
    assert logits[1, tokenizer.eos_id] == -math.inf  # nothing written yet: it may not end


def test_sub_word_tokenizers_get_the_shape_rules_but_not_the_whole_word_ones():
    tokenizer = train_tokenizer(SENTENCES * 5, kind="subword", max_vocab=60)
    rules = ShapeRules(tokenizer, min_words=4)
    assert rules.case_variants is None and rules.misfits is None
    assert "</s>" not in allowed_after(rules, tokenizer, "The ember.")


def test_shaped_drafts_never_fail_the_shape_filters(tiny_model_dir):
    generator = Generator.load(tiny_model_dir)
    # One hot temperature for every token: the cool word-class choice would hide the slips shaping prevents.
    generator.defaults = dataclasses.replace(generator.defaults, class_temperature=0.0)
    requests = [GenerationRequest(seed=s, temperature=1.5) for s in range(300)]
    shaped = [c.problem for c in generator.draft(requests)]
    generator.defaults = dataclasses.replace(generator.defaults, shaped=False)
    unshaped = [c.problem for c in generator.draft(requests)]
    shape_filters = {"too_few_words", "no_sentence_end", "unbalanced", "repeated_word", "stacked_punctuation"}
    assert not shape_filters & set(shaped)
    assert shape_filters & set(unshaped)  # the hot, tiny model slips without them
    assert shaped.count(None) > unshaped.count(None)
