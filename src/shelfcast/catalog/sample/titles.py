"""The titles of the sample catalogue, one record per ISBN: the two seed titles and the
generated backlist, frontlist, edition pairs and low sellers of each category sheet, with
their metadata (title, author, product class, binding, publisher, RRP) and the parameters
of their weekly sales (launch, level, decay, trend, seasonality, noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shelfcast.catalog.isbn import isbn13_check_digit
from shelfcast.catalog.sample.effects import SEASON_NAMES, WEEKS_PER_YEAR, season_vector
from shelfcast.catalog.sample.layout import SHEETS
from shelfcast.catalog.sample.words import FIRST_NAMES, LAST_NAMES, bookscan_title, pick, title_text
from shelfcast.errors import ShelfcastError

ALCHEMIST = "9780722532935"
CATERPILLAR = "9780241003008"


@dataclass(frozen=True)
class _ProductClass:
    sheet: str
    name: str
    seasons: dict[str, float]  # mean log-amplitude of each seasonal component
    bindings: dict[str, float]  # binding -> probability
    words: str  # which title generator to use


_CLASSES: tuple[_ProductClass, ...] = (
    _ProductClass("F", "F1.1 General & Literary Fiction", {"christmas": 0.55, "summer": 0.25},
                  {"Paperback": 0.7, "Hardback": 0.2, "Trade Paperback": 0.1}, "novel"),
    _ProductClass("F", "F2.1 Crime, Thriller & Adventure", {"christmas": 0.5, "summer": 0.3},
                  {"Paperback": 0.75, "Hardback": 0.2, "Trade Paperback": 0.05}, "novel"),
    _ProductClass("F", "F2.3 Romance & Sagas", {"christmas": 0.4, "summer": 0.35},
                  {"Paperback": 0.9, "Hardback": 0.1}, "novel"),
    _ProductClass("F", "F2.4 Science Fiction & Fantasy", {"christmas": 0.55, "summer": 0.1},
                  {"Paperback": 0.7, "Hardback": 0.3}, "novel"),
    _ProductClass("S", "S1.1 Professional & Academic", {"back_to_school": 0.45},
                  {"Paperback": 0.6, "Hardback": 0.4}, "academic"),
    _ProductClass("S", "S2.1 Computing & IT", {"back_to_school": 0.25, "new_year": 0.1},
                  {"Paperback": 0.9, "Spiral Bound": 0.1}, "computing"),
    _ProductClass("S", "S3.1 Language & Reference", {"back_to_school": 0.5, "christmas": 0.2},
                  {"Paperback": 0.6, "Hardback": 0.3, "Flexibound": 0.1}, "language"),
    _ProductClass("T", "T1.1 Biography & Autobiography", {"christmas": 1.0},
                  {"Hardback": 0.5, "Paperback": 0.5}, "memoir"),
    _ProductClass("T", "T2.1 Food & Drink", {"christmas": 0.9, "new_year": -0.1},
                  {"Hardback": 0.7, "Paperback": 0.2, "Flexibound": 0.1}, "food"),
    _ProductClass("T", "T3.1 Health, Diet & Self-Help", {"new_year": 0.8, "christmas": 0.15},
                  {"Paperback": 0.8, "Hardback": 0.2}, "health"),
    _ProductClass("T", "T4.1 Humour & Gift", {"christmas": 1.3},
                  {"Hardback": 0.8, "Paperback": 0.2}, "gift"),
    _ProductClass("T", "T5.1 Travel & Holiday Guides", {"summer": 0.45, "easter": 0.3},
                  {"Paperback": 0.9, "Spiral Bound": 0.1}, "travel"),
    _ProductClass("T", "T6.1 Popular Science & History", {"christmas": 0.8},
                  {"Hardback": 0.4, "Paperback": 0.6}, "popsci"),
    _ProductClass("Y", "Y1.1 Picture Books", {"christmas": 1.4, "easter": 0.35},
                  {"Paperback": 0.6, "Hardback": 0.25, "Board Book": 0.15}, "picture"),
    _ProductClass("Y", "Y1.2 Pre-School & Early Learning",
                  {"christmas": 1.1, "easter": 0.3, "back_to_school": 0.3},
                  {"Board Book": 0.6, "Paperback": 0.3, "Hardback": 0.1}, "early"),
    _ProductClass("Y", "Y2.1 Children's Fiction", {"christmas": 1.1, "summer": 0.3},
                  {"Paperback": 0.8, "Hardback": 0.2}, "childfic"),
    _ProductClass("Y", "Y2.2 Young Adult Fiction", {"christmas": 0.75, "summer": 0.2},
                  {"Paperback": 0.85, "Hardback": 0.15}, "ya"),
    _ProductClass("Y", "Y3.1 Primary Educational",
                  {"back_to_school": 0.7, "exams": 0.3, "christmas": -0.2},
                  {"Paperback": 0.9, "Spiral Bound": 0.1}, "primary"),
    _ProductClass("Y", "Y3.2 Secondary Educational & Revision",
                  {"exams": 0.8, "back_to_school": 0.5, "christmas": -0.3},
                  {"Paperback": 1.0}, "secondary"),
)  # fmt: skip

_RRP = {
    "Hardback": (12.99, 14.99, 16.99, 18.99, 20.00, 25.00),
    "Paperback": (6.99, 7.99, 8.99, 9.99),
    "Trade Paperback": (12.99, 14.99, 16.99),
    "Board Book": (5.99, 6.99, 7.99),
    "Spiral Bound": (9.99, 12.99),
    "Flexibound": (14.99, 19.99),
}
_CHILDRENS_RRP = {"Hardback": (9.99, 11.99, 12.99), "Paperback": (5.99, 6.99, 7.99)}
_EDUCATIONAL_RRP = (4.99, 5.99, 6.99, 8.99)

# --- publishers ------------------------------------------------------------------------------
# Synthetic groups and imprints, each imprint with an English-language ISBN prefix.
_PUBLISHERS: dict[str, tuple[tuple[str, str], ...]] = {
    "Harbourside Publishing Group": (
        ("Harbourside", "978184731"),
        ("Lantern Books", "978190745"),
        ("Quayside Press", "978178562"),
    ),
    "Northwind Media Group": (
        ("Northwind", "978147221"),
        ("Fellgate", "978191102"),
        ("Kestrel Children's", "978184939"),
    ),
    "Albion House Group": (
        ("Albion House", "978140913"),
        ("Marlow & Finch", "978178329"),
        ("Little Albion", "978144085"),
    ),
    "Greywell Education Group": (
        ("Greywell", "978184146"),
        ("Brightpath Learning", "978178294"),
    ),
    "Stoneleigh Academic Group": (
        ("Stoneleigh", "978113803"),
        ("Praxis Professional", "978147425"),
    ),
    "Independent Publishers": (
        ("Moorhen Press", "978191621"),
        ("Bramble & Quill", "978191323"),
        ("Salt Road Books", "978191508"),
    ),
}
# Which groups publish which sheet (groups not listed publish everything but educational).
_EDUCATION_GROUP = "Greywell Education Group"
_ACADEMIC_GROUP = "Stoneleigh Academic Group"

# --- title archetypes --------------------------------------------------------------------------
# Per sheet: number of (backlist, frontlist, edition pairs, low sellers); seed titles come on top.
# Edition pairs are two ISBNs each: a hardback and the paperback that replaces it (in S, a
# first edition and the revised edition that replaces it).
_MIX = {"F": (61, 40, 14, 20), "S": (26, 10, 4, 16), "T": (55, 35, 12, 26), "Y": (76, 40, 5, 23)}
_BACKLIST_MEDIAN = {"F": 35.0, "S": 9.0, "T": 25.0, "Y": 45.0}  # weekly units, lognormal median


@dataclass
class Title:
    """One ISBN: its metadata and the parameters of its weekly sales."""

    isbn: str
    title: str
    author: str
    sheet: str
    product_class: str
    binding: str
    imprint: str
    group: str
    rrp: float
    launch: float  # week index of the first week on sale (negative: before the catalogue)
    base: float  # weekly units of the settled level (the backlist level, or a launch's tail)
    boost: float  # launch peak over the settled level, minus one
    tau: float  # weeks for the launch peak to decay by e
    trend: float  # log change per year after launch
    stop: float  # week index where a fade to out of print starts (inf: still in print)
    fade: float  # weeks of that fade's e-folding; sales stop after 4 of them
    seasons: tuple[float, ...]  # log-amplitude of each seasonal component
    lockdown: float  # exposure to the lockdown multipliers (0: none, 1: full)
    dispersion: float  # negative binomial size: smaller means noisier weeks
    shock_sd: float  # innovation s.d. of the slow AR(1) demand shocks (log scale)
    discount: float  # mean discount of the selling price from the RRP


def _seed_titles() -> list[Title]:
    """The Alchemist and The Very Hungry Caterpillar, shaped like their real sales profiles."""
    alchemist = Title(
        isbn=ALCHEMIST, title="Alchemist, The", author="Coelho, Paulo", sheet="F",
        product_class="F1.1 General & Literary Fiction", binding="Paperback",
        imprint="Thorsons", group="HarperCollins Publishers Group", rrp=9.99,
        launch=-313.0, base=560.0, boost=0.0, tau=1.0, trend=0.016, stop=np.inf, fade=1.0,
        seasons=season_vector({"christmas": 0.7, "summer": 0.18, "new_year": 0.18}),
        lockdown=0.8, dispersion=150.0, shock_sd=0.02, discount=0.22,
    )  # fmt: skip
    caterpillar = Title(
        isbn=CATERPILLAR, title="Very Hungry Caterpillar, The", author="Carle, Eric", sheet="Y",
        product_class="Y1.1 Picture Books", binding="Hardback", imprint="Puffin",
        group="Penguin Random House Group", rrp=7.99, launch=-1500.0, base=300.0, boost=0.0,
        tau=1.0, trend=0.02, stop=np.inf, fade=1.0,
        seasons=season_vector({"christmas": 1.15, "easter": 0.55, "back_to_school": 0.15}),
        lockdown=0.6, dispersion=120.0, shock_sd=0.03, discount=0.25,
    )  # fmt: skip
    return [alchemist, caterpillar]


class _Namer:
    """Unique titles, a pool of recurring authors, and unique ISBNs per imprint."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.titles: set[str] = {"Alchemist, The", "Very Hungry Caterpillar, The"}
        names = {f"{pick(rng, LAST_NAMES)}, {pick(rng, FIRST_NAMES)}" for _ in range(400)}
        self.authors = sorted(names)
        self.isbns: set[str] = {ALCHEMIST, CATERPILLAR}

    def title(self, words: str) -> str:
        for _ in range(200):
            text = bookscan_title(title_text(self.rng, words))
            if text not in self.titles:
                self.titles.add(text)
                return text
        raise ShelfcastError(f"sample generator ran out of distinct {words!r} titles")

    def author(self) -> str:
        return pick(self.rng, self.authors)

    def isbn(self, prefix: str) -> str:
        while True:
            body = f"{int(self.rng.integers(10 ** (12 - len(prefix)))):0{12 - len(prefix)}d}"
            isbn = prefix + body + isbn13_check_digit(prefix + body)
            if isbn not in self.isbns:
                self.isbns.add(isbn)
                return isbn


def _publisher(rng: np.random.Generator, pc: _ProductClass) -> tuple[str, str, str]:
    """(group, imprint, ISBN prefix) for a title of this product class."""
    if pc.words in ("primary", "secondary"):
        group = _EDUCATION_GROUP
    elif pc.sheet == "S" and rng.random() < 0.7:
        group = _ACADEMIC_GROUP
    else:
        trade = [g for g in _PUBLISHERS if g not in (_EDUCATION_GROUP, _ACADEMIC_GROUP)]
        group = pick(rng, trade)
    imprint, prefix = _PUBLISHERS[group][int(rng.integers(len(_PUBLISHERS[group])))]
    return group, imprint, prefix


def _rrp(rng: np.random.Generator, pc: _ProductClass, binding: str) -> float:
    if pc.words in ("primary", "secondary"):
        return pick(rng, _EDUCATIONAL_RRP)
    if pc.sheet == "Y" and binding in _CHILDRENS_RRP:
        return pick(rng, _CHILDRENS_RRP[binding])
    return pick(rng, _RRP[binding])


def plan_titles(rng: np.random.Generator, n_weeks: int) -> list[Title]:
    """Every title with its parameters: seed titles, backlist, frontlist, editions, low sellers."""
    namer = _Namer(rng)
    plan = _seed_titles()
    end = float(n_weeks)

    def amplitudes(pc: _ProductClass) -> tuple[float, ...]:
        scale = rng.lognormal(0.0, 0.35)
        return tuple(pc.seasons.get(name, 0.0) * scale for name in SEASON_NAMES)

    def out_of_print(start: float, probability: float, years: tuple[float, float]) -> float:
        if rng.random() >= probability:
            return np.inf
        return start + rng.uniform(*years) * WEEKS_PER_YEAR

    def title(pc: _ProductClass, **kw: object) -> Title:
        binding = str(kw.pop("binding")) if "binding" in kw else _choose(rng, pc.bindings)
        group, imprint, prefix = _publisher(rng, pc)
        educational = pc.words in ("primary", "secondary")
        if "title" not in kw:
            kw["title"] = namer.title(pc.words)
        if "author" not in kw:
            kw["author"] = imprint if educational else namer.author()
        params: dict[str, object] = {
            "isbn": namer.isbn(prefix), "sheet": pc.sheet,
            "product_class": pc.name, "binding": binding, "imprint": imprint, "group": group,
            "rrp": _rrp(rng, pc, binding), "boost": 0.0, "tau": 1.0,
            "trend": rng.normal(0.0, 0.03), "stop": np.inf, "fade": rng.uniform(6.0, 26.0),
            "seasons": amplitudes(pc),
            "lockdown": rng.uniform(0.1, 0.5) if educational else rng.uniform(0.6, 1.2),
            "dispersion": rng.uniform(8.0, 40.0), "shock_sd": rng.uniform(0.03, 0.08),
            "discount": rng.uniform(0.05, 0.35),
        }  # fmt: skip
        params.update(kw)
        return Title(**params)  # type: ignore[arg-type]

    classes = {sheet: [pc for pc in _CLASSES if pc.sheet == sheet] for sheet in SHEETS}
    for sheet, (n_back, n_front, n_pairs, n_low) in _MIX.items():
        pcs = classes[sheet]
        for _ in range(n_back):
            plan.append(title(
                pick(rng, pcs), launch=-rng.uniform(52.0, 1000.0),
                base=rng.lognormal(np.log(_BACKLIST_MEDIAN[sheet]), 0.9),
                stop=out_of_print(100.0, 0.1, (0.0, (end - 100.0) / WEEKS_PER_YEAR)),
            ))  # fmt: skip
        for _ in range(n_front):
            launch = rng.uniform(0.0, end - 16.0)
            plan.append(title(
                pick(rng, pcs), launch=launch, base=rng.lognormal(np.log(12.0), 0.8),
                boost=rng.lognormal(np.log(12.0), 0.9), tau=rng.uniform(6.0, 30.0),
                trend=rng.normal(-0.05, 0.04), stop=out_of_print(launch, 0.1, (2.0, 10.0)),
            ))  # fmt: skip
        for _ in range(n_pairs):
            pc = pick(rng, pcs)
            launch = rng.uniform(0.0, end - 80.0)
            successor = launch + rng.uniform(26.0, 56.0) * (6.0 if sheet == "S" else 1.0)
            successor = min(successor, end - 8.0)
            first = title(
                pc, binding="Paperback" if sheet == "S" else "Hardback", launch=launch,
                base=rng.lognormal(np.log(10.0), 0.7), boost=rng.lognormal(np.log(15.0), 0.7),
                tau=rng.uniform(5.0, 20.0), trend=rng.normal(-0.1, 0.05), stop=successor,
                fade=rng.uniform(8.0, 20.0),
            )  # fmt: skip
            second = title(
                pc, binding="Paperback", launch=successor,
                title=f"{first.title} (2nd Edition)" if sheet == "S" else first.title,
                base=first.base * rng.uniform(1.5, 4.0),
                boost=rng.lognormal(np.log(3.0), 0.5), tau=rng.uniform(6.0, 20.0),
                trend=rng.normal(-0.04, 0.03), stop=out_of_print(successor, 0.2, (3.0, 12.0)),
                seasons=first.seasons, author=first.author, discount=first.discount,
            )  # fmt: skip
            plan += [first, second]
        for _ in range(n_low):
            launch = -rng.uniform(52.0, 600.0) if rng.random() < 0.5 else rng.uniform(0.0, end - 30)
            plan.append(title(
                pick(rng, pcs), launch=launch, base=rng.uniform(0.15, 3.0),
                trend=rng.normal(-0.02, 0.04), stop=out_of_print(max(launch, 0.0), 0.5, (1.0, 8.0)),
                dispersion=rng.uniform(0.8, 3.0), shock_sd=rng.uniform(0.05, 0.12),
            ))  # fmt: skip
    return plan


def _choose(rng: np.random.Generator, probabilities: dict[str, float]) -> str:
    keys = list(probabilities)
    p = np.array([probabilities[k] for k in keys])
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]
