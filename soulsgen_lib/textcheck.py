"""Text measures a filter needs (X's length, balance, sentence end, stray characters): no model, no torch."""

from __future__ import annotations

import re
import unicodedata

TWEET_MAX_WEIGHT = 280
# twitter-text v3: these code point ranges weigh 1, everything else (CJK, emoji) weighs 2.
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_URL = re.compile(r"https?://\S+|\b[\w-]+\.(?:com|net|org|io|co|gg|ly)(?:/\S*)?", re.IGNORECASE)
_URL_WEIGHT = 23
_PAIRS = {"(": ")", "[": "]", "{": "}", "“": "”", "‘": "’"}
_SENTENCE_END = re.compile(r"""(?:[.!?…]|\.\.\.)["'”’)\]]*$""")
_BAD_CHARS = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f<>#]|<unk>|##")


def tweet_length(text: str) -> int:
    """Length of `text` as X counts it: NFC, URLs as 23, CJK and emoji as 2."""
    text = unicodedata.normalize("NFC", text)
    text, urls = _URL.subn("", text)
    weight = urls * _URL_WEIGHT
    for char in text:
        code = ord(char)
        weight += 1 if any(low <= code <= high for low, high in _LIGHT_RANGES) else 2
    return weight


def balanced(text: str) -> bool:
    """Brackets and curly quotes close in order; straight double quotes come in pairs."""
    closers = set(_PAIRS.values())
    stack: list[str] = []
    for char in text:
        if char in _PAIRS and not (char == "‘" and stack and stack[-1] == "’"):
            stack.append(_PAIRS[char])
        elif char in closers and char != "’":
            if not stack or stack.pop() != char:
                return False
        elif char == "’" and stack and stack[-1] == "’":
            stack.pop()  # a closing single quote; a lone ’ is an apostrophe
    return not [c for c in stack if c != "’"] and text.count('"') % 2 == 0


def ends_like_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text.strip()))


def has_bad_characters(text: str) -> bool:
    """Replacement characters, control bytes, markup or tokenizer debris such as `<unk>` and `##`."""
    return bool(_BAD_CHARS.search(text))
