"""Deploying a damaged or hostile release to a running endpoint (a router and real servers on
127.0.0.1) is refused, naming the file and field, and the release before keeps answering:
a manifest whose model path leaves the store, a bundle with NaN in its model (re-signed), a
catalogue whose titles file is cut short (re-signed), and a catalogue whose rows load but
one sampled title's model is unusable (the smoke test finds it). No server logs a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from support.catalogue_release import catalogue_table, publish_table
from support.hostile import NAN, encode, hostile_store, parquet_bytes, resigned
from support.releases import ISBN_A, ISBN_B, NAME_B, publish_release

from shelfcast.endpoints.base import DeploymentFailed
from shelfcast.endpoints.local import LocalBackend
from shelfcast.endpoints.rollout import deploy_release
from shelfcast.releases import Release
from shelfcast.settings import Settings

pytestmark = pytest.mark.integration

ENDPOINT = "book-sales"
INSTANCES = [{"isbn": ISBN_A, "horizon": 4}, {"isbn": ISBN_B, "horizon": 4}]


@pytest.fixture(scope="module")
def good(tmp_path_factory, bundles) -> Release:
    return publish_release(tmp_path_factory.mktemp("good"), bundles)


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> Iterator[LocalBackend]:
    home = tmp_path_factory.mktemp("home")
    backend = LocalBackend(Settings(home=home))
    yield backend
    for name in backend.store.names():
        backend.stop(name)


@pytest.fixture(scope="module")
def serving(backend, good) -> str:
    """The endpoint serving the good release: its deployed model's id."""
    return deploy_release(backend, ENDPOINT, good).deployed_model.id


def answered_by(url: str) -> str:
    response = httpx.post(f"{url}/predict", json={"instances": INSTANCES}, timeout=30)
    assert response.status_code == 200, response.text
    return response.headers["X-Deployed-Model-Id"]


def per_title(
    good: Release, work: Path, change: Callable[[dict, dict], dict[str, bytes]]
) -> Release:
    """A hostile copy of `good`: `change(manifest, bundle.json of NAME_B)` gives the files to
    replace (by store path, `manifest` for the manifest); the release as the rollout is told
    of it (its manifest may not parse)."""
    root = Path(good.store)
    manifest = Path(good.uri).relative_to(root) / "manifest.json"
    doc = json.loads((root / manifest).read_bytes())
    model = next(m for m in good.models if m.name == NAME_B)
    bundle = json.loads((root / model.path / "bundle.json").read_bytes())
    files = {
        manifest.as_posix() if p == "manifest" else p: d for p, d in change(doc, bundle).items()
    }
    folder = hostile_store(root, work, manifest, files)
    release_id = json.loads((folder / "manifest.json").read_bytes())["release_id"]
    assert release_id != good.release_id  # re-signed: a release of its own
    return replace(good, release_id=release_id, uri=str(folder), store=str(work))


def traversal(doc: dict, bundle: dict) -> dict[str, bytes]:
    doc["models"][0]["path"] = "../../../../etc"
    doc["models"][0]["version"] = "9"  # the digest covers versions, not paths: a new release id
    return {"manifest": encode(resigned(doc, {}))}


def nan_in_model(doc: dict, bundle: dict) -> dict[str, bytes]:
    bundle["model"]["sigma2"] = NAN
    return {f"models/{NAME_B}/1/bundle.json": encode(bundle)}


def catalogue(tmp: Path, change: Callable[[Path], bytes]) -> Release:
    """A catalogue release whose titles file is replaced by `change(path)` and re-signed."""
    published = publish_table(tmp / "source", catalogue_table(30)).release
    assert published.catalogue is not None
    source = Path(published.store)
    manifest = Path(published.uri).relative_to(source) / "manifest.json"
    part = Path(published.catalogue.path) / "titles-00000.parquet"
    folder = hostile_store(
        source, tmp / "store", manifest, {part.as_posix(): change(source / part)}
    )
    return replace(published, uri=str(folder), store=str(tmp / "store"))


def cut_short(path: Path) -> bytes:
    return path.read_bytes()[:-100]


def sampled_title_unusable(path: Path) -> bytes:
    table = pq.read_table(path)
    models = table.column("model").to_pylist()
    models[0] = models[0].replace('"season_length":52', '"season_length":0')
    index = table.schema.get_field_index("model")
    return parquet_bytes(table.set_column(index, table.schema.field("model"), [models]))


@pytest.mark.parametrize(
    ("case", "check", "named"),
    [
        ("traversal", "health", "models[0].path: '../../../../etc' is not a relative path"),
        ("nan", "health", "bundle.json: not valid JSON (NaN is not a JSON number)"),
        ("cut", "health", "titles-00000.parquet"),
        ("row", "smoke", "cannot be read"),
    ],
)
def test_a_bad_release_is_refused_and_the_one_before_keeps_answering(
    backend, serving, good, tmp_path, case, check, named
):
    if case == "traversal":
        release = per_title(good, tmp_path / "store", traversal)
    elif case == "nan":
        release = per_title(good, tmp_path / "store", nan_in_model)
    else:
        release = catalogue(tmp_path, cut_short if case == "cut" else sampled_title_unusable)
    before = backend.describe(ENDPOINT)
    with pytest.raises(DeploymentFailed) as refused:
        deploy_release(backend, ENDPOINT, release, health_timeout=60)
    assert refused.value.check == check
    assert named in refused.value.reason
    after = backend.describe(ENDPOINT)
    assert after.traffic == before.traffic == {serving: 100}
    assert answered_by(after.url) == serving
    logs = Path(backend.settings.home, "endpoints", ENDPOINT, "logs")
    for log in logs.iterdir():
        assert "Traceback" not in log.read_text(errors="replace"), log
