"""The built-in sample catalogue: synthetic weekly sales in Nielsen BookScan's export layout.

Real BookScan data is licensed, so Shelfcast ships a generator instead. It draws 500 titles
across BookScan's four category sheets, gives each a weekly expected volume built from a life
cycle (launch peak and decay, or a steady backlist level), a long-run trend, the book market's
trend, annual seasonality by product class, the 2020-21 lockdowns and slow random demand
shocks, and samples integer unit sales from a negative binomial around it. Weeks without sales
are absent rows, as in real exports. `docs/sample-catalogue.md` describes the model and its
parameters.

The parts: `titles` (every title's metadata and sales parameters; title text in `words`),
`effects` (seasonality, the market, the lockdowns), `sales` (weekly volumes and prices as
BookScan rows), `layout` (BookScan's sheets and columns) and `files` (csv, parquet, xlsx).
"""

from shelfcast.catalog.sample.files import ISBN_LIST_FILE, SALES_STEM, Format, write_sample
from shelfcast.catalog.sample.layout import COLUMNS, SHEETS
from shelfcast.catalog.sample.sales import FIRST_WEEK, LAST_WEEK, sample_catalogue
from shelfcast.catalog.sample.titles import ALCHEMIST, CATERPILLAR

__all__ = [
    "ALCHEMIST",
    "CATERPILLAR",
    "COLUMNS",
    "FIRST_WEEK",
    "ISBN_LIST_FILE",
    "LAST_WEEK",
    "SALES_STEM",
    "SHEETS",
    "Format",
    "sample_catalogue",
    "write_sample",
]
