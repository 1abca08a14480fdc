"""The sample catalogue cached under the project folder: written on first use, kept while the
generator is the same, written again once it has changed."""

from __future__ import annotations

from pathlib import Path

from shelfcast.catalog.sample import GENERATOR_VERSION, METADATA_COLUMNS
from shelfcast.settings import load_settings
from shelfcast.training.sources import SAMPLE_MARKER, data_fingerprint, resolve_sources


def test_a_sample_cached_by_an_older_generator_is_written_again(tmp_path) -> None:
    settings = load_settings(home=tmp_path)
    written: list[Path] = []
    sources = resolve_sources(settings, on_write_sample=written.append)
    assert written == [settings.sample_path()]
    marker = settings.sample_path().parent / SAMPLE_MARKER
    assert marker.read_text() == f"{GENERATOR_VERSION}\n"
    fingerprint = data_fingerprint(sources)

    assert resolve_sources(settings, on_write_sample=written.append) == sources
    assert len(written) == 1  # served from the cache

    # What an earlier generator left: an ISBN list of ISBN, Title and Author, and no marker.
    isbn_list = Path(str(sources.isbn_list))
    isbn_list.write_text('ISBN,Title,Author\n9780722532935,"Alchemist, The","Coelho, Paulo"\n')
    marker.unlink()
    assert resolve_sources(settings, on_write_sample=written.append) == sources
    assert len(written) == 2
    assert isbn_list.read_text().splitlines()[0] == ",".join(METADATA_COLUMNS)
    assert data_fingerprint(sources) == fingerprint
