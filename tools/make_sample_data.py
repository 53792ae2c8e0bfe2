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
from soulsgen_lib.gametext.binder import BinderFile
from soulsgen_lib.gametext.fmgbin import fmg_bytes
from soulsgen_lib.gametext.writers import binder_bytes, dcx_bytes
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
    "Cael",
    "Dun",
    "Esk",
    "Gil",
    "Hes",
    "Ing",
    "Lys",
    "Mael",
    "Ner",
    "Ost",
    "Rhun",
    "Syl",
    "Tam",
    "Vor",
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
    "gard",
    "wyn",
    "ota",
    "is",
]
TITLES = (
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
    "Abbess",
    "Captain",
    "Mother",
    "Seer",
)
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
    "Black",
    "Still",
    "Moth",
    "Lorn",
    "Rime",
    "Ebon",
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
    "ford",
    "mere",
    "holm",
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
    "the Quiet Orchard",
    "the Mirror Lake",
    "the Ossuary Stair",
    "the Tallow Market",
    "the Kiln of Names",
    "the Grey Marches",
    "the Hermit's Causeway",
    "the Rookery",
    "the Cistern of Saints",
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
    "boatwrights",
    "chanters",
    "tallow makers",
    "oathbreakers",
    "archers",
    "shepherds",
    "jailers",
    "alchemists",
    "mourners",
    "sellswords",
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
    "green copper",
    "ivory",
    "slate",
    "pewter",
    "salt-cured linen",
    "beeswax",
    "horn",
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
    "patient",
    "hungry",
    "scorched",
    "tattered",
    "defiled",
    "quiet",
    "bitter",
    "wretched",
    "unlit",
    "mournful",
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
    "furnace",
    "orchard",
    "choir",
    "kiln",
    "candle",
    "idol",
    "banner",
    "hound",
    "veil",
    "reliquary",
)
KIN = ("daughter", "son", "sister", "brother", "mother", "father", "twin", "apprentice", "squire", "widow", "heir")
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
BOILERPLATE = (
    "Equip two kinds of bolts at once and switch between them in battle.",
    "Those who wear it are said to walk a little closer to the dark.",
    "Can be offered to the bonfire keeper in exchange for a small boon.",
)
JAPANESE_PLACEHOLDERS = ("ダミーテキスト", "未使用", "仮テキスト：武器")

# ---------------------------------------------------------------- phrase pools: each {slot} picks one at random
# Sentences are assembled from many small independent pools rather than whole-sentence templates, so that two
# sentences rarely share a long run of words: a model trained on them must compose, not recall.
PHRASES: dict[str, tuple[str, ...]] = {
    "time": (
        "Long ago,",
        "In the days before the {noun},",
        "When the {noun} of {place} first dimmed,",
        "After the fall of {place},",
        "Before the {order} came to {place},",
        "On the night the {noun} went out,",
        "Once,",
        "Centuries past,",
        "During the long siege of {place},",
        "Upon the death of {person},",
        "When {person} was still young,",
        "In a winter that would not end,",
        "Some years after the war,",
        "At the height of the {noun}'s power,",
        "In the last days of {place},",
        "While the {order} slept,",
        "Three winters before the flood,",
        "When the bells of {place} fell silent,",
        "Under a {adj} sky,",
        "In an age no song recalls,",
        "At the close of the {ordinal} war,",
        "As the {noun} waned,",
    ),
    "subject": (
        "{person}",
        "{person}",
        "the {order} of {place}",
        "a {adj} {order_one}",
        "the last {order_one} of {place}",
        "the {kin} of {person}",
        "{person}'s {kin}",
        "an unnamed {order_one}",
        "the {adj} king of {place}",
        "a wandering {order_one}",
        "the keepers of the {noun}",
        "those who served {person}",
        "the {order}",
        "a child of {place}",
        "old {person}",
        "the {adj} queen",
        "a band of {adj} {order}",
        "the faithful of the {noun}",
    ),
    "vpast": (
        "carried",
        "buried",
        "stole",
        "sealed away",
        "guarded",
        "abandoned",
        "betrayed",
        "sought",
        "hid",
        "shattered",
        "offered up",
        "swore upon",
        "wept over",
        "bartered away",
        "tended",
        "hunted",
        "worshipped",
        "feared",
        "coveted",
        "cast down",
        "reforged",
        "dragged",
        "drowned",
        "burned",
        "mended",
        "sang to",
        "kept watch over",
        "turned away from",
        "chained",
        "broke",
        "lit",
        "devoured",
        "mourned",
        "forgot",
        "named",
    ),
    "object": (
        "the {adj} {noun} of {place}",
        "a {noun} of {material}",
        "what remained of the {noun}",
        "the {noun} that {person} had left behind",
        "every {noun} in {place}",
        "the {noun}",
        "the {adj} {noun}",
        "{person}'s {noun}",
        "the last {noun} of the {order}",
        "a {adj} {weapon}",
        "the {kin} of {person}",
        "the gates of {place}",
        "a {noun2} no larger than a fist",
        "the ashes of {person}",
        "the first {noun}",
        "a {material} {noun}",
        "the name of {person}",
        "the {noun} beneath {place}",
        "their own {noun}",
        "the {order} of {place}",
    ),
    "tail": (
        "",
        "",
        "",
        "",
        ", and was never seen again",
        " in secret",
        " without a word",
        ", though none would thank them for it",
        " beneath a {adj} moon",
        " until the {noun} went out",
        ", {simile}",
        " for reasons no one recorded",
        " at the bottom of {place}",
        " before the eyes of the {order}",
        ", hoping to {verb} the {noun}",
        " so that the {noun} might sleep",
        ", heedless of the {order}",
        " with their own hands",
        " for {number} years",
        " in the name of the {noun}",
        " and called it mercy",
        ", and the {noun} let them",
        " on the road to {place}",
        " while {place} burned",
        ", much to the sorrow of {person}",
        " and asked for nothing in return",
        ", one {unit} at a time",
    ),
    "simile": (
        "like ash upon the wind",
        "like a candle in a flood",
        "as a child clutches a doll",
        "like a hound that has lost its master",
        "as the tide takes the shore",
        "like a lantern at the bottom of a well",
        "as one mourns a stranger",
        "like frost upon a grave",
        "as quietly as falling snow",
        "like a bell that rings for no one",
        "as a moth circles a dying flame",
        "like a {adj} prayer",
        "as patient as a {noun}",
        "as a thief returns to an empty house",
    ),
    "intrans": (
        "went hollow",
        "fell silent",
        "vanished into the mist",
        "wandered until memory failed",
        "knelt and did not rise",
        "turned to stone",
        "waited",
        "never wore the crown",
        "took the long sleep",
        "drowned in the deep",
        "became a beast",
        "vanished from every record",
        "lived on in {place}",
        "walked into the {noun} and was gone",
        "slept beneath {place}",
        "refused to die",
        "slept behind a {adj} seal",
        "grew old in {place}",
        "laughed, and then wept",
        "never spoke again",
    ),
    "spec_intro": (
        "Perhaps",
        "Some say",
        "It is whispered that",
        "The {order} believed that",
        "Legend holds that",
        "It may be that",
        "Few now recall that",
        "According to the {order},",
        "Old songs claim that",
        "The scholars of {place} insisted that",
        "If the tale is true,",
        "{person} once wrote that",
        "It is said in {place} that",
        "Whatever the {order} may claim,",
        "Even now,",
    ),
    "present": ("{pres_subject} {pres_pred}",),
    "pres_subject": (
        "the {noun}",
        "the {adj} {noun}",
        "{person}",
        "the {order} of {place}",
        "every {order_one}",
        "something beneath {place}",
        "the {kin} of {person}",
        "{place}",
        "the {noun} of {place}",
        "no {order_one}",
        "even the gods",
        "the first {order_one}",
    ),
    "pres_pred": (
        "never truly left {place}",
        "could never be extinguished",
        "knew more than was ever told",
        "will one day {verb} the {noun}",
        "remembered what was lost",
        "dreamed of {place} until the end",
        "never forgave {person}",
        "had a claim upon the {noun} of {place}",
        "could still hear the {noun} {hear_when}",
        "feared the {noun} more than death",
        "sought the {noun} in vain",
        "lived only in the dreams of the {order}",
        "carried a little of the {noun} {inside}",
        "kept a {noun} lit for {person}",
        "would have chosen {place} over the {noun}",
        "had already {pp} long before",
        "owed the {order} a {adj} debt",
        "came from the {noun} and the {noun2} of {place}",
    ),
    "hear_when": ("at night", "in dreams", "over the water", "through the walls of {place}", "in the rain", "at dusk"),
    "inside": ("within", "in their bones", "to the grave", "in a {material} box", "beneath the tongue"),
    "thing_origin": ("{origin_verb} {origin_where}{origin_when}",),
    "origin_verb": (
        "once wielded",
        "found",
        "recovered",
        "left",
        "buried",
        "hidden",
        "carried",
        "lost",
        "dropped",
        "kept",
        "abandoned",
        "blessed",
        "worn",
        "treasured",
        "forged",
        "stolen",
        "dredged up",
        "mended",
    ),
    "origin_where": (
        "by {person}",
        "in the ruins of {place}",
        "among the {order} of {place}",
        "beneath the {noun} of {place}",
        "at the foot of the {adj} {noun}",
        "in the hands of a {adj} {order_one}",
        "by the {kin} of {person}",
        "on the road to {place}",
        "in a {adj} tomb near {place}",
        "beside the {noun} where {person} fell",
        "by the {order}",
        "in the {forge} of {place}",
        "by a {adj} {order_one} of {place}",
        "in the {waters} of {place}",
    ),
    "origin_when": (
        "",
        "",
        "",
        " long ago",
        " after the {noun} faded",
        " during the {ordinal} war",
        " before the fall of {place}",
        " and then forgotten",
        " for {number} years",
        " on a {adj} night",
        " in the {season} of the {noun}",
    ),
    "waters": ("waters", "flooded halls", "black pools", "cisterns", "marshes", "frozen lakes", "wells"),
    "season": ("winter", "summer", "autumn", "long night", "year", "age"),
    "quality": (
        "its {part} {part_state}",
        "its {part} {part_state}",
        "{part_state}",
        "still warm after {number} years",
        "heavier than a {noun} of {material}",
        "{simile}",
        "{part_state} where {person} once held it",
    ),
    "part_state": (
        "still keen",
        "cold to the touch",
        "stained with {element}",
        "wrapped in {material}",
        "etched with the names of the {order}",
        "cracked down the middle",
        "worn smooth by a {kin}'s hands",
        "dark with old {element}",
        "notched in {number} places",
        "polished to a {adj} sheen",
        "bound with {material} wire",
        "scorched by {element}",
        "humming faintly {hear_when}",
        "marked with the sign of the {noun}",
    ),
    "heft": ("heavy", "light", "long", "short", "slender", "brutal", "cumbersome", "swift", "balanced", "plain"),
    "weapon_trait": (
        "that staggers foes",
        "favoured by the {order} of {place}",
        "with a {adj} {part}",
        "that cleaves through shields",
        "built for {action}",
        "that rewards patience",
        "prized in {place}",
        "that few can wield for long",
        "made to {verb} the {noun}",
    ),
    "armor_kind": ("armor", "a robe", "a hood", "gauntlets", "a mantle", "a cowl", "boots", "a veil", "a coat"),
    "on_whom": ("upon foes", "upon the caster's enemies", "in a wide circle", "from a {adj} sky", "at close range"),
    "use_note": (
        "favoured by the {order} of {place}",
        "a remedy first brewed by {person}",
        "the {order} never travel without one",
        "its taste recalls {material}",
        "{simile}",
        "the effect fades {fade}",
    ),
    "fade": ("with time", "at dusk", "when the bearer sleeps", "after a few breaths", "if the {noun} is near"),
    "road": ("long", "cold", "crooked", "lonely", "narrow", "paved with ash"),
    "where": (
        "from beyond the {noun}",
        "in the {adj} dark",
        "behind the {barrier}",
        "far below {place}",
        "close at hand",
        "among the {order}",
    ),
    "beacon": ("bonfire", "lantern", "pyre", "brazier", "beacon", "candle", "lamp", "hearth"),
    "forge": ("furnaces", "kilns", "deep forges", "fire pits", "workshops", "anvils"),
    "part": ("blade", "hilt", "grip", "pommel", "edge", "clasp", "lining", "band", "surface", "stitching", "face"),
    "hum": ("hums", "glows faintly", "grows warm", "trembles", "weeps", "sings softly", "darkens", "grows cold"),
    "condition": (
        "the {noun} is near",
        "its bearer is afraid",
        "the moon is full",
        "{order} draw near",
        "rain falls over {place}",
        "someone speaks the name of {person}",
        "the bells of {place} ring",
        "blood is spilled upon it",
        "it is carried into the dark",
        "its bearer lies",
    ),
    "noun2": ("ember", "tear", "seed", "stone", "coin", "eye", "ash", "bone", "idol", "egg"),
    "ordinal": ("first", "second", "third", "last", "longest", "forgotten"),
    "number": ("seven", "a hundred", "a thousand", "forty", "nine", "twelve", "countless"),
    "unit": ("stone", "soul", "name", "grave", "step", "candle"),
    "verb": (
        "kindle",
        "seal",
        "claim",
        "guard",
        "break",
        "bury",
        "wake",
        "mourn",
        "redeem",
        "forsake",
        "carry",
        "silence",
        "unmake",
        "find",
    ),
    # game-rule sentences of descriptions
    "effect": (
        "boosts {element} damage{effect_when}",
        "raises resistance to {element}{effect_when}",
        "restores {amount} of HP{effect_when}",
        "reduces the stamina cost of {action}{effect_when}",
        "increases souls gained from foes{effect_when}",
        "cures {status}",
        "quiets the sound of footsteps{effect_when}",
        "casts a faint light around the wearer{effect_when}",
        "draws out the {element} within the weapon",
        "slowly restores HP{effect_when}",
        "raises maximum equip load{effect_when}",
        "reduces damage from falls",
        "attracts the attention of spirits",
        "grants brief resistance to {element}",
    ),
    "effect_when": (
        "",
        "",
        " for a short time",
        " while equipped",
        " when HP is low",
        " at the cost of {cost}",
        " in the dark",
        " when wielded with both hands",
        " for each {noun} carried",
        " but {drawback}",
        " while the moon is full",
    ),
    "amount": ("a small amount", "a great deal", "a modest amount", "a sliver"),
    "action": ("rolling", "sprinting", "blocking", "spells", "heavy attacks", "backsteps", "charged attacks"),
    "status": ("poison", "bleeding", "frostbite", "curse", "rot", "toxic"),
    "cost": ("maximum HP", "stamina", "a little of the wearer's soul", "equip load", "poise"),
    "drawback": (
        "slowly drains HP",
        "weakens defence against {element}",
        "draws the ire of the {order}",
        "makes the wearer easier to see",
        "dulls the wielder's strength",
    ),
    # dialogue
    "interj": ("Ahh", "Oh", "Hm", "Well", "Hah", "Ah, yes", "Listen", "Forgive me", "Hmph", "Oh, it's you", "Mm"),
    "address": (
        "traveller",
        "Undead",
        "friend",
        "little ember",
        "stranger",
        "pilgrim",
        "my lord",
        "Ashen one",
        "child",
        "knight",
        "wanderer",
        "my dear",
    ),
    "question": ("{q_lead}{q_body}{q_tail}?",),
    "q_lead": ("", "", "", "Tell me, {address}, ", "Be honest: ", "Hm, ", "Say, ", "And you, {address}... "),
    "q_body": (
        "have you come from {place}",
        "did {person} send you",
        "do you know what the {order} did to {place}",
        "why would anyone {verb} the {noun}",
        "what brings a {adj} {address_plain} so far from {place}",
        "is it true that {present}",
        "have you seen the {noun} of {place} with your own eyes",
        "would you {verb} the {noun} for me, if I asked",
        "does the {noun} still burn in {place}",
        "who taught you to {verb} a {noun} like that",
        "can you hear the {noun} calling from {place}",
        "did the {order} tell you nothing of {person}",
        "what will you do when the {noun} of {place} falls",
        "have you ever {pp}",
        "is that {object} I see on your back",
    ),
    "q_tail": (
        "",
        "",
        ", {address}",
        " after all this time",
        " of all places",
        " before the {noun} fails",
        ", or am I dreaming again",
        " with a {weapon} like that",
    ),
    "address_plain": ("traveller", "pilgrim", "stranger", "wanderer", "knight", "soul"),
    "i_clause": (
        "I {vpast} {object}{tail}",
        "I was once a {adj} {order_one} of {place}, {i_until}",
        "I have not slept since {object} {intrans}",
        "I served {person} for {number} years, {i_until}",
        "I came to {place} to {verb} the {noun}, {i_until}",
        "I remember when the {order} still sang in {place}",
        "we {vpast} {object}{tail}",
        "my {kin} {intrans}{tail}",
        "I saw {subject} {verb} {object} with my own eyes",
        "I owe {subject} a debt I cannot pay",
        "I have {pp}, and still the {noun} {hum}",
        "I only wanted to {verb} {object}",
    ),
    "i_until": (
        "and now look at me",
        "before the {noun} took everything",
        "until {place} fell",
        "though you would never know it",
        "and I would do it again",
        "but that was {number} winters ago",
        "until {person} {intrans}",
    ),
    "imperative": ("{imp_verb} {object}{imp_tail}",),
    "imp_verb": (
        "go and find",
        "take",
        "leave",
        "never trust",
        "seek",
        "bring me",
        "burn",
        "bury",
        "do not touch",
        "guard",
        "forget",
        "remember",
        "carry",
        "speak to",
        "do not wake",
    ),
    "imp_tail": (
        ", {address}",
        " before {place} takes you",
        ", if you must",
        " and do not look back",
        ", for {present}",
        " when the moon is {moon_state}",
        "",
        ", and think of {person}",
        ", and we shall speak again",
        " while you still can",
    ),
    "moon_state": ("full", "new", "red", "hidden", "waning"),
    "archaic": (
        "Thou hast {pp}, yet the {noun} hath not forgotten thee.",
        "Art thou come to {verb} the {noun}, or merely to die beside it?",
        "Pray, {address}, for thy {noun} groweth dim and {place} is far.",
        "Knowest thou the tale of {person}, who {vpast} {object}?",
        "Hearken, {address}: the {noun} of {place} doth stir once more.",
        "Seek thee the {noun} of {material}, and thou shalt find {place} waiting.",
        "Thy {noun2} is {adj}, {address}, and thy road to {place} is {road}.",
        "Wouldst thou {verb} the {noun} for one such as I?",
        "Verily, the {order} did {verb} the {noun}{tail}.",
    ),
    "pp": (
        "walked far",
        "borne the curse",
        "seen the {noun} fade",
        "crossed {place}",
        "knelt before the {noun}",
        "slain a {adj} {order_one}",
        "drunk from the {waters} of {place}",
        "heard the {noun} sing",
    ),
    "aside": (
        "Hah, listen to me",
        "but what do I know",
        "or so they tell me",
        "forgive an old fool",
        "heh heh",
        "mark my words",
        "if you believe such things",
    ),
    # event text
    "barrier": ("door", "gate", "seal", "portcullis", "wall of {element}", "bridge", "hatch", "coffin lid", "curtain"),
    "barrier_state": (
        "will not open from this side",
        "is sealed by a {adj} sigil",
        "bars the way",
        "is locked tight",
        "crumbles at your touch",
        "answers only to the {noun}",
        "will not budge",
        "has rusted shut",
    ),
    "sense": ("sense", "hear", "feel", "smell", "glimpse"),
    "presence": (
        "a {adj} spirit",
        "the call of the {noun}",
        "something moving beneath {place}",
        "a faint voice beyond the {noun}",
        "the warmth of a distant {noun}",
        "the gaze of the {order}",
        "{element} gathering in the air",
        "bells ringing far below",
    ),
}


_ARTICLE = re.compile(r"\b([Aa]) ([aeiouAEIOU])")


class Grammar:
    """A random phrase grammar for souls-like lore; one seed gives one reproducible set of texts."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.people = sorted({self._person() for _ in range(140)})
        self.places = sorted({self._place() for _ in range(50)} | set(PLACE_FORMS))

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return self.rng.choice(options)

    def _person(self) -> str:
        name = self.pick(SYLLABLES_A) + self.pick(SYLLABLES_B)
        return name if self.rng.random() < 0.4 else f"{self.pick(TITLES)} {name}"

    def _place(self) -> str:
        return self.pick(PLACE_A) + self.pick(PLACE_B)

    def fill(self, template: str) -> str:
        """Fill every {slot} of `template`; slots can expand into text with further slots."""
        words = {
            "person": lambda: self.pick(self.people),
            "place": lambda: self.pick(self.places),
            "noun": lambda: self.pick(NOUNS),
            "adj": lambda: self.pick(ADJECTIVES),
            "material": lambda: self.pick(MATERIALS),
            "element": lambda: self.pick(ELEMENTS),
            "order": lambda: self.pick(ORDERS),
            "order_one": lambda: self.pick(ORDERS).removesuffix("s"),
            "weapon": lambda: self.pick(WEAPONS),
            "kin": lambda: self.pick(KIN),
        }
        out = template
        while "{" in out:
            start = out.index("{")
            end = out.index("}", start)
            slot = out[start + 1 : end]
            text = words[slot]() if slot in words else self.pick(PHRASES[slot])
            out = out[:start] + text + out[end + 1 :]
        return out

    def finish(self, text: str, end: str = ".") -> str:
        """Fix articles, capitalise the first letter and end the sentence."""
        text = _ARTICLE.sub(r"\1n \2", text).strip()
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
    templates = (
        "the {adj} {barrier} of {place} {barrier_state}",
        "a {adj} {barrier} {barrier_state}",
        "you {sense} {presence} {where}",
        "somewhere in {place}, you {sense} {presence}",
        "the {beacon} has been lit once more; you {sense} {presence} {where}",
        "this {barrier} {barrier_state}; perhaps the {order} hold the key",
    )
    return [(10000 + i, grammar.sentence(templates) + ".") for i in range(count)]


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
    binder_path.write_bytes(dcx_bytes(binder_bytes(members)))

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
