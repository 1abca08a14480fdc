"""Titles added to the core archetypes so that every demand segment has enough of them: new
releases, young titles, lumpy slow sellers and pre-publication titles (`catalog.segments`).

They come from a random stream of their own, so the core titles' sales stay the same.
"""

from __future__ import annotations

import numpy as np

from shelfcast.catalog.sample.titles import (
    CLASSES,
    Drafter,
    Title,
    classes_of,
    frontlist,
    is_educational,
)
from shelfcast.catalog.sample.words import pick

RETURNING = 0.4  # share of new and forthcoming titles by an author launched before
_BY_NAME = {pc.name: pc for pc in CLASSES}


def plan_additions(
    draft: Drafter, n_weeks: int, mix: dict[str, tuple[int, ...]], earlier: list[Title]
) -> list[Title]:
    """Per sheet, `mix`'s counts of new releases (on sale for the last 1-12 weeks), young
    titles (13-103 weeks; half seasonal, half slow), lumpy slow sellers (backlist) and
    pre-publication titles (published 1-26 weeks after the last week, no sales yet).

    Some new and forthcoming titles are by authors of `earlier` titles launched inside the
    catalogue (and in their product class), so a title's author has earlier launches to learn
    from.
    """
    rng = draft.rng
    last = float(n_weeks - 1)  # week index of the catalogue's last week
    plan: list[Title] = []
    for sheet, (n_new, n_young, n_lumpy, n_forthcoming) in mix.items():
        pcs = classes_of(sheet)
        launched = [
            t
            for t in earlier
            if t.sheet == sheet and t.launch >= 0 and not is_educational(_BY_NAME[t.product_class])
        ]

        def launch(archetype: str, week: float, pcs=pcs, launched=launched) -> Title:
            returning = {}
            if launched and rng.random() < RETURNING:
                before = launched[int(rng.integers(len(launched)))]
                pc, returning = _BY_NAME[before.product_class], {"author": before.author}
            else:
                pc = pick(rng, pcs)
            return draft.title(
                pc,
                archetype,
                launch=week,
                **frontlist(rng),
                trend=rng.normal(-0.05, 0.04),
                **returning,
            )

        plan += [launch("new release", last - rng.uniform(0.0, 12.0)) for _ in range(n_new)]
        for i in range(n_young):
            pc, week = pick(rng, pcs), last - rng.uniform(15.0, 100.0)
            if i % 2 == 0:  # seasonal: a modest launch, then a strong season every year
                seasons = tuple(1.6 * a for a in draft.amplitudes(pc))
                plan.append(draft.title(
                    pc, "young", launch=week, base=rng.lognormal(np.log(15.0), 0.6),
                    boost=rng.lognormal(np.log(3.0), 0.5), tau=rng.uniform(4.0, 12.0),
                    seasons=seasons,
                ))  # fmt: skip
            else:  # slow: a few copies a week at most, many weeks without a sale
                plan.append(draft.title(
                    pc, "young", launch=week, base=rng.uniform(0.3, 2.0),
                    boost=rng.lognormal(np.log(2.0), 0.5), tau=rng.uniform(4.0, 12.0),
                    dispersion=rng.uniform(0.8, 3.0), shock_sd=rng.uniform(0.05, 0.12),
                ))  # fmt: skip
        for _ in range(n_lumpy):  # occasional orders of several copies (class sets, events)
            plan.append(draft.title(
                pick(rng, pcs), "lumpy", launch=-rng.uniform(52.0, 600.0),
                base=rng.uniform(0.8, 3.0), trend=rng.normal(0.0, 0.02),
                dispersion=rng.uniform(0.15, 0.4), shock_sd=rng.uniform(0.05, 0.12),
            ))  # fmt: skip
        for _ in range(n_forthcoming):
            plan.append(launch("forthcoming", last + float(rng.integers(1, 27))))
    return plan
