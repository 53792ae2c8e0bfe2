import pytest

from soulsgen_lib.gametext import clean


@pytest.mark.parametrize("text", [None, "%null%", "no_text", "No Text", "none text", "(dummyText)", "", "  \r\n\t "])
def test_null_markers_are_counted_and_removed(text):
    counts = clean.RuleCounts()
    assert clean.clean_entry(text, counts) is None
    assert counts.entries[clean.NULL_MARKER] == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('A <font color="#ff8800">pale</font> blade.', "A pale blade."),
        ("Press <?keyIcon@31?> to read.", "Press to read."),
        ("#cC8A060Ashen ember.", "Ashen ember."),
        ("An &lt;font&gt;escaped&lt;/font&gt; tag.", "An escaped tag."),
        ("Tab\tseparated words.", "Tab separated words."),
        ("A line broken\nin the middle.", "A line broken in the middle."),
    ],
)
def test_markup_rules(raw, expected):
    counts = clean.RuleCounts()
    assert clean.clean_entry(raw, counts) == expected


def test_markup_is_counted_and_comparisons_survive():
    counts = clean.RuleCounts()
    assert (
        clean.clean_entry("When x < 3 and y > 2, #cold wind blows.", counts)
        == "When x < 3 and y > 2, #cold wind blows."
    )
    assert counts.edits[clean.MARKUP] == 0
    clean.clean_entry("<font>a</font> b c.", counts)
    assert counts.edits[clean.MARKUP] == 1


def test_label_lines_are_removed_case_insensitively_but_other_colons_stay():
    counts = clean.RuleCounts()
    text = "A spear of the fen.\n\nWeapon type: Spear\nATTACK TYPE: Thrust\nskill: Charge\nHe said: run."
    assert clean.clean_entry(text, counts) == "A spear of the fen.\nHe said: run."
    assert counts.edits[clean.LABEL_LINE] == 1


def test_entry_ending_in_punctuation_and_newline_is_kept():
    counts = clean.RuleCounts()
    assert clean.clean_entry("The flame fades.\r\n", counts) == "The flame fades."
    assert not counts.entries


@pytest.mark.parametrize(
    ("name", "expected", "rule"),
    [
        ("Flask of Embers +2", "Flask of Embers", clean.UPGRADE_SUFFIX),
        ("Dagger+15", "Dagger", clean.UPGRADE_SUFFIX),
        ("Dagger+10", "Dagger", clean.UPGRADE_SUFFIX),
        ("Sorcery: Pale Lance", "Pale Lance", clean.SCROLL_PREFIX),
        ("Hex: Dark Orb", "Dark Orb", clean.SCROLL_PREFIX),
        ("Miracle: Warm Chorus", "Warm Chorus", clean.SCROLL_PREFIX),
        ("Pyromancy: Ember Whip", "Ember Whip", clean.SCROLL_PREFIX),
    ],
)
def test_name_normalisation(name, expected, rule):
    counts = clean.RuleCounts()
    assert clean.normalise_name(name, counts) == expected
    assert counts.edits[rule] == 1


def test_sentences_keep_ellipses_quotes_and_archaic_forms():
    text = 'Ahh... thou hath returned. "Lord of Cinder," he said, "rise!" Is that so? Yes.'
    assert clean.split_sentences(text) == [
        "Ahh... thou hath returned.",
        '"Lord of Cinder," he said, "rise!"',
        "Is that so?",
        "Yes.",
    ]


def test_title_abbreviations_end_no_sentence():
    text = "Found on Mt. Gelmir. A gift of St. Trina, kept by Mrs. Vale. Then Dr. Ash left."
    assert clean.split_sentences(text) == [
        "Found on Mt. Gelmir.",
        "A gift of St. Trina, kept by Mrs. Vale.",
        "Then Dr. Ash left.",
    ]
    assert clean.split_sentences("The mist. Storm on the way.") == ["The mist.", "Storm on the way."]


def test_paragraphs_split_sentences():
    assert clean.split_sentences("One two three.\nFour five six") == ["One two three.", "Four five six"]


def test_other_scripts_are_detected():
    assert clean.in_other_script("ダミーテキスト")
    assert clean.in_other_script("Placeholder 武器")
    assert not clean.in_other_script("Ashen one… “the flame” fades — naïve café.")


def test_dialogue_fragments_are_joined_with_the_next_entry():
    counts = clean.RuleCounts()
    entries = [([1], "And in this land,"), ([2], "the wardens keep watch."), ([3], "Farewell."), ([5000], "But")]
    joined = clean.join_dialogue(entries, counts, max_gap=100)
    assert joined == [([1, 2], "And in this land, the wardens keep watch."), ([3], "Farewell."), ([5000], "But")]
    assert counts.edits[clean.DIALOGUE_JOIN] == 1


def test_ellipsis_followed_by_lowercase_continues_the_line():
    joined = clean.join_dialogue([([1], "I wonder..."), ([2], "where they went.")], clean.RuleCounts())
    assert joined == [([1, 2], "I wonder... where they went.")]
