"""Write SoulsGen's sample game text: original souls-like writing in the games' table layouts and file formats.

Nothing here is game text: a seeded grammar writes item lore, descriptions, dialogue and event text, and the
project's own writers store it as Yabber/WitchyBND XML, loose binary FMG and a DCX-compressed BND4 binder. Every
quirk the corpus builder handles is planted on purpose (null markers, markup, label lines, upgrade suffixes,
identical variants, boilerplate, split dialogue, Japanese placeholders, duplicate binder tables).

    python tools/make_sample_data.py [--out sample_data] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from soulsgen_lib.gametext import FmgTable
from soulsgen_lib.gametext.binder import BinderFile, bnd4_bytes
from soulsgen_lib.gametext.dcx import dcx_bytes
from soulsgen_lib.gametext.fmgbin import fmg_bytes
from soulsgen_lib.gametext.xmlfmg import fmg_xml_bytes

# ---------------------------------------------------------------- word banks (all invented for this project)
SYLLABLES_A = [
    "Al",
    "Bel",
    "Cor",
    "Dra",
    "El",
    "Fen",
    "Gar",
    "Hal",
    "Is",
    "Jor",
    "Kel",
    "Lor",
    "Mor",
    "Nar",
    "Or",
    "Pel",
    "Quen",
    "Ros",
    "Sel",
    "Tor",
    "Ul",
    "Var",
    "Wyn",
    "Ys",
    "Ael",
    "Brom",
]
SYLLABLES_B = [
    "dric",
    "wen",
    "mir",
    "ane",
    "oth",
    "ric",
    "iel",
    "vane",
    "eth",
    "ard",
    "ys",
    "ora",
    "un",
    "ith",
    "ald",
    "ros",
    "amar",
    "ine",
    "uth",
    "elle",
]
TITLES = [
    "Knight",
    "Sister",
    "Father",
    "Lord",
    "Lady",
    "Saint",
    "Warden",
    "Pilgrim",
    "Smith",
    "Witch",
    "King",
    "Queen",
    "Prince",
    "Hunter",
    "Sorcerer",
    "Cleric",
    "Executioner",
    "Archivist",
    "Hermit",
    "Duke",
]
PLACE_A = [
    "Vel",
    "Dusk",
    "Grey",
    "Ash",
    "Hollow",
    "Thorn",
    "Ember",
    "Pale",
    "Raven",
    "Cinder",
    "Frost",
    "Salt",
    "Gloam",
    "Bell",
    "Mourn",
    "Iron",
    "Wither",
    "Sable",
]
PLACE_B = [
    "moor",
    "hollow",
    "water",
    "fall",
    "reach",
    "mire",
    "crest",
    "gate",
    "wold",
    "haven",
    "keep",
    "spire",
    "fen",
    "deep",
    "barrow",
]
PLACE_FORMS = (
    "the Sunken Cloister",
    "the Ashen Vault",
    "the Drowned Archive",
    "the Bell Tower",
    "the Pale Cathedral",
    "the Hanging Gardens",
    "the Undercroft",
    "the Lantern Road",
    "the Weeping Bridge",
    "the Salt Catacombs",
    "the Moonlit Abbey",
    "the Chapel of Embers",
    "the Garden of Thorns",
    "the Painted Crypt",
    "the Outer Wall",
)
ORDERS = (
    "knights",
    "clerics",
    "sorcerers",
    "hunters",
    "pilgrims",
    "executioners",
    "wardens",
    "smiths",
    "scholars",
    "witches",
    "sentinels",
    "mendicants",
    "grave keepers",
    "bell ringers",
    "lantern bearers",
    "thieves",
    "drowned monks",
    "silver knights",
)
WEAPONS = (
    "longsword",
    "greatsword",
    "halberd",
    "greatscythe",
    "rapier",
    "warpick",
    "flail",
    "estoc",
    "greataxe",
    "curved blade",
    "cleaver",
    "spear",
    "club",
    "hand axe",
    "whip",
    "katana",
    "mace",
    "lance",
    "dagger",
    "great hammer",
    "twinblade",
    "shortbow",
    "crossbow",
    "sickle",
    "claymore",
    "glaive",
    "war fan",
    "pike",
    "hook sword",
    "morning star",
)
WEAPON_TYPES = (
    "Straight Sword",
    "Greatsword",
    "Halberd",
    "Reaper",
    "Thrusting Sword",
    "Hammer",
    "Axe",
    "Curved Sword",
    "Spear",
    "Whip",
    "Katana",
    "Dagger",
    "Bow",
    "Fist",
)
ATTACK_TYPES = ("Slash", "Thrust", "Strike", "Slash / Thrust", "Strike / Thrust")
ARMOR = (
    "helm",
    "hood",
    "mask",
    "crown",
    "cowl",
    "armor",
    "robe",
    "coat",
    "cloak",
    "gauntlets",
    "bracelets",
    "leggings",
    "boots",
    "trousers",
    "veil",
    "mantle",
)
MATERIALS = (
    "blackened iron",
    "moonstone",
    "ashwood",
    "old bone",
    "pale silver",
    "tarnished gold",
    "sea glass",
    "obsidian",
    "weathered bronze",
    "grave soil",
    "dragon scale",
    "petrified wood",
    "star iron",
    "bleached leather",
    "river clay",
    "black pearl",
    "burnt oak",
    "crystal",
    "wolf hide",
)
ADJECTIVES = (
    "cracked",
    "hollow",
    "faded",
    "ancient",
    "forsaken",
    "gilded",
    "rusted",
    "sacred",
    "cursed",
    "nameless",
    "forgotten",
    "weathered",
    "crooked",
    "sorrowful",
    "broken",
    "silent",
    "pale",
    "bloodied",
    "withered",
    "humble",
    "drowned",
    "ashen",
    "sunken",
    "blind",
    "smouldering",
    "frozen",
    "hallowed",
    "lonely",
    "ruined",
    "gentle",
)
ELEMENTS = ("frost", "lightning", "dark", "flame", "rot", "blood", "magic", "holy light", "ash", "moonlight")
NOUNS = (
    "flame",
    "ember",
    "soul",
    "abyss",
    "moon",
    "tide",
    "bell",
    "crown",
    "oath",
    "covenant",
    "throne",
    "tomb",
    "serpent",
    "dragon",
    "giant",
    "lantern",
    "seal",
    "chain",
    "sun",
    "dusk",
    "ring",
    "altar",
    "pyre",
    "well",
    "storm",
    "gate",
    "star",
    "hollow",
    "wolf",
    "crow",
    "shrine",
    "mirror",
    "lamp",
    "root",
    "heart",
    "spire",
)
FATES = (
    "went hollow",
    "was lost to the dark",
    "fell in the first war",
    "was sealed away",
    "turned to stone",
    "vanished into the mist",
    "was consumed by the flame",
    "took the long sleep",
    "was betrayed by kin",
    "became a beast",
    "drowned in the deep",
    "was forgotten by all",
    "was devoured by the dark",
    "wandered until memory failed",
    "was crowned and then forgotten",
)
DEEDS = (
    "slew the {noun} of {place}",
    "guarded the {noun} for a thousand years",
    "carried the {noun} into exile",
    "swore an oath before the {noun}",
    "stole the {noun} from the gods",
    "bound the {noun} with chains of {material}",
    "sang to the {noun} until the end",
    "buried the {noun} beneath {place}",
    "hunted the last {noun}",
    "lit the {noun} with {possessive} own blood",
    "refused to kneel before the {noun}",
    "walked alone to {place}",
    "sealed the gate of {place}",
    "tended the {noun} in secret",
    "defied the {order} of {place}",
    "forged a {weapon} from the bones of a {noun}",
    "wept for the {noun} when no one else would",
    "betrayed the {order} for a handful of souls",
)
SPECULATIONS = (
    "the {noun} remembers what was lost",
    "{person} still waits in {place}",
    "it was never meant for mortal hands",
    "the {order} knew more than they told",
    "the {noun} was never truly extinguished",
    "some oaths outlive the ones who swore them",
    "even the gods feared the {noun}",
    "the {order} of {place} were the last to remember",
    "its true name was struck from every record",
    "the {noun} was only ever a dream of the {order}",
    "{person} never truly left {place}",
    "the {adj} {noun} still hungers",
    "no flame lasts forever, not even this one",
)
EFFECTS = (
    "restores a small amount of HP",
    "restores a great deal of HP",
    "cures poison",
    "grants brief resistance to {element}",
    "draws out the {element} within the weapon",
    "reduces stamina consumption",
    "boosts {element} damage",
    "raises maximum equip load",
    "casts a faint light around the wearer",
    "quiets the sound of footsteps",
    "attracts the attention of spirits",
    "reduces damage from falls",
    "increases souls gained from foes",
)
SPELL_KINDS = ("Sorcery", "Miracle", "Pyromancy", "Hex")
SPELL_FORMS = (
    "Lance",
    "Arrow",
    "Veil",
    "Storm",
    "Chorus",
    "Tear",
    "Whip",
    "Mist",
    "Orb",
    "Spear",
    "Rite",
    "Ward",
)
ITEM_FORMS = ("Shard", "Ember", "Bone", "Token", "Flask", "Ash")
SKILLS = ("Spin Sweep", "Stance", "Perseverance", "Charge", "Warcry", "Parry", "Quickstep", "Weapon Skill")
DIALOGUE_OPEN = ("Ahh", "Oh", "Hm", "Well", "Hah", "Ah, yes", "Listen", "Forgive me", "Hmph", "Oh, it's you")
DIALOGUE_ADDRESS = ("traveller", "Undead", "friend", "little ember", "stranger", "pilgrim", "my lord", "Ashen one")
ARCHAIC = (
    "Thou hast {deed_pp}, yet the {noun} hath not forgotten.",
    "Art thou come to {verb} the {noun}, or merely to die beside it?",
    "Pray, {address}, for thy {noun} groweth dim.",
    "Knowest thou the tale of {person}, who {deed}?",
    "Hearken, {address}: the {noun} of {place} doth stir once more.",
    "Seek thee the {noun}, and thou shalt find {place} waiting.",
)
VERBS = ("kindle", "seal", "claim", "guard", "break", "bury", "wake", "mourn", "redeem", "forsake", "carry")
DEEDS_PP = (
    "walked far",
    "borne the curse",
    "seen the {noun} fade",
    "slain the {noun}",
    "crossed {place}",
    "knelt before the {noun}",
)
BOILERPLATE = (
    "Equip two kinds of bolts at once and switch between them in battle.",
    "Those who wear it are said to walk a little closer to the dark.",
    "Can be offered to the bonfire keeper in exchange for a small boon.",
)
EVENT_TEXT = (
    "The {noun} bars the way.",
    "A {adj} seal holds this door shut.",
    "The gate of {place} will not open from here.",
    "A faint voice echoes from beyond the {noun}.",
    "Something stirs within the {adj} {noun}.",
    "The {noun} has been lit once more.",
    "You sense the presence of a {adj} spirit.",
    "An invisible wall of {element} blocks the path.",
)
JAPANESE_PLACEHOLDERS = ("ダミーテキスト", "未使用", "仮テキスト：武器")


_ARTICLE = re.compile(r"\b([Aa]) ([aeiouAEIOU])")


class Grammar:
    """A small random grammar for souls-like lore; one seed gives one reproducible set of texts."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.people = sorted({self._person() for _ in range(60)})
        self.places = sorted({self._place() for _ in range(30)} | set(PLACE_FORMS))

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return self.rng.choice(options)

    def _person(self) -> str:
        name = self.pick(SYLLABLES_A) + self.pick(SYLLABLES_B)
        return name if self.rng.random() < 0.4 else f"{self.pick(TITLES)} {name}"

    def _place(self) -> str:
        return self.pick(PLACE_A) + self.pick(PLACE_B)

    def fill(self, template: str) -> str:
        """Fill every {slot} of `template`; slots can expand into text with further slots."""
        slots = {
            "person": lambda: self.pick(self.people),
            "place": lambda: self.pick(self.places),
            "noun": lambda: self.pick(NOUNS),
            "adj": lambda: self.pick(ADJECTIVES),
            "material": lambda: self.pick(MATERIALS),
            "element": lambda: self.pick(ELEMENTS),
            "order": lambda: self.pick(ORDERS),
            "order_one": lambda: self.pick(ORDERS).removesuffix("s"),
            "weapon": lambda: self.pick(WEAPONS),
            "fate": lambda: self.pick(FATES),
            "deed": lambda: self.fill(self.pick(DEEDS)),
            "deed_pp": lambda: self.fill(self.pick(DEEDS_PP)),
            "possessive": lambda: self.pick(("his", "her", "their")),
            "verb": lambda: self.pick(VERBS),
            "address": lambda: self.pick(DIALOGUE_ADDRESS),
            "speculation": lambda: self.fill(self.pick(SPECULATIONS)),
            "effect": lambda: self.fill(self.pick(EFFECTS)),
        }
        out = template
        while "{" in out:
            start = out.index("{")
            end = out.index("}", start)
            out = out[:start] + slots[out[start + 1 : end]]() + out[end + 1 :]
        return out

    def sentence(self, templates: tuple[str, ...]) -> str:
        text = _ARTICLE.sub(r"\1n \2", self.fill(self.pick(templates)))
        return text[0].upper() + text[1:]

    def lore(self, thing: str) -> str:
        """Two to four sentences of lore about `thing`, sometimes in two paragraphs."""
        openers = (
            f"a {{adj}} {thing} of {{material}}, once wielded by {{person}}.",
            f"the {thing} favoured by the {{order}} of {{place}}.",
            f"a {thing} forged in the furnaces of {{place}}, where {{material}} is still worked by hand.",
            f"a {{adj}} {thing}, carried by {{person}} until the very end.",
            f"this {thing} belonged to {{person}}, who {{deed}}.",
            f"a {thing} of the {{order}}, marked with the sign of the {{noun}}.",
            f"an old {thing} of {{material}}, found among the ruins of {{place}}.",
            f"the {{adj}} {thing} of {{person}}, last of the {{order}} of {{place}}.",
        )
        middles = (
            "It is said that {person} {deed}, and never returned.",
            "{person} {fate}, yet the {noun} still burns within it.",
            "When the {noun} faded, {person} {deed}.",
            "The {order} of {place} {deed}, but none remember why.",
            "Though {person} {fate}, this relic endures, cold and {adj}.",
            "Those who {verb} the {noun} shall share the fate of {person}.",
            "The {material} hums with {element} whenever the {noun} is near.",
            "Long ago, the {order} swore to {verb} the {noun}, and so they did, one by one.",
            "In {place}, the {order} still speak of {person} in hushed voices.",
            'The {order} had a saying: "{speculation}."',
            "Few now recall that {person} {deed} with nothing but a {adj} {weapon}.",
            "After {person} {fate}, the {order} took up the {noun} and carried it to {place}.",
            "The {noun} of {place} grew dim, and the {order} could do nothing but watch.",
            "Its {material} surface is etched with the names of the {order} who fell in {place}.",
            "Long ago, when the {noun} still burned over {place} and the {order} walked freely among the living, "
            "{person} {deed}, and it is said that the {noun} has never forgiven that betrayal.",
            "Those who have walked the {adj} roads of {place} speak of a {adj} {noun} that waits beneath the "
            "{material} stones, hungering for the souls of the {order}.",
            "Whether {person} {deed} out of duty or out of grief, no one can say, for the {order} burned every record.",
            "The {order} of {place} were few, and fewer still returned.",
            "Nothing of {person} remains but this.",
        )
        closers = (
            "Perhaps {speculation}.",
            "Perhaps... {speculation}.",
            "Who, then, will {verb} the {noun} when the last {order} are gone?",
            "Even now, {speculation}.",
            "Boosts {element} damage, but drains the wielder's strength.",
            "Thou who wields this must {verb} the {noun}, or be forgotten.",
            "Some say {speculation}, though none can prove it.",
            "None know where {person} rests, but the {noun} is said to remember.",
            "Only the {order} still mourn, for {speculation}.",
            "Seek {place}, if thou must.",
            "And so the {noun} waits, patient and {adj}, for one who would {verb} it at last, be they knight, "
            "beggar or something far worse.",
        )
        sentences = [self.sentence(openers), self.sentence(middles)]
        if self.rng.random() < 0.7:
            sentences.append(self.sentence(middles))
        if self.rng.random() < 0.6:
            sentences.append(self.sentence(closers))
        if len(sentences) > 2 and self.rng.random() < 0.5:
            return " ".join(sentences[:2]) + "\n\n" + " ".join(sentences[2:])
        return " ".join(sentences)

    def description(self, kind: str) -> str:
        """A short, practical description, as the games show beside the item."""
        templates = {
            "weapon": (
                "{adj} {weapon} of plain make, easy to wield.",
                "A heavy {weapon} that staggers foes with each blow.",
                "A {weapon} imbued with {element}, prized by the {order}.",
            ),
            "armor": (
                "Armor worn by the {order} of {place}.",
                "Light {material} garb that favours swift movement.",
                "Heavy protection of {material}, resistant to {element}.",
            ),
            "item": ("When used, it {effect}.", "A {adj} keepsake that {effect}.", "Consumable that {effect}."),
            "magic": (
                "A spell taught by {person} that {effect}.",
                "Hurls a {adj} mass of {element} at foes.",
                "Shrouds the caster in {element} for a short time.",
            ),
            "accessory": (
                "A ring of {material} that {effect}.",
                "A {adj} ring worn by {person}.",
                "Charm of the {order}; it {effect}.",
            ),
        }[kind]
        return self.sentence(templates)

    def item_name(self, kind: str) -> str:
        base = {
            "weapon": lambda: f"{self.pick(ADJECTIVES).title()} {self.pick(WEAPONS).title()}",
            "armor": lambda: f"{self.pick(self.people).split()[-1]}'s {self.pick(ARMOR).title()}",
            "item": lambda: f"{self.pick(ADJECTIVES).title()} {self.pick(NOUNS).title()} {self.pick(ITEM_FORMS)}",
            "magic": lambda: f"{self.pick(ADJECTIVES).title()} {self.pick(ELEMENTS).title()} {self.pick(SPELL_FORMS)}",
            "accessory": lambda: f"Ring of the {self.pick(ADJECTIVES).title()} {self.pick(NOUNS).title()}",
        }[kind]
        return base()

    def dialogue(self) -> list[str]:
        """One speaker's turn: one to four lines, some split mid-sentence across entries as the games do."""
        lines = []
        opener = f"{self.pick(DIALOGUE_OPEN)}, {self.pick(DIALOGUE_ADDRESS)}..."
        if self.rng.random() < 0.5:
            opener += " " + self.fill(self.pick(("you've come at last.", "another one, then.", "still breathing?")))
        lines.append(opener)
        for _ in range(self.rng.randint(1, 3)):
            roll = self.rng.random()
            if roll < 0.3:
                lines.append(self.fill("And in {place}, the {order} are gathered,"))
                lines.append(self.fill("so that the {noun} may {verb} them, one by one."))
            elif roll < 0.5:
                lines.append(self.sentence(ARCHAIC))
            elif roll < 0.7:
                lines.append(
                    self.sentence(("I was once a {adj} {order_one}, you see. Now I am only a {adj} old fool.",))
                )
            elif roll < 0.85:
                lines.append(
                    self.fill("If you seek {person}, look to {place}. But do not linger there, for {speculation}.")
                )
            elif roll < 0.93:
                lines.append(self.fill("Perhaps {speculation}... Hah, listen to me."))
            else:
                lines.append(
                    self.fill(
                        "I have walked a long way, {address}, from {place} to the edge of {place}, and all I found "
                        "was ash, and more ash, and the {adj} silence of the {order}."
                    )
                )
        return lines


def _with_quirks(rng: random.Random, text: str, index: int) -> str:
    """Plant the markup and layout quirks of real tables into some entries."""
    roll = index % 23
    if roll == 3:
        return text.replace(" ", ' <font color="#e0c080">', 1).replace(".", "</font>.", 1)
    if roll == 5:
        return text + "<?keyIcon@31?>"
    if roll == 7:
        return "#cC8A060" + text
    if roll == 11:
        return text.replace(" ", "\t", 1)
    if roll == 13:
        words = text.split(" ")
        cut = min(len(words) - 1, 5)
        return " ".join(words[:cut]) + "\n" + " ".join(words[cut:])
    if roll == 17:
        return text + "\n"  # an entry ending in punctuation and a newline must be kept
    if roll == 19:
        return text.replace(" ", " &lt;font&gt;", 1)  # escaped tag, read back as literal text
    return text


def _null_marker(index: int) -> str | None:
    return (None, "no_text", "(dummyText)", "", "   ", "%null%", "none text")[index % 7]


def item_tables(grammar: Grammar, kind: str, count: int, first_id: int, variants: int) -> dict[str, FmgTable]:
    """Name, description and lore tables of one item family; `variants` ids per item share one description."""
    names, descriptions, lore = [], [], []
    rng = grammar.rng
    for number in range(count):
        base_id = first_id + number * 1000
        name = grammar.item_name(kind)
        description = grammar.description(kind)
        if kind == "weapon":
            description += f"\n\nWeapon type: {grammar.pick(WEAPON_TYPES)}\nAttack type: {grammar.pick(ATTACK_TYPES)}"
            if number % 3 == 0:
                description += f"\nSkill: {grammar.pick(SKILLS)}"
        if number % 9 == 0:
            description += " " + BOILERPLATE[number % len(BOILERPLATE)]
        thing = {
            "weapon": name.split()[-1].lower(),
            "armor": "garment",
            "item": "relic",
            "magic": "spell",
            "accessory": "ring",
        }[kind]
        story = grammar.lore(thing)
        story = _with_quirks(rng, story, number)
        for level in range(variants):
            entry_id = base_id + level
            if kind == "magic" and level == 1:
                names.append((entry_id, f"{grammar.pick(SPELL_KINDS)}: {name}"))  # the spell's scroll
            else:
                names.append((entry_id, f"{name}+{level}" if level and kind == "weapon" else name))
            descriptions.append((entry_id, description))
            lore.append((entry_id, story))
        if number % 25 == 4:
            lore.append((base_id + 900, _null_marker(number)))
            descriptions.append((base_id + 901, grammar.pick(JAPANESE_PLACEHOLDERS)))
    if kind == "item":
        names.append((first_id + count * 1000, "Flask of Embers +2"))
    return {
        "name": FmgTable("name", names, ""),
        "description": FmgTable("description", descriptions, ""),
        "lore": FmgTable("lore", lore, ""),
    }


def dialogue_table(grammar: Grammar, speakers: int, first_id: int) -> list[tuple[int, str | None]]:
    entries: list[tuple[int, str | None]] = []
    for speaker in range(speakers):
        entry_id = first_id + speaker * 100
        for line in grammar.dialogue():
            entries.append((entry_id, line))
            entry_id += 1
        if speaker % 30 == 0:
            entries.append((entry_id, _null_marker(speaker)))
    return entries


def event_table(grammar: Grammar, count: int) -> list[tuple[int, str | None]]:
    return [(10000 + i, grammar.sentence(EVENT_TEXT)) for i in range(count)]


def menu_tables() -> dict[str, list[tuple[int, str | None]]]:
    """Tables the corpus leaves out: menus, key guides and player-message templates."""
    return {
        "menu": [(1, "Quit to title screen?"), (2, "Are you sure you wish to leave?"), (3, "Settings"), (4, None)],
        "key_guide": [(10, "Confirm"), (11, "Back"), (12, "Switch item")],
        "blood_writing": [(1, "Be wary of ****"), (2, "Try jumping"), (3, "Praise the ****!")],
    }


ENGLISH_TABLES = {
    ("weapon", "name"): "Weapon_name_",
    ("weapon", "description"): "Weapon_description_",
    ("weapon", "lore"): "Weapon_long_desc_",
    ("armor", "name"): "Armor_name_",
    ("armor", "description"): "Armor_description_",
    ("armor", "lore"): "Armor_long_desc_",
    ("item", "name"): "Item_name_",
    ("item", "description"): "Item_description_",
    ("item", "lore"): "Item_long_desc_",
    ("magic", "name"): "Magic_name_",
    ("magic", "description"): "Magic_description_",
    ("magic", "lore"): "Magic_long_desc_",
    ("accessory", "name"): "Accessory_name_",
    ("accessory", "description"): "Accessory_description_",
    ("accessory", "lore"): "Accessory_long_desc_",
}
JAPANESE_FAMILY = {"weapon": "武器", "armor": "防具", "item": "アイテム", "magic": "魔法", "accessory": "アクセサリ"}
JAPANESE_PART = {"name": "名", "description": "説明", "lore": "うんちく"}


def game_tables(grammar: Grammar, sizes: dict[str, int], japanese: bool) -> dict[str, list[tuple[int, str | None]]]:
    """Every table of one game, keyed by the game's table name."""
    tables: dict[str, list[tuple[int, str | None]]] = {}
    first_ids = {"weapon": 1000000, "armor": 2000000, "item": 100000, "magic": 3000000, "accessory": 4000000}
    variants = {"weapon": 6, "armor": 1, "item": 1, "magic": 2, "accessory": 1}
    for kind, count in sizes.items():
        for part, table in item_tables(grammar, kind, count, first_ids[kind], variants[kind]).items():
            name = JAPANESE_FAMILY[kind] + JAPANESE_PART[part] if japanese else ENGLISH_TABLES[(kind, part)]
            tables[name] = table.entries
    return tables


def write_xml_tables(folder: Path, tables: dict[str, list[tuple[int, str | None]]], version: str, witchy: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, entries in tables.items():
        table = FmgTable(name, entries, "", version=version)
        (folder / f"{name}.fmg.xml").write_bytes(fmg_xml_bytes(table, with_filename=witchy))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "sample_data")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)

    ds1 = Grammar(args.seed)
    tables = game_tables(ds1, {"weapon": 150, "armor": 110, "item": 140, "magic": 50, "accessory": 45}, japanese=False)
    write_xml_tables(out / "ds1" / "item-msgbnd-dcx", tables, "DarkSouls1", witchy=False)
    menu = menu_tables()
    write_xml_tables(
        out / "ds1" / "menu-msgbnd-dcx",
        {
            "Conversation_": dialogue_table(ds1, 260, 10000000),
            "Event_text_": event_table(ds1, 80),
            "Menu_text_": menu["menu"],
            "Key_guide_": menu["key_guide"],
            "Blood_writing_": menu["blood_writing"],
            "Chronicle_of_the_unknown_": [(1, "A table the catalog does not know about.")],
        },
        "DarkSouls1",
        witchy=False,
    )
    (out / "ds1" / "menu-msgbnd-dcx" / "_yabber-bnd4.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<bnd4>\n  <filename>menu.msgbnd.dcx</filename>\n</bnd4>\n',
        encoding="utf-8",
    )

    ds3 = Grammar(args.seed + 1)
    tables = game_tables(ds3, {"weapon": 130, "armor": 100, "item": 120, "magic": 45, "accessory": 40}, japanese=True)
    write_xml_tables(out / "ds3" / "msg" / "engUS" / "item_dlc2-msgbnd-dcx", tables, "DarkSouls3", witchy=True)

    # Dark Souls III-style menu binder, binary: dialogue, events and menus in a DCX-packed BND4. The dialogue
    # table appears twice (base id and a later patch id), as in Dark Souls Remastered's binders.
    binder_tables = {
        "会話": dialogue_table(ds3, 200, 20000000),
        "イベントテキスト": event_table(ds3, 70),
        "メニューテキスト": menu["menu"],
        "キーガイド": menu["key_guide"],
        "血文字": menu["blood_writing"],
    }
    patch = [(entry_id, text) for entry_id, text in binder_tables["会話"][:40] if text and text.endswith(".")]
    patch = [(entry_id, f"{text} So it goes, and so it has always gone.") for entry_id, text in patch[:10]]
    members = [
        BinderFile(
            index + 10,
            f"N:\\FDP\\data\\INTERROOT_win64\\msg\\engUS\\64bit\\{name}.fmg",
            fmg_bytes(FmgTable(name, entries, ""), version=2),
        )
        for index, (name, entries) in enumerate(binder_tables.items())
    ]
    members.append(
        BinderFile(
            110,
            "N:\\FDP\\data\\INTERROOT_win64\\msg\\engUS\\64bit\\会話.fmg",
            fmg_bytes(FmgTable("会話", patch, ""), version=2),
        )
    )
    binder_path = out / "ds3" / "msg" / "engUS" / "menu_dlc2.msgbnd.dcx"
    binder_path.write_bytes(dcx_bytes(bnd4_bytes(members)))

    # Dark Souls II-style loose binary tables (FMG version 1, little-endian).
    ds2 = Grammar(args.seed + 2)
    tables = game_tables(ds2, {"weapon": 70, "armor": 50, "item": 60, "magic": 25, "accessory": 25}, japanese=False)
    tables["Conversation_"] = dialogue_table(ds2, 120, 30000000)
    folder = out / "ds2" / "menu" / "text" / "english"
    folder.mkdir(parents=True, exist_ok=True)
    for name, entries in tables.items():
        (folder / f"{name}.fmg").write_bytes(fmg_bytes(FmgTable(name, entries, ""), version=1))

    readme = (
        "# SoulsGen sample game text\n\n"
        "Original writing generated by `tools/make_sample_data.py` (seeded grammar); no game text.\n"
        "Regenerate with `python tools/make_sample_data.py`. Layout follows the games' files:\n"
        "- `ds1/`: Dark Souls-style English table names as Yabber XML (`<compression>`, no `<filename>`).\n"
        "- `ds3/`: Dark Souls III-style Japanese table names: item tables as WitchyBND XML (`<filename>`),\n"
        "  dialogue, events and menus as a binary `menu_dlc2.msgbnd.dcx` (DCX zlib around a BND4) written by\n"
        "  SoulsGen's own writer, with a patch copy of the dialogue table under a later file id.\n"
        "- `ds2/`: loose binary `.fmg` tables (version 1). They use the Dark Souls English table names, which\n"
        "  the catalog knows; real Dark Souls II table names have not been checked.\n"
    )
    (out / "README.md").write_text(readme, encoding="utf-8")


if __name__ == "__main__":
    main()
