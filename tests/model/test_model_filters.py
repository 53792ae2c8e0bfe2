import pytest

from soulsgen_lib.textcheck import TWEET_MAX_WEIGHT, balanced, ends_like_sentence, shape_problem, tweet_length


def test_tweet_length_follows_x_weighting():
    assert tweet_length("Ashen one.") == 10
    assert tweet_length("火の時代") == 8  # CJK weighs 2
    assert tweet_length("see https://example.com/a/very/long/path/indeed now") == len("see ") + 23 + len(" now")
    assert tweet_length("a" * 280) == TWEET_MAX_WEIGHT
    assert tweet_length("a" * 281) > TWEET_MAX_WEIGHT
    assert tweet_length("火" * 141) > TWEET_MAX_WEIGHT
    assert shape_problem("") == "empty"


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
def test_shape_problem(text, reason):
    assert shape_problem(text) == reason


def test_ends_like_sentence_accepts_closing_quotes():
    assert ends_like_sentence("It is over.”")
    assert ends_like_sentence("Is it over?")
    assert not ends_like_sentence("It is over,")
