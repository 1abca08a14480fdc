"""Damaged and hostile releases for tests: Hypothesis strategies that mutate a valid
release's files (bytes cut or flipped; JSON fields dropped, retyped or set to hostile values;
Parquet cells and columns changed), and re-signing, as an attacker with write access to the
store would: every changed file's sha256 in the manifest, its digest and its release id."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

from shelfcast.forecasting import bundle_table
from shelfcast.releases import (
    ID_DIGITS,
    CatalogueFiles,
    ReleaseModel,
    SampleTitle,
    catalogue_digest,
    content_digest,
)
from shelfcast.storage import sha256

NAN, BIG, DEEP, NESTED = "\x00nan", "\x00big", "\x00deep", "\x00nested"
TRAVERSAL = ("../../../../etc/passwd", "/etc/passwd", "models/../../..", "..", "a/../../b")
HOSTILE: tuple[Any, ...] = (
    None,
    True,
    -1,
    0,
    2**63,
    10**40,
    0.5,
    "",
    "x" * 100_000,
    [],
    {},
    {"family": "snaive"},
    NAN,
    BIG,
    DEEP,
    NESTED,
    *TRAVERSAL,
)
# What a refusal must name: a file of the release (or a catalogue table's row).
FILE_NAMES = (
    "manifest.json",
    "bundle.json",
    "history.csv",
    bundle_table.SHARED_FILE,
    "versions.parquet",
    bundle_table.PART_PREFIX,
    "catalogue row",
)


def encode(doc: Any) -> bytes:
    """JSON with the markers turned into what no JSON writer makes: NaN, a number beyond
    float range, and nesting far beyond any artifact's (deeper than Python recurses)."""
    text = json.dumps(doc, indent=1)
    for marker, raw in (
        (NAN, "NaN"),
        (BIG, "1e999"),
        (DEEP, "[" * 100_000 + "]" * 100_000),
        (NESTED, '{"a":' * 100 + "1" + "}" * 100),
    ):
        text = text.replace(json.dumps(marker), raw)
    return text.encode()


def nodes(value: Any, path: tuple = (), depth: int = 0) -> Iterator[tuple]:
    """Paths to the fields of a JSON document (arrays: their first two items)."""
    if depth > 6:
        return
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value[:2])
        if isinstance(value, list)
        else ()
    )
    for key, child in children:
        yield (*path, key)
        yield from nodes(child, (*path, key), depth + 1)


def mutate_json(doc: Any, path: tuple, op: str, value: Any) -> Any:
    """A copy of `doc` with the field at `path` dropped, set to `value`, or renamed to it."""
    out = copy.deepcopy(doc)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if op == "drop":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        parent[str(value)[:300]] = parent.pop(last)
    else:
        parent[last] = value
    return out


def json_mutations(doc: Any) -> st.SearchStrategy[Any]:
    """Copies of `doc` with one field dropped, set to a hostile value or renamed."""
    paths = st.sampled_from(list(nodes(doc)))
    ops = st.sampled_from(("drop", "set", "set", "rename"))
    return st.builds(
        lambda p, o, v: mutate_json(doc, p, o, v), paths, ops, st.sampled_from(HOSTILE)
    )


def byte_mutations(data: bytes) -> st.SearchStrategy[bytes]:
    def flip(at: int, mask: int) -> bytes:
        out = bytearray(data)
        out[at] ^= mask
        return bytes(out)

    return st.one_of(
        st.integers(0, len(data) - 1).map(lambda n: data[:n]),
        st.builds(flip, st.integers(0, len(data) - 1), st.integers(1, 255)),
    )


def cell_mutations(path: Path) -> st.SearchStrategy[bytes]:
    """A titles Parquet file with one cell of one column set to a hostile value, or a column
    retyped: values (NaN, negative, infinite, none), key (a repeat, none), the JSON columns
    (each of the JSON mutations above, or text that is not JSON)."""
    table = pq.read_table(path)
    rows = table.num_rows
    model = json.loads(table.column("model")[0].as_py())
    hostile_values = st.sampled_from(
        ([float("nan")], [-1.0], [float("inf")], [], None, [1.0] * 30_000)
    )
    texts = st.one_of(
        st.sampled_from(("", "[", "NaN", "null", "[]", '"x"', "{}")),
        json_mutations(model).map(lambda doc: encode(doc).decode()),
    )

    def set_cell(column: str, row: int, value: Any) -> bytes:
        cells = table.column(column).to_pylist()
        cells[row] = value
        field = table.schema.field(column)
        changed = table.set_column(
            table.schema.get_field_index(column), field, pa.array(cells, type=field.type)
        )
        return parquet_bytes(changed)

    def retype(column: str) -> bytes:
        cells = [json.dumps(v, default=str) for v in table.column(column).to_pylist()]
        index = table.schema.get_field_index(column)
        changed = table.set_column(index, pa.field(column, pa.string()), pa.array(cells))
        return parquet_bytes(changed.replace_schema_metadata(table.schema.metadata))

    row = st.integers(0, rows - 1)
    return st.one_of(
        st.builds(lambda r, v: set_cell("values", r, v), row, hostile_values),
        st.builds(
            lambda r: set_cell("key", r, table.column("key")[0].as_py()), st.integers(1, rows - 1)
        ),
        st.builds(lambda r, t: set_cell("model", r, t), row, texts),
        st.builds(
            lambda r, c, t: set_cell(c, r, t),
            row,
            st.sampled_from(("library_versions", "meta", "calibration", "freq")),
            texts,
        ),
        st.builds(retype, st.sampled_from(("values", "start", "key"))),
    )


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def hostile_store(
    source: Path, target: Path, manifest: Path, files: dict[str, bytes], sign: bool = True
) -> Path:
    """A copy of the store at `source` in `target` with `files` (store paths) replaced; the
    manifest (`manifest`, a store path), when not among them, pointed at the copy and, with
    `sign`, re-signed for them (a replaced manifest reads the files of `source`). Returns the
    release folder."""
    shutil.copytree(source, target)
    release = target / manifest.parent
    if manifest.as_posix() not in files:
        doc = json.loads((target / manifest).read_bytes()) | {"store": str(target)}
        names = {Path(p).name if "catalogue" in doc else p: d for p, d in files.items()}
        files = {**files, manifest.as_posix(): encode(resigned(doc, names) if sign else doc)}
    for path, data in files.items():
        (target / path).write_bytes(data)
    return release


def resigned(manifest: Any, changed: dict[str, bytes]) -> Any:
    """The manifest with the changed files' checksums (store paths, or names in a catalogue),
    then its digest and release id, as a publisher would have written them (as far as the
    manifest still has what that needs)."""
    doc = copy.deepcopy(manifest)
    try:
        if "catalogue" in doc:
            catalogue = doc["catalogue"]
            catalogue["files"].update({n: sha256(d) for n, d in changed.items()})
            files = {**catalogue, "sample": tuple(SampleTitle(**t) for t in catalogue["sample"])}
            digest = catalogue_digest(CatalogueFiles(**files))
        else:
            for entry in doc["models"]:
                for name in entry["files"]:
                    key = f"{entry['path']}/{name}"
                    if key in changed:
                        entry["files"][name] = sha256(changed[key])
            digest = content_digest([ReleaseModel(**m) for m in doc["models"]])
        doc["digest"] = digest
        doc["release_id"] = f"{doc['release_id'][:-ID_DIGITS]}{digest[:ID_DIGITS]}"
    except (KeyError, TypeError, AttributeError, IndexError):
        return manifest  # the mutation broke what re-signing needs: left as it is
    return doc
