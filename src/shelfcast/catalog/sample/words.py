"""Title text: word lists and the title patterns of each kind of book, and BookScan's title
form."""

from __future__ import annotations

import numpy as np


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


FIRST_NAMES = _words(
    "Harriet Tobias Imogen Rafe Celia Ewan Marnie Jasper Orla Felix Nerys Caspian Ada "
    "Linus Briony Ansel Tamsin Huxley Delphine Ivo Rosalind Emrys Wren Leopold Saoirse "
    "Barnaby Elspeth Rowan Clemency Ferdinand Maud Torin Hester Ambrose Juno Lachlan "
    "Isadora Crispin Philippa Gideon"
)
LAST_NAMES = _words(
    "Ashdown Blackwood Carraway Dunmore Ellery Fairbairn Greythorne Halloran Ingleby "
    "Jessop Kettering Lowther Mallender Nethercott Orrell Penhallow Quarrington Ravenhill "
    "Sallows Thackeray Underhill Vardy Wetherall Yarwood Abernethy Brockhurst Cottesloe "
    "Drummond Edevane Farrant Gorringe Hawtrey Ibbotson Jellicoe Kinnear Larkworthy "
    "Moxley Norcott Ottley Pendry Rathbone Stanier Tregear Upcott Villiers Whitlock "
    "Yelland Ainsworth Bellingham Cardew"
)
_ADJ = _words(
    "Silent Hidden Burning Forgotten Crimson Distant Winter Golden Broken Quiet Lost Wild "
    "Paper Glass Midnight Salt Iron Hollow Bright Last Secret Drowned Painted Northern "
    "Little Sleeping Borrowed Summer Scarlet Wandering"
)
_NOUN = _words(
    "Harbour Orchard Garden River Lighthouse Promise Stranger Daughter Island Letter Kingdom "
    "Shadow Station Library Meadow Tide Crown House Road Witness Hour Sister Map Fire Bridge "
    "Chapel Frost Inheritance Clockmaker Ferryman Cartographer Beekeeper"
)
_PLACE = _words(
    "Larkhill|Ashby Cross|Saltmarsh|Greystone|Fenwick|Merrow Bay|Kestrel Lane|Thornbury|"
    "Wrenfield|Calder Moor|Hollin Edge|Penmarrow",
    "|",
)
_TOPIC = _words(
    "Trees Bees Clouds Rivers Maps Clocks Salt Bridges Stars Rocks Ink Bones Rain Owls "
    "Islands Numbers Birdsong Tides Moss Mushrooms"
)
_FIELD = _words(
    "Clinical Psychology|Corporate Finance|Organic Chemistry|Contract Law|Nursing Practice|"
    "Microeconomics|Structural Engineering|Social Work|Human Physiology|Marketing|"
    "Project Management|Criminology|Pharmacology|Statistics",
    "|",
)
_LANGS = _words(
    "Python|SQL|Excel|JavaScript|Rust|Linux|Data Analysis|Networking|Cloud Computing|"
    "Machine Learning",
    "|",
)
_LANGUAGE = _words("French Spanish German Italian Portuguese Welsh Latin Japanese")
_FOOD = _words("Suppers Bakes Soups Salads Puddings Curries Bread Feasts Weeknights Tins Traybakes")
_ANIMAL = _words(
    "Badger Hedgehog Otter Fox Mole Owl Penguin Tiger Dragon Giraffe Bear Rabbit Goose "
    "Whale Mouse Crocodile"
)
_PLURAL = {"Fox": "Foxes", "Goose": "Geese", "Mouse": "Mice"}
_KID_ADJ = _words("Brave Sleepy Grumpy Hungry Tiny Busy Noisy Curious Wobbly Lonely Clever")
_KID = _words("Pip Milo Tilly Otto Bea Alfie Hattie Rory Nell Arlo Poppy Ziggy Mabel Stanley Edie")
_SUBJECT = _words("Maths English Science Biology Chemistry Physics History Geography French")


def pick(rng: np.random.Generator, words: tuple[str, ...] | list[str]) -> str:
    return words[int(rng.integers(len(words)))]


def title_text(rng: np.random.Generator, words: str) -> str:
    """A synthetic title for a product class's kind of book."""
    adj, noun, place = pick(rng, _ADJ), pick(rng, _NOUN), pick(rng, _PLACE)
    topic, kid, animal = pick(rng, _TOPIC), pick(rng, _KID), pick(rng, _ANIMAL)
    animals = _PLURAL.get(animal, f"{animal}s")
    year = int(rng.integers(1, 7))
    kid_adj, subject = pick(rng, _KID_ADJ), pick(rng, _SUBJECT)
    field, food = pick(rng, _FIELD), pick(rng, _FOOD)
    options: dict[str, list[str]] = {
        "novel": [f"The {adj} {noun}", f"The {noun} of {place}", f"{adj} {noun}",
                  f"A {noun} at {place}", f"The {noun}'s {pick(rng, _NOUN)}"],
        "academic": [f"Principles of {field}", f"{field}: An Introduction",
                     f"Handbook of {field}", f"Essentials of {field}"],
        "computing": [f"Learning {pick(rng, _LANGS)}", f"{pick(rng, _LANGS)} in Practice",
                      f"{pick(rng, _LANGS)} Step by Step"],
        "language": [f"Compact {pick(rng, _LANGUAGE)} Dictionary",
                     f"Essential {pick(rng, _LANGUAGE)} Verbs",
                     f"{pick(rng, _LANGUAGE)} Grammar Made Simple"],
        "memoir": [f"Notes from {place}", f"A Life in {topic}", f"The {adj} Years",
                   f"Letters from {place}"],
        "food": [f"Simple {pick(rng, _FOOD)}", f"The {place} Kitchen",
                 f"{int(rng.integers(3, 12)) * 10} {food}", f"{adj} {food}"],
        "health": [f"The {int(rng.integers(2, 9)) * 7}-Day Reset", f"Calm {noun}",
                   f"Eat Well, Sleep {pick(rng, ('Deep', 'Well', 'Better'))}", f"The {adj} Mind"],
        "gift": [f"The Big Book of {topic}", f"Why Do {animals} Do That?",
                 f"The {place} Quiz Book", f"A Year of {topic}"],
        "travel": [f"Walking the {place} Way", f"{place}: The Pocket Guide",
                   f"Wild Swims of {place}"],
        "popsci": [f"The Secret Life of {topic}", f"A Short History of {topic}",
                   f"The {adj} Science of {topic}"],
        "picture": [f"{kid} the {kid_adj} {animal}", f"Where Is {kid}'s {animal}?",
                    f"The {kid_adj} Little {animal}", f"{animals} Don't Wear Hats"],
        "early": [f"My First Book of {topic}", f"Touch and Feel: {animals}",
                  f"Counting {animals}", f"Goodnight, {animal}"],
        "childfic": [f"{kid} and the {adj} {noun}", f"The {noun} Detectives",
                     f"{kid} Saves the {noun}", f"The {adj} {animal} Club"],
        "ya": [f"We Were {adj}", f"{adj} {noun}s", f"The Girl from {place}",
               f"All the {adj} Hours"],
        "primary": [f"KS{1 if year < 3 else 2} {subject} Practice Workbook (Year {year})",
                    f"Times Tables {animals}",
                    f"KS2 {subject} SATs Practice Papers"],
        "secondary": [f"GCSE {subject} Revision Guide", f"A-Level {subject} Exam Practice",
                      f"GCSE {subject} Workbook", f"KS3 {subject} Study Book"],
    }  # fmt: skip
    return pick(rng, options[words])


def bookscan_title(text: str) -> str:
    """BookScan's title form: a leading article moves to the end ("Alchemist, The")."""
    for article in ("The ", "A "):
        if text.startswith(article):
            return f"{text[len(article) :]}, {article.strip()}"
    return text
