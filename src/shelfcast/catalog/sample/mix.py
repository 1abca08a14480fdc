"""How many titles of each archetype the sample catalogue has in each category sheet, and the
same mix scaled to any number of titles."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shelfcast.errors import ShelfcastError

SEED_TITLES = 2  # The Alchemist and The Very Hungry Caterpillar, in every catalogue
MAX_TITLES = 200_000

# Per sheet: (backlist, frontlist, edition pairs, low sellers). Edition pairs are two ISBNs
# each: a hardback and the paperback that replaces it (in S, a first edition and the revised
# edition that replaces it).
CORE = {"F": (61, 40, 14, 20), "S": (26, 10, 4, 16), "T": (55, 35, 12, 26), "Y": (76, 40, 5, 23)}
CORE_ARCHETYPES = ("backlist", "frontlist", "edition", "low seller")
CORE_ISBNS = (1, 1, 2, 1)
# Per sheet: (new releases, young titles, lumpy slow sellers, pre-publication titles), drawn
# from a stream of their own so that every demand segment has enough titles.
ADDED = {"F": (8, 8, 4, 7), "S": (5, 4, 4, 4), "T": (8, 8, 4, 7), "Y": (8, 8, 3, 7)}
ADDED_ARCHETYPES = ("new release", "young", "lumpy", "forthcoming")
ADDED_ISBNS = (1, 1, 1, 1)


@dataclass(frozen=True)
class Mix:
    """Counts per sheet of the core archetypes (`CORE`'s order) and of the added groups
    (`ADDED`'s order)."""

    core: dict[str, tuple[int, ...]]
    added: dict[str, tuple[int, ...]]

    @property
    def titles(self) -> int:
        """ISBNs in a catalogue of this mix, the seed titles included."""
        return SEED_TITLES + sum(
            n * size
            for counts, sizes in ((self.core, CORE_ISBNS), (self.added, ADDED_ISBNS))
            for per_sheet in counts.values()
            for n, size in zip(per_sheet, sizes, strict=True)
        )


DEFAULT_MIX = Mix(CORE, ADDED)


def scaled_mix(titles: int | None = None) -> Mix:
    """The default mix (None), or the mix of exactly `titles` ISBNs in the default's proportions
    (largest remainders; the seed titles stay)."""
    if titles is None or titles == DEFAULT_MIX.titles:
        return DEFAULT_MIX
    if not SEED_TITLES <= titles <= MAX_TITLES:
        raise ShelfcastError(
            f"the sample catalogue has {SEED_TITLES} to {MAX_TITLES:,} titles, not {titles:,}"
        )
    scale = (titles - SEED_TITLES) / (DEFAULT_MIX.titles - SEED_TITLES)
    units = [
        (part, sheet, j, size, n * scale)
        for part, mix, sizes in (("core", CORE, CORE_ISBNS), ("added", ADDED, ADDED_ISBNS))
        for sheet, per_sheet in mix.items()
        for j, (n, size) in enumerate(zip(per_sheet, sizes, strict=True))
    ]
    counts = {(part, sheet, j): math.floor(exact) for part, sheet, j, _, exact in units}
    left = titles - SEED_TITLES - sum(counts[u[:3]] * u[3] for u in units)
    by_remainder = sorted(units, key=lambda u: u[4] - math.floor(u[4]), reverse=True)
    while left:
        for part, sheet, j, size, _ in by_remainder:
            if size <= left:
                counts[part, sheet, j] += 1
                left -= size
    return Mix(
        *(
            {s: tuple(counts[part, s, j] for j in range(len(n))) for s, n in mix.items()}
            for part, mix in (("core", CORE), ("added", ADDED))
        )
    )
