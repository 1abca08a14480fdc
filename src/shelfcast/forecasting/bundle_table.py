"""Many bundles as one columnar table: how a whole catalogue's models are stored.

A `BundleTable` holds one row per title (Arrow; Parquet on disk) and, once, what many titles
share. The row's columns:

    key, title, author, source            the title
    family, selected, segment             what fitting chose (`Bundle.segment`'s name)
    start, freq, values                   the training window and its weekly history
    model                                 the spec (`Spec.to_dict`) as JSON, shared arrays
                                          replaced by {"$shared": digest}
    calibration                           the digest of its calibration, or null
    evaluation, library_versions, meta    JSON, as in bundle.json (meta: catalogue metadata)
    created_at, content_hash              when it was fitted; the hash of its series and
                                          settings (null when not given)

Arrays of `SHARED_MIN` numbers or more inside a spec (a pooled family's forest) and whole
calibrations are stored once, in the shared table (`digest`, `json`), whatever the number of
titles that use them. Reading needs nothing but pyarrow and json; `bundle(key)` gives back the
exact `Bundle` (so `Bundle.to_files` makes the title's bundle folder), and no file is unpickled.

On disk a table is `titles-00000.parquet`... (`PART_ROWS` titles each, in key order) and
`shared.parquet`; `write` returns each file's sha256, and `read` verifies them when given.
Row groups of `GROUP_ROWS` titles in key order let `read_keys` read a few titles' rows alone
(the groups whose key range holds them), whatever the size of the table.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shelfcast.errors import BundleError, ForecastError
from shelfcast.forecasting import artifact_json
from shelfcast.forecasting.bundle import FORMAT_VERSION, MAX_WEEKS, Bundle
from shelfcast.forecasting.calibration import AnyCalibration, calibration_from_dict
from shelfcast.forecasting.families import Spec, SpecError, spec_from_dict

TABLE_VERSION = 1
SHARED_MIN = 64  # numbers in an array stored once in the shared table
PART_ROWS = 25_000  # titles per Parquet file
GROUP_ROWS = 1_000  # titles per row group: what reading one title's row costs at least
SHARED_FILE = "shared.parquet"
PART_PREFIX = "titles-"
REF = "$shared"
COMPRESSION = "zstd"

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("title", pa.string()),
        ("author", pa.string()),
        ("source", pa.string()),
        ("family", pa.string()),
        ("selected", pa.string()),
        ("segment", pa.string()),
        ("start", pa.date32()),
        ("freq", pa.string()),
        ("values", pa.list_(pa.float64())),
        ("model", pa.string()),
        ("calibration", pa.string()),
        ("evaluation", pa.string()),
        ("library_versions", pa.string()),
        ("meta", pa.string()),
        ("created_at", pa.string()),
        ("content_hash", pa.string()),
    ],
    metadata={b"shelfcast.bundle_table": str(TABLE_VERSION).encode()},
)
SHARED_SCHEMA = pa.schema([("digest", pa.string()), ("json", pa.string())])
SERVING_COLUMNS = tuple(n for n in SCHEMA.names if n != "evaluation")  # what forecasts read


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _text(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


class _Shared:
    """Collects shared values by digest while rows are built; equal arrays are hashed once."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}  # digest -> JSON
        self._seen: dict[Any, str] = {}  # tuple of numbers, or id of a calibration -> digest

    def add(self, text: str) -> str:
        digest = _digest(text)
        self.values.setdefault(digest, text)
        return digest

    def array(self, values: Sequence[Any]) -> dict[str, str]:
        key = tuple(values)
        digest = self._seen.get(key)
        if digest is None:
            digest = self._seen[key] = self.add(_text(list(values)))
        return {REF: digest}

    def calibration(self, bundle: Bundle) -> str | None:
        if bundle.calibration is None:
            return None
        key = ("calibration", id(bundle.calibration))
        digest = self._seen.get(key)
        if digest is None:
            digest = self._seen[key] = self.add(_text(bundle.calibration.to_dict()))
        return digest


def _factored(value: Any, shared: _Shared) -> Any:
    """`value` (a spec dict) with every long numeric array replaced by a shared reference."""
    if isinstance(value, dict):
        return {k: _factored(v, shared) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if _numbers(value):
            return shared.array(value)
        return [_factored(v, shared) for v in value]
    return value


def _numbers(value: Sequence[Any]) -> bool:
    """Whether `value` is a flat list of `SHARED_MIN` numbers or more (checked in numpy: a
    pooled forest has hundreds of thousands)."""
    if len(value) < SHARED_MIN or not isinstance(value[0], int | float):
        return False
    try:
        kind = np.asarray(value).dtype.kind
    except (ValueError, OverflowError):  # ragged, or an int beyond 64 bits
        return all(isinstance(v, int | float) for v in value)
    return kind in "biuf" or (kind == "O" and all(isinstance(v, int | float) for v in value))


def _resolved(value: Any, shared: Callable[[str], Any]) -> Any:
    """`value` with each shared reference replaced by the value `shared(digest)` gives."""
    if isinstance(value, dict):
        if set(value) == {REF}:
            return shared(value[REF])
        return {k: _resolved(v, shared) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, shared) for v in value]
    return value


@dataclass(frozen=True)
class BundleTable:
    """Bundles as rows (`titles`, in key order) and what they share (`shared`: digest -> JSON)."""

    titles: pa.Table
    shared: Mapping[str, str] = field(default_factory=dict)
    source: str = "catalogue table"  # the folder it was read from, named in errors

    def __len__(self) -> int:
        return self.titles.num_rows

    @cached_property
    def keys(self) -> list[str]:
        return [str(k) for k in self.titles.column("key").to_pylist()]

    @cached_property
    def _rows(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.keys)}

    @cached_property
    def _parsed(self) -> dict[str, Any]:
        return {}

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def row(self, key: str) -> int:
        try:
            return self._rows[key]
        except KeyError:
            raise KeyError(key) from None

    def column(self, name: str) -> list[Any]:
        return self.titles.column(name).to_pylist()

    def _shared(self, digest: str) -> Any:
        """A shared value, parsed once: arrays as tuples, which every spec that uses them
        then shares."""
        value = self._parsed.get(digest)
        if value is None:
            if not isinstance(digest, str) or digest not in self.shared:
                where = f"{self.source}/{SHARED_FILE}"
                raise BundleError(f"{where}: shared value {str(digest)[:80]!r} is missing")
            where = f"{self.source}/{SHARED_FILE}, digest {digest}"
            value = artifact_json.parse(self.shared[digest], where, BundleError)
            value = self._parsed[digest] = tuple(value) if isinstance(value, list) else value
        return value

    def _calibration(self, digest: str) -> AnyCalibration:
        """A shared calibration, read once."""
        key = f"calibration:{digest}"
        value = self._parsed.get(key)
        if value is None:
            data = self._shared(digest)
            if not isinstance(data, Mapping):
                raise BundleError(f"{self.source}: calibration {digest} is not an object")
            try:
                value = self._parsed[key] = calibration_from_dict(data)
            except (ForecastError, TypeError, ValueError) as exc:
                raise BundleError(f"{self.source}: calibration {digest}: {exc}") from None
        return value

    def bundle(self, key: str) -> Bundle:
        """The title's bundle, exactly as it was fitted. KeyError for an unknown key."""
        i = self.row(key)
        row = {name: self.titles.column(name)[i].as_py() for name in self.titles.column_names}
        return self._bundle(row)

    def bundles(self, keys: Sequence[str]) -> list[Bundle]:
        """The bundles of `keys`, in that order: `bundle` of each, their rows read together."""
        rows = pa.array([self.row(k) for k in keys], type=pa.int64())
        return [self._bundle(row) for row in self.titles.take(rows).to_pylist()]

    def _bundle(self, row: Mapping[str, Any]) -> Bundle:
        bundle = _bundle({**row, "calibration": None}, self._shared, self.source)
        if row["calibration"]:
            return replace(bundle, calibration=self._calibration(row["calibration"]))
        return bundle

    def model(self, key: str) -> Spec:
        """The title's model spec alone (what the promotion gate needs of a champion)."""
        text = self.titles.column("model")[self.row(key)].as_py()
        where = f"{self.source}: catalogue row {key}, column model"
        try:
            return spec_from_dict(
                _resolved(artifact_json.parse(text or "", where, BundleError), self._shared)
            )
        except (SpecError, TypeError, ValueError) as exc:
            raise BundleError(f"{where}: malformed: {exc}") from None

    def select(self, keys: Iterable[str]) -> BundleTable:
        """The rows of `keys` (in key order) with the shared values they use."""
        rows = sorted({self.row(k) for k in keys}, key=lambda i: self.keys[i])
        titles = self.titles.take(pa.array(rows, type=pa.int64()))
        return BundleTable(titles, _used(titles, self.shared))

    def write(self, directory: str | Path) -> dict[str, str]:
        """Write the Parquet files into `directory` (each atomically); file name -> sha256."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        out = {}
        for n, start in enumerate(range(0, max(len(self), 1), PART_ROWS)):
            part = self.titles.slice(start, PART_ROWS)
            name = f"{PART_PREFIX}{n:05d}.parquet"
            out[name] = write_file(part, folder / name)
        shared = pa.table(
            {"digest": list(self.shared), "json": list(self.shared.values())},
            schema=SHARED_SCHEMA,
        )
        out[SHARED_FILE] = write_file(shared, folder / SHARED_FILE)
        return out


def write_file(table: pa.Table, path: Path) -> str:
    """Write `table` to the Parquet file `path` atomically (row groups of `GROUP_ROWS` rows,
    so that a sorted key column lets readers skip groups); returns the file's sha256."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression=COMPRESSION, row_group_size=GROUP_ROWS)
        digest = file_sha256(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _used(titles: pa.Table, shared: Mapping[str, str]) -> dict[str, str]:
    """The shared values that `titles` refer to."""
    text = "\n".join(
        s
        for s in [*titles.column("model").to_pylist(), *titles.column("calibration").to_pylist()]
        if s
    )
    return {d: v for d, v in shared.items() if d in text}


def _bundle(row: Mapping[str, Any], shared: Callable[[str], Any], source: str = "") -> Bundle:
    key = str(row["key"])
    where = f"{source}: catalogue row {key}" if source else f"catalogue row {key}"

    def column(name: str, default: str | None = None) -> Any:
        text = row.get(name) or default
        return (
            None
            if text is None
            else artifact_json.parse(text, f"{where}, column {name}", BundleError)
        )

    try:
        values = np.asarray(row["values"], dtype=np.float64)
        start = pd.Timestamp(row["start"])
        model = _resolved(column("model"), shared)
        calibration = shared(row["calibration"]) if row["calibration"] else None
        info = {
            "format_version": FORMAT_VERSION,
            "key": key,
            "title": row["title"],
            "author": row["author"],
            "source": row["source"],
            "model": model,
            "training_window": {
                "start": start.date().isoformat(),
                "end": (start + pd.Timedelta(weeks=len(values) - 1)).date().isoformat(),
                "weeks": len(values),
                "freq": row["freq"],
            },
            "evaluation": column("evaluation", "{}"),
            "calibration": calibration,
            "library_versions": column("library_versions", "{}"),
            "created_at": row["created_at"] or "",
        }
        meta = column("meta")
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"column meta must be an object, got {artifact_json.kind(meta)}")
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{where} is malformed: {exc}") from None
    return Bundle.from_info(info, values, meta=meta, where=where)


def from_bundles(
    bundles: Iterable[Bundle], content_hashes: Mapping[str, str] | None = None
) -> BundleTable:
    """The table of `bundles` (one per key; in key order). `content_hashes`: key -> hash."""
    shared = _Shared()
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    hashes = content_hashes or {}
    for bundle in sorted(bundles, key=lambda b: b.key):
        h = bundle.history
        row = {
            "key": h.key,
            "title": h.title,
            "author": h.author,
            "source": h.source,
            "family": bundle.family,
            "selected": bundle.evaluation.get("selected"),
            "segment": bundle.segment.name,
            "start": h.start.date(),
            "freq": h.freq,
            "values": np.asarray(h.values, dtype=np.float64),
            "model": _text(_factored(bundle.model.to_dict(), shared)),
            "calibration": shared.calibration(bundle),
            "evaluation": _text(bundle.evaluation),
            "library_versions": _text(bundle.library_versions),
            "meta": _text(dict(h.meta)) if h.meta else None,
            "created_at": bundle.created_at,
            "content_hash": hashes.get(h.key),
        }
        for name, value in row.items():
            columns[name].append(value)
    keys = columns["key"]
    if len(set(keys)) != len(keys):
        raise BundleError("a catalogue table holds one bundle per title; keys repeat")
    titles = pa.table(columns, schema=SCHEMA)
    return BundleTable(titles, shared.values)


def concat(tables: Sequence[BundleTable]) -> BundleTable:
    """One table of the rows of `tables`; a key in several keeps the row of the last one."""
    chosen: dict[str, tuple[int, int]] = {}
    for t, table in enumerate(tables):
        for i, key in enumerate(table.keys):
            chosen[key] = (t, i)
    parts = []
    for t, table in enumerate(tables):
        rows = sorted(i for (tt, i) in chosen.values() if tt == t)
        if rows:
            parts.append(table.titles.take(pa.array(rows, type=pa.int64())))
    titles = (
        pa.concat_tables(parts).sort_by("key") if parts else SCHEMA.empty_table()
    ).replace_schema_metadata(SCHEMA.metadata)
    shared: dict[str, str] = {}
    for table in tables:
        shared.update(table.shared)
    return BundleTable(titles, _used(titles, shared))


def read(
    directory: str | Path,
    checksums: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
) -> BundleTable:
    """The table written into `directory`, memory-mapped; with `checksums` (file name ->
    sha256, as `write` returned) every file is verified first and no other file is read.
    `columns` narrows what is read (SERVING_COLUMNS leaves out the evaluations)."""
    folder = Path(directory)
    if checksums is not None:
        names = sorted(checksums)
        for name in names:
            verify_file(folder / name, checksums[name])
    else:
        names = sorted(p.name for p in folder.glob("*.parquet"))
    parts = sorted(n for n in names if n.startswith(PART_PREFIX))
    if SHARED_FILE not in names or not parts:
        raise BundleError(f"{folder} holds no catalogue table ({SHARED_FILE}, {PART_PREFIX}*)")
    read_columns = None if columns is None else list(dict.fromkeys(["key", *columns]))
    tables = []
    for name in parts:
        tables.append(_read_file(folder / name, read_columns))
        _check(tables[-1], folder / name)
    try:
        titles = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    except pa.ArrowException as exc:
        raise BundleError(f"{folder}: its parts do not join into one table ({exc})") from None
    if len(tables) > 1:
        _check(titles, folder)  # keys unique across parts
    shared_table = _read_file(folder / SHARED_FILE)
    return BundleTable(titles, _shared_values(shared_table, folder), str(folder))


def verify_file(path: Path, digest: str) -> None:
    """BundleError unless the file at `path` has the sha256 `digest`."""
    if not path.is_file():
        raise BundleError(f"{path} is missing")
    actual = file_sha256(path)
    if actual != digest:
        raise BundleError(
            f"{path}: checksum {actual[:12]}... does not match the recorded {digest[:12]}..."
        )


def _read_file(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """A Parquet file of the table, memory-mapped and validated; a BundleError naming it if
    unreadable."""
    try:
        table = pq.read_table(path, columns=columns, memory_map=True)
        table.validate(full=True)  # text that is not UTF-8, offsets out of range
        _ = table.column_names  # and column names
        return table
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not a readable catalogue table file ({exc})") from None


def read_keys(
    directory: str | Path,
    keys: Iterable[str],
    columns: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
) -> BundleTable:
    """The rows of `keys` found in the table in `directory`, reading only the row groups
    whose key range holds one of them (and the shared values those rows use); keys absent
    from the table are left out. With `checksums` (as `read` takes them) only the files they
    name are read, and each file a row is read from is verified first, the shared table too;
    without, files are not verified."""
    folder = Path(directory)
    wanted = sorted(set(keys))
    read_columns = None if columns is None else list(dict.fromkeys(["key", *columns]))
    if checksums is None:
        paths = sorted(folder.glob(f"{PART_PREFIX}*.parquet"))
    else:
        paths = [folder / n for n in sorted(checksums) if n.startswith(PART_PREFIX)]
        verify_file(folder / SHARED_FILE, checksums.get(SHARED_FILE, ""))
    pieces = []
    for path in paths:
        try:
            part = pq.ParquetFile(path, memory_map=True)
            groups = [g for g in range(part.num_row_groups) if _holds(part, g, wanted)]
            if groups:
                if checksums is not None:
                    verify_file(path, checksums[path.name])
                pieces.append(part.read_row_groups(groups, columns=read_columns))
                pieces[-1].validate(full=True)
                _ = pieces[-1].column_names
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            raise BundleError(f"{path}: not a readable catalogue table file ({exc})") from None
    shared_table = _read_file(folder / SHARED_FILE)
    if not pieces:
        titles = SCHEMA.empty_table()
        if read_columns is not None:
            titles = titles.select(read_columns)
    else:
        titles = pa.concat_tables(pieces)
        titles = titles.filter(pc.is_in(titles.column("key"), pa.array(wanted)))
    _check(titles, folder)
    shared = _shared_values(shared_table, folder)
    if "model" in titles.column_names and "calibration" in titles.column_names:
        shared = _used(titles, shared)
    return BundleTable(titles, shared, str(folder))


def _shared_values(table: pa.Table, folder: Path) -> dict[str, str]:
    """digest -> JSON of a shared.parquet, its schema checked."""
    if table.schema != SHARED_SCHEMA:
        raise BundleError(
            f"{folder / SHARED_FILE}: columns {table.schema.names} are not {SHARED_SCHEMA.names} "
            "(both strings)"
        )
    digests, texts = table.column("digest"), table.column("json")
    if digests.null_count or texts.null_count:
        raise BundleError(f"{folder / SHARED_FILE}: a digest or its JSON is null")
    return dict(zip(digests.to_pylist(), texts.to_pylist(), strict=True))


def _holds(part: pq.ParquetFile, group: int, keys: Sequence[str]) -> bool:
    """Whether row group `group` of `part` may hold one of `keys` (sorted), by its statistics."""
    column = part.schema_arrow.get_field_index("key")
    stats = part.metadata.row_group(group).column(column).statistics
    if stats is None or not stats.has_min_max:
        return True
    low = bisect.bisect_left(keys, stats.min)
    return low < len(keys) and keys[low] <= stats.max


def _check(titles: pa.Table, folder: Path) -> None:
    version = (titles.schema.metadata or {}).get(b"shelfcast.bundle_table")
    if version != str(TABLE_VERSION).encode():
        raise BundleError(
            f"{folder}: catalogue table version {version!r} is not one this Shelfcast reads "
            f"({TABLE_VERSION})"
        )
    for name in titles.column_names:
        expected = SCHEMA.field(name).type if name in SCHEMA.names else None
        if expected is None or titles.schema.field(name).type != expected:
            raise BundleError(f"{folder}: column {name!r} is not in the catalogue table's schema")
    names = titles.column_names
    if "key" in names:
        keys = titles.column("key")
        if keys.null_count:
            raise BundleError(f"{folder}: a row has no key")
        if pc.count_distinct(keys).as_py() != len(keys):
            raise BundleError(f"{folder}: column key: a title has more than one row")
    for name in ("start", "freq", "model"):
        if name in names and titles.column(name).null_count:
            raise BundleError(f"{folder}: column {name}: a row has none")
    if "values" in names:
        _check_values(titles, folder)


def _check_values(titles: pa.Table, folder: Path) -> None:
    """Every title's weekly values: 1 to MAX_WEEKS numbers, finite and >= 0 (vectorised)."""
    values = titles.column("values")
    lengths = pc.list_value_length(values)
    if values.null_count or pc.min(lengths).as_py() == 0 or pc.max(lengths).as_py() > MAX_WEEKS:
        raise BundleError(f"{folder}: column values: a row has none, or over {MAX_WEEKS:,} weeks")
    flat = pc.list_flatten(values)
    if flat.null_count or not pc.all(pc.is_finite(flat)).as_py() or pc.min(flat).as_py() < 0:
        combined = values.combine_chunks()
        flat = pc.list_flatten(combined)
        good = pc.fill_null(pc.and_(pc.is_finite(flat), pc.greater_equal(flat, 0)), False)
        first = pc.indices_nonzero(pc.invert(good))[0]
        row = pc.list_parent_indices(combined)[first.as_py()].as_py()
        key = titles.column("key")[row].as_py() if "key" in titles.column_names else row
        raise BundleError(f"{folder}: column values, row {key}: a week that is not a number >= 0")
