"""Image cards: a sentence drawn as an item description in the games' style, with alt text.

A dark panel with a thin bronze frame, a title in bold serif, a rule, and the sentence wrapped in a
serif face (DejaVu Serif, shipped in `fonts/` with its licence). 1200 x 675 (16:9) is the shape
Bluesky and Mastodon show uncropped; the type is sized so that the text still reads at the ~600 px
width of a timeline.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from soulsgen_lib.posting.target import Card, PostingError

FONTS = Path(__file__).parent / "fonts"
WIDTH, HEIGHT = 1200, 675
MARGIN = 90
BACKGROUND = (14, 13, 11)
PANEL = (24, 22, 19)
FRAME = (122, 104, 70)
TITLE_COLOUR = (214, 196, 150)
TEXT_COLOUR = (226, 222, 210)
TITLE_SIZE = 52
TEXT_SIZES = (46, 42, 38, 34, 30)  # the largest that fits the panel is used
MAX_TEXT_CHARS = 500
_SMALL_WORDS = frozenset({"of", "the", "a", "an", "and", "in", "on", "to", "for", "from", "with", "at", "by"})


def card_title(text: str) -> str:
    """A title from the sentence: its longest run of capitalised words after the first word, else its longest word."""
    words = re.findall(r"[A-Za-z][A-Za-z'’-]*", text)
    runs: list[list[str]] = []
    current: list[str] = []
    for index, word in enumerate(words):
        capitalised = word[0].isupper() and index > 0
        if capitalised or (current and word in _SMALL_WORDS):
            current.append(word)
            continue
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    runs = [_trim(run) for run in runs]
    best = max((run for run in runs if run), key=len, default=None)
    if best:
        return " ".join(best)
    longest = max(words, key=len, default="")
    return longest.capitalize() or "Untitled"


def _trim(run: list[str]) -> list[str]:
    while run and run[-1] in _SMALL_WORDS:
        run = run[:-1]
    return run


def render_card(text: str, title: str | None = None) -> Card:
    """Draw `text` as a PNG card; the alt text is the sentence itself."""
    from PIL import Image, ImageDraw, ImageFont

    text = " ".join(text.split())
    if not text:
        raise PostingError("a card needs a sentence: the text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise PostingError(f"a card holds at most {MAX_TEXT_CHARS} characters, got {len(text)}")
    title = title or card_title(text)
    regular, bold = FONTS / "DejaVuSerif.ttf", FONTS / "DejaVuSerif-Bold.ttf"
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, WIDTH - 30, HEIGHT - 30), fill=PANEL, outline=FRAME, width=3)
    draw.rectangle((42, 42, WIDTH - 42, HEIGHT - 42), outline=FRAME, width=1)
    title_font = _fitting_font(ImageFont.truetype(str(bold), TITLE_SIZE), title, draw)
    draw.text((MARGIN, MARGIN), title, font=title_font, fill=TITLE_COLOUR)
    rule_y = MARGIN + TITLE_SIZE + 28
    draw.line((MARGIN, rule_y, WIDTH - MARGIN, rule_y), fill=FRAME, width=2)
    top, room = rule_y + 36, HEIGHT - MARGIN - (rule_y + 36)
    for size in TEXT_SIZES:
        font = ImageFont.truetype(str(regular), size)
        lines = _wrap(text, font, WIDTH - 2 * MARGIN, draw)
        line_height = int(size * 1.45)
        if len(lines) * line_height <= room:
            break
    for number, line in enumerate(lines):
        draw.text((MARGIN, top + number * line_height), line, font=font, fill=TEXT_COLOUR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return Card(buffer.getvalue(), alt=text, width=WIDTH, height=HEIGHT)


def _fitting_font(font, title: str, draw) -> object:
    """The title's font, smaller when a long title would overrun the panel."""
    size = TITLE_SIZE
    while size > 28 and draw.textlength(title, font=font) > WIDTH - 2 * MARGIN:
        size -= 4
        font = font.font_variant(size=size)
    return font


def _wrap(text: str, font, width: int, draw) -> list[str]:
    """Greedy word wrap by measured width."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and draw.textlength(candidate, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines
