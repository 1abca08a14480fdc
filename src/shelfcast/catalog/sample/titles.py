"""The titles of the sample catalogue, one record per ISBN: the two seed titles and the
generated backlist, frontlist, edition pairs and low sellers of each category sheet, with
their metadata (title, author, product class, binding, publisher, RRP) and the parameters
of their weekly sales (launch, level, decay, trend, seasonality, noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shelfcast.catalog.sample.effects import SEASON_NAMES, WEEKS_PER_YEAR, season_vector
from shelfcast.catalog.sample.names import Namer
from shelfcast.catalog.sample.words import pick

ALCHEMIST = "9780722532935"
CATERPILLAR = "9780241003008"


@dataclass(frozen=True)
class ProductClass:
    sheet: str
    name: str
    seasons: dict[str, float]  # mean log-amplitude of each seasonal component
    bindings: dict[str, float]  # binding -> probability
    words: str  # which title generator to use


CLASSES: tuple[ProductClass, ...] = (
    ProductClass("F", "F1.1 General & Literary Fiction", {"christmas": 0.55, "summer": 0.25},
                  {"Paperback": 0.7, "Hardback": 0.2, "Trade Paperback": 0.1}, "novel"),
    ProductClass("F", "F2.1 Crime, Thriller & Adventure", {"christmas": 0.5, "summer": 0.3},
                  {"Paperback": 0.75, "Hardback": 0.2, "Trade Paperback": 0.05}, "novel"),
    ProductClass("F", "F2.3 Romance & Sagas", {"christmas": 0.4, "summer": 0.35},
                  {"Paperback": 0.9, "Hardback": 0.1}, "novel"),
    ProductClass("F", "F2.4 Science Fiction & Fantasy", {"christmas": 0.55, "summer": 0.1},
                  {"Paperback": 0.7, "Hardback": 0.3}, "novel"),
    ProductClass("S", "S1.1 Professional & Academic", {"back_to_school": 0.45},
                  {"Paperback": 0.6, "Hardback": 0.4}, "academic"),
    ProductClass("S", "S2.1 Computing & IT", {"back_to_school": 0.25, "new_year": 0.1},
                  {"Paperback": 0.9, "Spiral Bound": 0.1}, "computing"),
    ProductClass("S", "S3.1 Language & Reference", {"back_to_school": 0.5, "christmas": 0.2},
                  {"Paperback": 0.6, "Hardback": 0.3, "Flexibound": 0.1}, "language"),
    ProductClass("T", "T1.1 Biography & Autobiography", {"christmas": 1.0},
                  {"Hardback": 0.5, "Paperback": 0.5}, "memoir"),
    ProductClass("T", "T2.1 Food & Drink", {"christmas": 0.9, "new_year": -0.1},
                  {"Hardback": 0.7, "Paperback": 0.2, "Flexibound": 0.1}, "food"),
    ProductClass("T", "T3.1 Health, Diet & Self-Help", {"new_year": 0.8, "christmas": 0.15},
                  {"Paperback": 0.8, "Hardback": 0.2}, "health"),
    ProductClass("T", "T4.1 Humour & Gift", {"christmas": 1.3},
                  {"Hardback": 0.8, "Paperback": 0.2}, "gift"),
    ProductClass("T", "T5.1 Travel & Holiday Guides", {"summer": 0.45, "easter": 0.3},
                  {"Paperback": 0.9, "Spiral Bound": 0.1}, "travel"),
    ProductClass("T", "T6.1 Popular Science & History", {"christmas": 0.8},
                  {"Hardback": 0.4, "Paperback": 0.6}, "popsci"),
    ProductClass("Y", "Y1.1 Picture Books", {"christmas": 1.4, "easter": 0.35},
                  {"Paperback": 0.6, "Hardback": 0.25, "Board Book": 0.15}, "picture"),
    ProductClass("Y", "Y1.2 Pre-School & Early Learning",
                  {"christmas": 1.1, "easter": 0.3, "back_to_school": 0.3},
                  {"Board Book": 0.6, "Paperback": 0.3, "Hardback": 0.1}, "early"),
    ProductClass("Y", "Y2.1 Children's Fiction", {"christmas": 1.1, "summer": 0.3},
                  {"Paperback": 0.8, "Hardback": 0.2}, "childfic"),
    ProductClass("Y", "Y2.2 Young Adult Fiction", {"christmas": 0.75, "summer": 0.2},
                  {"Paperback": 0.85, "Hardback": 0.15}, "ya"),
    ProductClass("Y", "Y3.1 Primary Educational",
                  {"back_to_school": 0.7, "exams": 0.3, "christmas": -0.2},
                  {"Paperback": 0.9, "Spiral Bound": 0.1}, "primary"),
    ProductClass("Y", "Y3.2 Secondary Educational & Revision",
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
_BACKLIST_MEDIAN = {"F": 35.0, "S": 9.0, "T": 25.0, "Y": 45.0}  # weekly units, lognormal median


@dataclass
class Title:
    """One ISBN: its metadata and the parameters of its weekly sales."""

    archetype: str  # "seed" or one of `mix.CORE_ARCHETYPES` and `mix.ADDED_ARCHETYPES`
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


def seed_titles() -> list[Title]:
    """The Alchemist and The Very Hungry Caterpillar, shaped like their real sales profiles."""
    alchemist = Title(
        archetype="seed", isbn=ALCHEMIST, title="Alchemist, The", author="Coelho, Paulo",
        sheet="F", product_class="F1.1 General & Literary Fiction", binding="Paperback",
        imprint="Thorsons", group="HarperCollins Publishers Group", rrp=9.99,
        launch=-313.0, base=560.0, boost=0.0, tau=1.0, trend=0.016, stop=np.inf, fade=1.0,
        seasons=season_vector({"christmas": 0.7, "summer": 0.18, "new_year": 0.18}),
        lockdown=0.8, dispersion=150.0, shock_sd=0.02, discount=0.22,
    )  # fmt: skip
    caterpillar = Title(
        archetype="seed", isbn=CATERPILLAR, title="Very Hungry Caterpillar, The",
        author="Carle, Eric", sheet="Y", product_class="Y1.1 Picture Books", binding="Hardback",
        imprint="Puffin", group="Penguin Random House Group", rrp=7.99, launch=-1500.0,
        base=300.0, boost=0.0, tau=1.0, trend=0.02, stop=np.inf, fade=1.0,
        seasons=season_vector({"christmas": 1.15, "easter": 0.55, "back_to_school": 0.15}),
        lockdown=0.6, dispersion=120.0, shock_sd=0.03, discount=0.25,
    )  # fmt: skip
    return [alchemist, caterpillar]


def is_educational(pc: ProductClass) -> bool:
    """Primary and secondary educational titles: their imprint is their author."""
    return pc.words in ("primary", "secondary")


def _publisher(rng: np.random.Generator, pc: ProductClass) -> tuple[str, str, str]:
    """(group, imprint, ISBN prefix) for a title of this product class."""
    if is_educational(pc):
        group = _EDUCATION_GROUP
    elif pc.sheet == "S" and rng.random() < 0.7:
        group = _ACADEMIC_GROUP
    else:
        trade = [g for g in _PUBLISHERS if g not in (_EDUCATION_GROUP, _ACADEMIC_GROUP)]
        group = pick(rng, trade)
    imprint, prefix = _PUBLISHERS[group][int(rng.integers(len(_PUBLISHERS[group])))]
    return group, imprint, prefix


def _rrp(rng: np.random.Generator, pc: ProductClass, binding: str) -> float:
    if is_educational(pc):
        return pick(rng, _EDUCATIONAL_RRP)
    if pc.sheet == "Y" and binding in _CHILDRENS_RRP:
        return pick(rng, _CHILDRENS_RRP[binding])
    return pick(rng, _RRP[binding])


class Drafter:
    """Draws titles: metadata from the namer and the catalogue's facts, sales parameters from
    the random stream, with a backlist title's defaults that keywords override."""

    def __init__(self, rng: np.random.Generator, namer: Namer):
        self.rng = rng
        self.namer = namer

    def amplitudes(self, pc: ProductClass) -> tuple[float, ...]:
        """The product class's seasonal amplitudes, scaled by a factor of the title's."""
        scale = self.rng.lognormal(0.0, 0.35)
        return tuple(pc.seasons.get(name, 0.0) * scale for name in SEASON_NAMES)

    def out_of_print(self, start: float, probability: float, years: tuple[float, float]) -> float:
        """With `probability`, a week some `years` after `start` when the fade starts (else inf)."""
        if self.rng.random() >= probability:
            return np.inf
        return start + self.rng.uniform(*years) * WEEKS_PER_YEAR

    def title(self, pc: ProductClass, archetype: str, **kw: object) -> Title:
        """A title of class `pc`; keywords set any of its metadata and parameters."""
        rng, namer = self.rng, self.namer
        binding = str(kw.pop("binding")) if "binding" in kw else _choose(rng, pc.bindings)
        group, imprint, prefix = _publisher(rng, pc)
        if "title" not in kw:
            kw["title"] = namer.title(pc.words)
        if "author" not in kw:
            kw["author"] = imprint if is_educational(pc) else namer.author()
        params: dict[str, object] = {
            "archetype": archetype, "isbn": namer.isbn(prefix), "sheet": pc.sheet,
            "product_class": pc.name, "binding": binding, "imprint": imprint, "group": group,
            "rrp": _rrp(rng, pc, binding), "boost": 0.0, "tau": 1.0,
            "trend": rng.normal(0.0, 0.03), "stop": np.inf, "fade": rng.uniform(6.0, 26.0),
            "seasons": self.amplitudes(pc),
            "lockdown": rng.uniform(0.1, 0.5) if is_educational(pc) else rng.uniform(0.6, 1.2),
            "dispersion": rng.uniform(8.0, 40.0), "shock_sd": rng.uniform(0.03, 0.08),
            "discount": rng.uniform(0.05, 0.35),
        }  # fmt: skip
        params.update(kw)
        return Title(**params)  # type: ignore[arg-type]


def classes_of(sheet: str) -> list[ProductClass]:
    return [pc for pc in CLASSES if pc.sheet == sheet]


def plan_titles(draft: Drafter, n_weeks: int, mix: dict[str, tuple[int, ...]]) -> list[Title]:
    """The seed titles and, per sheet, `mix`'s counts of backlist, frontlist, edition pairs and
    low sellers, with their parameters."""
    rng = draft.rng
    plan = seed_titles()
    end = float(n_weeks)
    for sheet, (n_back, n_front, n_pairs, n_low) in mix.items():
        pcs = classes_of(sheet)
        for _ in range(n_back):
            plan.append(draft.title(
                pick(rng, pcs), "backlist", launch=-rng.uniform(52.0, 1000.0),
                base=rng.lognormal(np.log(_BACKLIST_MEDIAN[sheet]), 0.9),
                stop=draft.out_of_print(100.0, 0.1, (0.0, (end - 100.0) / WEEKS_PER_YEAR)),
            ))  # fmt: skip
        for _ in range(n_front):
            launch = rng.uniform(0.0, end - 16.0)
            plan.append(draft.title(
                pick(rng, pcs), "frontlist", launch=launch, **frontlist(rng),
                trend=rng.normal(-0.05, 0.04), stop=draft.out_of_print(launch, 0.1, (2.0, 10.0)),
            ))  # fmt: skip
        for _ in range(n_pairs):
            pc = pick(rng, pcs)
            launch = rng.uniform(0.0, end - 80.0)
            successor = launch + rng.uniform(26.0, 56.0) * (6.0 if sheet == "S" else 1.0)
            successor = min(successor, end - 8.0)
            first = draft.title(
                pc, "edition", binding="Paperback" if sheet == "S" else "Hardback", launch=launch,
                base=rng.lognormal(np.log(10.0), 0.7), boost=rng.lognormal(np.log(15.0), 0.7),
                tau=rng.uniform(5.0, 20.0), trend=rng.normal(-0.1, 0.05), stop=successor,
                fade=rng.uniform(8.0, 20.0),
            )  # fmt: skip
            second = draft.title(
                pc, "edition", binding="Paperback", launch=successor,
                title=f"{first.title} (2nd Edition)" if sheet == "S" else first.title,
                base=first.base * rng.uniform(1.5, 4.0),
                boost=rng.lognormal(np.log(3.0), 0.5), tau=rng.uniform(6.0, 20.0),
                trend=rng.normal(-0.04, 0.03),
                stop=draft.out_of_print(successor, 0.2, (3.0, 12.0)),
                seasons=first.seasons, author=first.author, discount=first.discount,
            )  # fmt: skip
            plan += [first, second]
        for _ in range(n_low):
            launch = -rng.uniform(52.0, 600.0) if rng.random() < 0.5 else rng.uniform(0.0, end - 30)
            plan.append(draft.title(
                pick(rng, pcs), "low seller", launch=launch, base=rng.uniform(0.15, 3.0),
                trend=rng.normal(-0.02, 0.04),
                stop=draft.out_of_print(max(launch, 0.0), 0.5, (1.0, 8.0)),
                dispersion=rng.uniform(0.8, 3.0), shock_sd=rng.uniform(0.05, 0.12),
            ))  # fmt: skip
    return plan


def frontlist(rng: np.random.Generator) -> dict[str, float]:
    """A frontlist launch: its tail level, the peak over it, and the peak's decay."""
    return {
        "base": rng.lognormal(np.log(12.0), 0.8),
        "boost": rng.lognormal(np.log(12.0), 0.9),
        "tau": rng.uniform(6.0, 30.0),
    }


def _choose(rng: np.random.Generator, probabilities: dict[str, float]) -> str:
    keys = list(probabilities)
    p = np.array([probabilities[k] for k in keys])
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]
