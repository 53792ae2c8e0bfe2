"""The seeded phrase grammar behind SoulsGen's sample game text: souls-like lore, descriptions and dialogue.

Its word banks and phrase pools live in `sample_words.toml` beside it. Sentences are assembled from many small
independent pools, so two sentences rarely share a long run of words. One seed gives one reproducible set of texts.
"""

from __future__ import annotations

import random
import re
import tomllib
from pathlib import Path

WORDS = tomllib.loads(Path(__file__).with_name("sample_words.toml").read_text(encoding="utf-8"))

_ARTICLE = re.compile(r"\b([Aa]) ([aeiouAEIOU])")
_AN_BEFORE_CONSONANT = re.compile(r"\b([Aa])n (?!heir)([b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z])")


class Grammar:
    """A random phrase grammar for souls-like lore; one seed gives one reproducible set of texts."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.people = sorted({self._person() for _ in range(140)})
        self.places = sorted({self._place() for _ in range(50)} | set(WORDS["place_forms"]))

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return self.rng.choice(options)

    def word(self, bank: str) -> str:
        """A random entry of the word bank `bank` (a list in sample_words.toml)."""
        return self.rng.choice(WORDS[bank])

    def _person(self) -> str:
        name = self.word("syllables_a") + self.word("syllables_b")
        return name if self.rng.random() < 0.4 else f"{self.word('titles')} {name}"

    def _place(self) -> str:
        return self.word("place_a") + self.word("place_b")

    def fill(self, template: str) -> str:
        """Fill every {slot} of `template`; slots can expand into text with further slots."""
        words = {
            "person": lambda: self.pick(self.people),
            "place": lambda: self.pick(self.places),
            "noun": lambda: self.word("nouns"),
            "adj": lambda: self.word("adjectives"),
            "material": lambda: self.word("materials"),
            "element": lambda: self.word("elements"),
            "order": lambda: self.word("orders"),
            "order_one": lambda: self.word("orders").removesuffix("s"),
            "weapon": lambda: self.word("weapons"),
            "kin": lambda: self.word("kin"),
        }
        out = template
        while "{" in out:
            start = out.index("{")
            end = out.index("}", start)
            slot = out[start + 1 : end]
            text = words[slot]() if slot in words else self.pick(WORDS["phrases"][slot])
            out = out[:start] + text + out[end + 1 :]
        return out

    def finish(self, text: str, end: str = ".") -> str:
        """Fix articles ("an {adj} axe" may fill to "an quiet axe"), capitalise the first letter, end the sentence."""
        text = _AN_BEFORE_CONSONANT.sub(r"\1 \2", _ARTICLE.sub(r"\1n \2", text)).strip()
        return text[0].upper() + text[1:] + end

    def sentence(self, templates: tuple[str, ...]) -> str:
        return self.finish(self.fill(self.pick(templates)), "")

    def narrative(self) -> str:
        """One sentence of history: who did what, when, and how it ended."""
        shapes = (
            (3, "{time} {subject} {vpast} {object}{tail}"),
            (2, "{subject} {vpast} {object}{tail}"),
            (1, "{time} {subject} {intrans}{tail}"),
            (1, "it was {subject} who {vpast} {object}{tail}"),
            (1, "{subject} {vpast} {object}, and {subject} {intrans}"),
            (1, "though {subject} {vpast} {object}, {subject} {intrans}"),
            (1, "{spec_intro} {subject} {vpast} {object}{tail}"),
            (1, "{spec_intro} {present}"),
            (1, "{time} {subject} {vpast} {object}, {simile}"),
            (1, "when {subject} {intrans}, {subject} {vpast} {object}{tail}"),
        )
        text = self.rng.choices([shape for _, shape in shapes], [weight for weight, _ in shapes])[0]
        return self.finish(self.fill(text))

    def observation(self, thing: str) -> str:
        """One sentence about the object itself: what it is made of and how it behaves."""
        templates = (
            f"the {{material}} of this {thing} {{hum}} whenever {{condition}}",
            f"this {thing} {{hum}} when {{condition}}, {{simile}}",
            f"the {{part}} of the {thing} is {{part_state}}, and {{part_state}} besides",
            f"whoever carried this {thing} {{intrans}}, or so the {{order}} of {{place}} claim",
            f"nothing of {{person}} remains but this {thing}, {{quality}}",
            f"the {{order}} of {{place}} would not touch this {thing}, for {{present}}",
            f"no {{order_one}} has held this {thing} since {{subject}} {{intrans}}",
            f"whoever bears this {thing} must one day {{verb}} {{object}}{{tail}}",
            f"in {{place}}, this {thing} was {{thing_origin}}",
        )
        return self.sentence(templates) + "."

    def lore(self, thing: str) -> str:
        """Two to five sentences of lore about `thing`, sometimes in two paragraphs."""
        article = "an" if thing[0] in "aeiou" else "a"
        openers = (
            f"{article} {{adj}} {thing} of {{material}}, {{thing_origin}}",
            f"{article} {thing} {{thing_origin}}, {{quality}}",
            f"the {{adj}} {thing} of {{person}}, {{thing_origin}}",
            f"{article} {thing} of {{material}}, {{thing_origin}} and {{quality}}",
            f"this {thing} was {{thing_origin}}, {{quality}}",
            f"{article} {{adj}} {thing}, {{thing_origin}}",
        )
        sentences = [self.sentence(openers) + "."]
        for _ in range(self.rng.randint(1, 3)):
            sentences.append(self.narrative() if self.rng.random() < 0.7 else self.observation(thing))
        if self.rng.random() < 0.4:
            sentences.append(self.finish(self.fill("{spec_intro} {present}")))
        if len(sentences) > 2 and self.rng.random() < 0.5:
            return " ".join(sentences[:2]) + "\n\n" + " ".join(sentences[2:])
        return " ".join(sentences)

    def description(self, kind: str) -> str:
        """A short, practical description, as the games show beside the item."""
        templates = {
            "weapon": (
                "{heft} {weapon} of {material}, {weapon_trait}",
                "a {heft} {weapon} {weapon_trait}, {quality}",
                "a {weapon} imbued with {element}; it {effect}",
                "{weapon} of {material} {thing_origin}",
            ),
            "armor": (
                "{armor_kind} worn by the {order} of {place}; it {effect}",
                "{heft} {material} garb {weapon_trait}",
                "{armor_kind} of {material}, {quality}",
                "garb of {person}, {thing_origin}",
            ),
            "item": (
                "when used, it {effect}; {use_note}",
                "a {adj} keepsake of {person} that {effect}",
                "consumable {noun2} of {material} that {effect}",
                "a {noun2} {thing_origin}; it {effect}",
            ),
            "magic": (
                "a spell taught by {person} that {effect}",
                "hurls a {adj} mass of {element} at foes, {simile}",
                "shrouds the caster in {element}; it {effect}",
                "a {adj} rite of the {order} that calls down {element} {on_whom}",
            ),
            "accessory": (
                "a ring of {material} that {effect}",
                "a {adj} ring {thing_origin}",
                "{adj} charm of the {order} of {place}; it {effect}",
                "a band of {material}, {quality}, that {effect}",
            ),
        }[kind]
        return self.sentence(templates) + "."

    def item_name(self, kind: str) -> str:
        base = {
            "weapon": lambda: f"{self.word('adjectives').title()} {self.word('weapons').title()}",
            "armor": lambda: f"{self.pick(self.people).split()[-1]}'s {self.word('armor').title()}",
            "item": lambda: f"{self.word('adjectives').title()} {self.word('nouns').title()} {self.word('item_forms')}",
            "magic": lambda: (
                f"{self.word('adjectives').title()} {self.word('elements').title()} {self.word('spell_forms')}"
            ),
            "accessory": lambda: f"Ring of the {self.word('adjectives').title()} {self.word('nouns').title()}",
        }[kind]
        return base()

    def dialogue(self) -> list[str]:
        """One speaker's turn: one to four lines, some split mid-sentence across entries as the games do."""
        lines = []
        opener = self.fill("{interj}, {address}...")
        if self.rng.random() < 0.85:
            opener += " " + self.finish(
                self.fill(self.pick(("{i_clause}.", "{imperative}.", "{present}.", "{question}"))), ""
            )
        lines.append(opener)
        for _ in range(self.rng.randint(1, 3)):
            roll = self.rng.random()
            if roll < 0.25:
                # one sentence split across two entries: the corpus joins them again
                lines.append(self.finish(self.fill("{time} {subject} {vpast} {object}"), ","))
                lines.append(self.fill("and {subject} {intrans}{tail}."))
            elif roll < 0.4:
                lines.append(self.finish(self.fill("{archaic}"), ""))
            elif roll < 0.6:
                lines.append(self.finish(self.fill("{question}"), ""))
            elif roll < 0.8:
                lines.append(self.finish(self.fill("{i_clause}"), self.pick((".", "...", "."))))
            elif roll < 0.9:
                lines.append(self.finish(self.fill("{imperative}")))
            else:
                lines.append(self.finish(self.fill("{spec_intro} {present}... {aside}")))
        return lines
