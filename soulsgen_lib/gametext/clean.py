"""Cleaning rules for game text. Each rule has a name and a counter, so a build can say what it removed and why."""

from __future__ import annotations

import functools
import html
import re
from collections import defaultdict
from dataclasses import dataclass, field

# Rule names, as they appear in the corpus manifest.
NULL_MARKER = "null_marker"
MARKUP = "markup"
LABEL_LINE = "label_line"
EMPTY_AFTER_CLEANING = "empty_after_cleaning"
UPGRADE_SUFFIX = "upgrade_suffix"
SCROLL_PREFIX = "scroll_prefix"
IDENTICAL_VARIANT = "identical_variant"
DIALOGUE_JOIN = "dialogue_join"
OTHER_SCRIPT = "other_script"
TOO_SHORT = "too_short"
FRAGMENT = "fragment"
BOILERPLATE = "boilerplate"
HELD_OUT_DUPLICATE = "held_out_duplicate"  # a test entry's sentence that other entries hold too
EXCLUDED_TABLE = "excluded_table"

NULL_MARKERS = frozenset({"%null%", "no_text", "no text", "none text", "(dummytext)", "dummytext"})

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_PLACEHOLDER = re.compile(r"<\?[^<>]*?\?>")
_COLOUR_CODE = re.compile(r"#[cC](?:[0-9A-Fa-f]{6}|(?![0-9A-Za-z]))")
_BLANK_LINES = re.compile(r"\n\s*\n")
_LABELS = (
    "weapon type|attack type|skill|skill name|spell type|magic type|catalyst|category|type|effect|"
    "attunement slots|slots used|slots|fp cost|fp|mp|stamina cost|durability|weight|requirements?|"
    "required attributes|scaling|damage type|guard|bonus|uses|cost|price|upgrade|infusion|stat|stats"
)
_LABEL_LINE = re.compile(rf"^\s*(?:{_LABELS})\s*[:：]", re.IGNORECASE)
_UPGRADE = re.compile(r"\s*\+\s*\d+$")
_SCROLL = re.compile(r"^(?:Sorcery|Miracle|Pyromancy|Hex|Incantation)\s*:\s*", re.IGNORECASE)
# A sentence ends at `.`, `!` or `?` (not inside an ellipsis, which the games use as a pause), then space and a
# capital, possibly behind closing quotes. The pattern starts with one character class (not an alternation) so
# the regex engine can skip ahead to candidate characters: four times faster. A title's abbreviation
# ("Mt. Gelmir", "St. Trina") ends no sentence: Elden Ring's text had 26 cut in two.
_BOUNDARY = re.compile(r"[.!?](?<!\.\.)(?<!\b(?:Mt|St|Mr|Ms|Dr)\.)(?<!\bMrs\.)[\"'”’)\]]*(?=\s+[\"“‘(\[]?[A-Z])")
_SENTENCE_END = re.compile(r"(?:[.!?…])[\"'”’)\]]*$")
_OTHER_SCRIPT = re.compile(
    r"[\u0370-\u03ff\u0400-\u04ff\u0590-\u08ff\u0e00-\u0e7f\u1100-\u11ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"
    r"\uff01-\uffef]"
)


_zero_counts = functools.partial(defaultdict, int)  # built in C: one of these is made per distinct entry text


@dataclass
class RuleCounts:
    """How many entries and sentences each rule removed, and how many entries it edited."""

    entries: defaultdict[str, int] = field(default_factory=_zero_counts)
    sentences: defaultdict[str, int] = field(default_factory=_zero_counts)
    edits: defaultdict[str, int] = field(default_factory=_zero_counts)

    def add(self, other: RuleCounts) -> None:
        for mine, theirs in zip(self._tallies(), other._tallies(), strict=True):
            for rule, count in theirs.items():
                mine[rule] += count

    def _tallies(self) -> tuple[defaultdict[str, int], ...]:
        return self.entries, self.sentences, self.edits

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            "entries_removed": {rule: n for rule, n in sorted(self.entries.items()) if n},
            "sentences_removed": {rule: n for rule, n in sorted(self.sentences.items()) if n},
            "entries_edited": {rule: n for rule, n in sorted(self.edits.items()) if n},
        }


def is_null(text: str | None) -> bool:
    """True for entries the games leave without text: `%null%`, `no_text`, `(dummyText)`, empty or blank."""
    if text is None:
        return True
    stripped = text.strip()
    return not stripped or stripped.lower() in NULL_MARKERS


def strip_markup(text: str) -> str:
    """Remove `<font>` tags (keeping their text), `<?…?>` placeholders, `#c` colour codes and escaped tags."""
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _PLACEHOLDER.sub("", text)
        text = _TAG.sub("", text)
    if "#" in text:
        text = _COLOUR_CODE.sub("", text)
    return text


def clean_entry(text: str | None, counts: RuleCounts, entries: int = 1) -> str | None:
    """One entry's text cleaned: one paragraph per line, spaces normalised; None when nothing is left.

    `entries` is how many entries hold this same text (upgrade variants): the rules count each of them.
    """
    if text is None or is_null(text):
        counts.entries[NULL_MARKER] += entries
        return None
    stripped = strip_markup(text)
    if stripped != text:
        counts.edits[MARKUP] += entries
    text = stripped.replace("\r\n", "\n").replace("\r", "\n")
    if ":" in text or "：" in text:
        lines = text.split("\n")
        kept = [line for line in lines if not _LABEL_LINE.match(line)]
        if len(kept) != len(lines):
            counts.edits[LABEL_LINE] += entries
            text = "\n".join(kept)
    paragraphs = []
    for paragraph in _BLANK_LINES.split(text):
        # A newline inside a paragraph is a line break of the game's text box, not a sentence end.
        joined = " ".join(paragraph.split())
        if joined:
            paragraphs.append(joined)
    if not paragraphs:
        counts.entries[EMPTY_AFTER_CLEANING] += entries
        return None
    return "\n".join(paragraphs)


def normalise_name(name: str, counts: RuleCounts) -> str:
    """An item name without upgrade level (`Dagger+15`) or spell-scroll prefix (`Sorcery: `), for linking."""
    stripped = _UPGRADE.sub("", name)
    if stripped != name:
        counts.edits[UPGRADE_SUFFIX] += 1
    unscrolled = _SCROLL.sub("", stripped)
    if unscrolled != stripped:
        counts.edits[SCROLL_PREFIX] += 1
    return unscrolled.strip()


def ends_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text))


def join_dialogue(
    entries: list[tuple[list[int], str]], counts: RuleCounts, max_gap: int = 1000
) -> list[tuple[list[int], str]]:
    """Join a line that does not end a sentence with the next entry of the table (ids within `max_gap`)."""
    joined: list[tuple[list[int], str]] = []
    for ids, text in entries:
        if joined:
            last_ids, last_text = joined[-1]
            continues = not ends_sentence(last_text) or (last_text.endswith(("...", "…")) and text[:1].islower())
            if continues and ids[0] - last_ids[-1] <= max_gap:
                counts.edits[DIALOGUE_JOIN] += 1
                joined[-1] = (last_ids + ids, f"{last_text} {text}")
                continue
        joined.append((ids, text))
    return joined


def split_sentences(text: str) -> list[str]:
    """Sentences of a cleaned entry (one paragraph per line); ellipses inside a sentence do not split it."""
    sentences = []
    for paragraph in text.split("\n"):
        start = 0
        for boundary in _BOUNDARY.finditer(paragraph):
            sentences.append(paragraph[start : boundary.end()].strip())
            start = boundary.end()
        last = paragraph[start:].strip()
        if last:
            sentences.append(last)
    return sentences


def in_other_script(sentence: str) -> bool:
    """True when the sentence holds Japanese, Chinese, Korean, Cyrillic, Greek or similar letters."""
    return not sentence.isascii() and bool(_OTHER_SCRIPT.search(sentence))
