"""The catalogue the commands cover: every title of the sales data with its segment, narrowed
by ISBN, segment and count, and, for the titles without a series to model, why.

`read_catalogue` builds every title's weekly series from the start date on and its segment
(`catalog.segments`). A title with rows but no sale from the start on (no row at all, long
format) has no series; its segment comes from its whole history (pre-publication when it never
sold) and `missing` says why. `TitleFilter` narrows the catalogue: `isbns` (an ISBN absent from
the data is an error), `segments` (a stage, a demand class or `stage/demand`), then
`max_titles`, which keeps the titles that sold the most units over the catalogue's last 104
weeks (ties by key; a title without a series sold none). `catalogue_titles` is `shelfcast data
titles`: a row per title with its segment, its statistics and the seasonal selection's verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shelfcast.catalog.segments import (
    DEMAND_CLASSES,
    DEMAND_WINDOW,
    STAGES,
    Segment,
    is_segment_name,
    prepublication,
    segment_of,
)
from shelfcast.errors import ShelfcastError
from shelfcast.lifecycle.data import load_sales, load_titles
from shelfcast.lifecycle.progress import Progress, step
from shelfcast.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from shelfcast.catalog.reader import SalesData
    from shelfcast.catalog.series import TitleSeries
    from shelfcast.forecasting.prepublication import Announced

KEY_COLUMNS = {"bookscan": "isbn", "long": "unique_id"}
TITLE_COLUMNS = [
    "key",
    "title",
    "segment",
    "weeks",
    "adi",
    "cv2",
    "mean_volume_recent",
    "zero_share",
    "seasonal_strength",
    "acf52",
    "selected",
    "reason",
]


@dataclass(frozen=True)
class TitleFilter:
    """Which titles of the catalogue: `isbns` (in their order), those of any of `segments`,
    then at most `max_titles`, the best-selling over the last 104 weeks. Empty: every title."""

    isbns: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    max_titles: int | None = None

    def __post_init__(self) -> None:
        bad = [s for s in self.segments if not is_segment_name(s)]
        if bad:
            raise ShelfcastError(
                f"unknown segment(s) {bad}: give a stage ({', '.join(STAGES)}), a demand class "
                f"({', '.join(DEMAND_CLASSES)}) or stage/demand such as young/lumpy"
            )
        if self.max_titles is not None and self.max_titles < 1:
            raise ShelfcastError(f"max_titles must be at least 1, got {self.max_titles}")


@dataclass(frozen=True)
class SkippedTitle:
    """A title that was asked for and not forecast, and why."""

    key: str
    title: str | None
    segment: str
    reason: str


@dataclass(frozen=True)
class SegmentSummary:
    """One segment of the titles asked for: how many, how many were forecast, and the models
    chosen for them (model -> titles)."""

    segment: str
    titles: int
    forecast: int
    models: Mapping[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return self.titles - self.forecast


@dataclass(frozen=True)
class Catalogue:
    """Every title of the sales data, in key order: its series from the start date on (when it
    has one), its segment and title, and why a title without a series has none."""

    kind: str  # "bookscan" or "long"
    keys: tuple[str, ...]
    series: Mapping[str, TitleSeries]
    segments: Mapping[str, Segment]
    titles: Mapping[str, str | None]
    missing: Mapping[str, str]  # key -> why it has no series
    # titles of the title list without sales, known from their metadata alone
    announced: Mapping[str, Announced] = field(default_factory=dict)

    @property
    def key_column(self) -> str:
        """`isbn`, or `unique_id` for long-format series."""
        return KEY_COLUMNS[self.kind]

    def recent_volume(self, key: str) -> float:
        """Units sold over the catalogue's last 104 weeks (0 without a series)."""
        s = self.series.get(key)
        return 0.0 if s is None else float(s.values[-DEMAND_WINDOW:].sum())

    def narrow(self, wanted: TitleFilter) -> list[str]:
        """The keys `wanted` picks, in catalogue order (in the order of `wanted.isbns` if
        given). `ShelfcastError` for ISBNs not in the data."""
        keys = list(self.keys)
        if wanted.isbns:
            known = set(keys)
            absent = [k for k in dict.fromkeys(wanted.isbns) if k not in known]
            if absent:
                raise ShelfcastError(f"not in the sales data: {len(absent)} key(s): {absent[:5]}")
            keys = list(dict.fromkeys(wanted.isbns))
        if wanted.segments:
            keys = [k for k in keys if any(self.segments[k].matches(s) for s in wanted.segments)]
        if wanted.max_titles is not None and len(keys) > wanted.max_titles:
            ranked = sorted(keys, key=lambda k: (-self.recent_volume(k), k))
            kept = set(ranked[: wanted.max_titles])
            keys = [k for k in keys if k in kept]
        return keys

    def skipped(self, key: str, reason: str) -> SkippedTitle:
        return SkippedTitle(key, self.titles.get(key), self.segments[key].name, reason)


def read_catalogue(
    sales: SalesData, start: str | None = None, listed: pd.DataFrame | None = None
) -> Catalogue:
    """Every title of `sales`: series from `start` on ('' or None keeps all), segments, titles,
    and why a title has no series; and the titles of the title list `listed`
    (`catalog.metadata`) without any sales, announced (pre-publication) when it gives their
    publication date."""
    import pandas as pd

    from shelfcast.catalog.series import weekly_series

    frame = sales.frame
    key_column = KEY_COLUMNS[sales.kind]
    keys = tuple(sorted(frame[key_column].astype(str).unique()))
    series = {s.key: s for s in weekly_series(sales, start=start)}
    segments = {key: segment_of(s.values) for key, s in series.items()}
    absent = [k for k in keys if k not in series]
    whole = {s.key: s for s in weekly_series(sales)} if absent and start else {}
    missing: dict[str, str] = {}
    for key in absent:
        earlier = whole.get(key)
        segment = prepublication() if earlier is None else segment_of(earlier.values)
        segments[key] = segment
        if sales.kind == "long":
            missing[key] = f"no weeks on or after {start}"
        elif earlier is None:
            missing[key] = "no sales in the data"
        else:
            last = earlier.end - pd.Timedelta(weeks=segment.weeks_since_sale or 0)
            missing[key] = f"no sales on or after {start} (last sale {last:%Y-%m-%d})"
    titles = {key: s.title for key, s in series.items()}
    if absent and "title" in frame.columns:
        rows = frame[frame[key_column].astype(str).isin(absent)]
        named = rows.groupby(rows[key_column].astype(str))["title"].last()
        titles |= {str(k): None if not isinstance(v, str) or not v else v for k, v in named.items()}
    announced: dict[str, Announced] = {}
    if listed is not None and sales.kind == "bookscan":
        for row in listed[~listed["isbn"].isin(keys)].itertuples(index=False):
            isbn = str(row.isbn)
            segments[isbn], titles[isbn] = prepublication(), row.title
            if pd.isna(row.publication_date):
                missing[isbn] = "no sales, and the title list gives no publication date"
            else:
                announced[isbn] = announced_title(row)
        keys = tuple(sorted({*keys, *segments}))
    return Catalogue(sales.kind, keys, series, segments, titles, missing, announced)


def announced_title(row: Any) -> Announced:
    """A title list row (`catalog.metadata.TITLE_COLUMNS`) as a title to come."""
    import pandas as pd

    from shelfcast.forecasting.prepublication import Announced

    meta = {
        c: str(getattr(row, c)) if c != "rrp" else f"{row.rrp:g}"
        for c in ("product_class", "binding", "imprint", "publisher_group", "rrp")
        if not pd.isna(getattr(row, c))
    }
    return Announced(
        isbn=str(row.isbn),
        publication_date=pd.Timestamp(row.publication_date),
        title=row.title,
        author=row.author,
        meta=meta,
    )


def segment_order(name: str) -> tuple[int, int]:
    """Sorts segment names by stage, then demand class (as `catalog.segments` lists them)."""
    stage, _, demand = name.partition("/")
    rank = STAGES.index(stage) if stage in STAGES else len(STAGES)
    return rank, DEMAND_CLASSES.index(demand) if demand in DEMAND_CLASSES else -1


def segment_counts(names: Iterable[str]) -> dict[str, int]:
    """Titles per segment name, in segment order."""
    counted = Counter(names)
    return {name: counted[name] for name in sorted(counted, key=segment_order)}


def summarise_segments(
    segments: Mapping[str, str], models: Mapping[str, str]
) -> tuple[SegmentSummary, ...]:
    """Per segment of the titles asked for (key -> segment name), the titles, those forecast
    (key -> the model chosen) and the count of each model, in segment order."""
    summaries = []
    for name, titles in segment_counts(segments.values()).items():
        chosen = Counter(models[k] for k, s in segments.items() if s == name and k in models)
        summaries.append(
            SegmentSummary(name, titles, sum(chosen.values()), dict(sorted(chosen.items())))
        )
    return tuple(summaries)


@dataclass(frozen=True)
class TitlesOptions:
    """`shelfcast data titles`: every title (`wanted` narrows them), or only the seasonal
    selection (`selected_only`, of at most `selection_size` titles, as `train` selects)."""

    data: tuple[str, ...] = ()  # sales files; default: the settings' data, else the sample
    start: str | None = None  # weeks before are ignored; '' keeps all; default: data.start_date
    wanted: TitleFilter = field(default_factory=TitleFilter)
    isbn_list: str | None = None  # the title list; default: the settings' or the sample's
    selected_only: bool = False
    selection_size: int | None = None  # default: selection.max_seasonal_books


@dataclass(frozen=True)
class TitlesResult:
    """A row a title listed (`TITLE_COLUMNS`; statistics NaN for a title without a series),
    the titles in the catalogue and in the seasonal selection, and the listed per segment."""

    table: pd.DataFrame
    catalogue_titles: int
    selected_titles: int
    kind: str

    @property
    def by_segment(self) -> dict[str, int]:
        return segment_counts(self.table["segment"])


def catalogue_titles(
    settings: Settings, options: TitlesOptions, progress: Progress | None = None
) -> TitlesResult:
    """Every title (or the seasonal selection) with its segment, demand statistics (ADI and
    CV² of the last 104 weeks), volume and seasonality statistics and the selection's verdict
    (`catalog.selection`, run on the whole catalogue as `train` does)."""
    import pandas as pd

    from shelfcast.catalog.selection import select_titles
    from shelfcast.training.sources import history_start, selection_criteria

    sales = load_sales(settings, options.data, isbn_list=options.isbn_list, progress=progress)
    listed = load_titles(settings, options.data, options.isbn_list)
    catalogue = read_catalogue(sales, history_start(settings, options.start), listed)
    step(progress, "titles", "Measuring seasonality and selecting titles")
    selection = select_titles(
        list(catalogue.series.values()), selection_criteria(settings, options.selection_size)
    )
    stats = selection.table.set_index("key")
    if options.selected_only:
        wanted = set(catalogue.narrow(TitleFilter(options.wanted.isbns, options.wanted.segments)))
        keys = [k for k in selection.selected if k in wanted]
    else:
        keys = catalogue.narrow(options.wanted)
    rows = []
    for key in keys:
        segment = catalogue.segments[key]
        row: dict[str, object] = {
            "key": key,
            "title": catalogue.titles.get(key),
            "segment": segment.name,
            "weeks": segment.weeks if key in catalogue.series else 0,
            "adi": segment.adi,
            "cv2": segment.cv2,
        }
        if key in stats.index:
            found = stats.loc[key]
            for column in ("mean_volume_recent", "zero_share", "seasonal_strength", "acf52"):
                row[column] = found[column]
            row |= {"selected": bool(found["selected"]), "reason": str(found["reason"])}
        elif key in catalogue.announced:
            published = catalogue.announced[key].publication_date.date().isoformat()
            row |= {"selected": False, "reason": f"not yet on sale: published {published}"}
        else:
            row |= {"selected": False, "reason": catalogue.missing[key]}
        rows.append(row)
    table = pd.DataFrame(rows, columns=TITLE_COLUMNS)
    return TitlesResult(table, len(catalogue.keys), len(selection.selected), sales.kind)


def skipped_rows(skipped: Sequence[SkippedTitle], key_column: str) -> pd.DataFrame:
    """The skipped titles as a table: key column, title, segment, reason."""
    import pandas as pd

    return pd.DataFrame(
        [(s.key, s.title or "", s.segment, s.reason) for s in skipped],
        columns=[key_column, "title", "segment", "reason"],
    )
