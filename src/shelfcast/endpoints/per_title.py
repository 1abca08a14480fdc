"""The seed's per-title layout: endpoint `<name>-<ISBN>` serving a release of that one title.

A one-title release is published from a catalogue release's model files, which are already
in the store: only its manifest is new, and publishing it again finds the same release.
"""

from __future__ import annotations

from shelfcast.endpoints.base import EndpointError
from shelfcast.releases import (
    ModelFiles,
    Release,
    content_digest,
    find_release,
    publish,
)
from shelfcast.storage import ArtifactStore


def title_endpoint(base_name: str, isbn: str) -> str:
    return f"{base_name}-{isbn}"


def one_title_release(
    release: Release,
    name_or_isbn: str,
    *,
    publish_missing: bool = True,
    project: str | None = None,
) -> Release:
    """The release of just this title's model from `release`, published when missing."""
    model = release.model(name_or_isbn)
    store = ArtifactStore(release.store, project=project)
    digest = content_digest([model])
    found = find_release(store, digest)
    if found is not None:
        return found
    if not publish_missing:
        raise EndpointError(
            f"there is no one-title release of {model.name} v{model.version} yet, and a dry "
            "run publishes nothing: run without --dry-run, or "
            f"`shelfcast package --model-name {model.name} --model-version {model.version}`"
        )
    paths = {f"{model.path}/{file}": sha for file, sha in model.files.items()}
    data = store.read_many(paths)
    files = {file: data[f"{model.path}/{file}"] for file in model.files}
    one = ModelFiles(model.name, model.version, files, model.run_id, model.backtest_mase)
    return publish(store, [one]).release
