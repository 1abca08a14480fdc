"""The built-in sample catalogue: synthetic weekly sales in Nielsen BookScan's export layout.

Real BookScan data is licensed, so Shelfcast ships a generator instead. It draws 597 titles
across BookScan's four category sheets (or any number in the same mix), gives each a weekly
expected volume built from a life cycle (launch peak and decay, or a steady backlist level), a
long-run trend, the book market's trend, annual seasonality by product class, the 2020-21
lockdowns and slow demand shocks, and samples integer unit sales from a negative binomial
around it. Weeks without sales are absent rows, as in real exports. Every demand segment
(`catalog.segments`) has at least 20 titles, titles not yet published among them.
`docs/sample-catalogue.md` describes the model and its parameters.

The parts: `mix` (how many titles of each archetype), `titles` (every title's metadata and
sales parameters; names in `names`, title text in `words`), `additions` (the titles that fill
the new, young, lumpy and pre-publication segments), `effects` (seasonality, the market, the
lockdowns), `sales` (weekly volumes and prices as BookScan rows, chunk by chunk), `layout`
(BookScan's sheets and columns) and `files` (csv, parquet, xlsx and the title list).
"""

from shelfcast.catalog.sample.files import ISBN_LIST_FILE, SALES_STEM, Format, write_sample
from shelfcast.catalog.sample.layout import COLUMNS, METADATA_COLUMNS, SHEETS
from shelfcast.catalog.sample.mix import DEFAULT_MIX, MAX_TITLES, scaled_mix
from shelfcast.catalog.sample.sales import (
    FIRST_WEEK,
    GENERATOR_VERSION,
    LAST_WEEK,
    plan_catalogue,
    sample_catalogue,
)
from shelfcast.catalog.sample.titles import ALCHEMIST, CATERPILLAR

__all__ = [
    "ALCHEMIST",
    "CATERPILLAR",
    "COLUMNS",
    "DEFAULT_MIX",
    "FIRST_WEEK",
    "GENERATOR_VERSION",
    "ISBN_LIST_FILE",
    "LAST_WEEK",
    "MAX_TITLES",
    "METADATA_COLUMNS",
    "SALES_STEM",
    "SHEETS",
    "Format",
    "plan_catalogue",
    "sample_catalogue",
    "scaled_mix",
    "write_sample",
]
