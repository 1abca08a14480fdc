"""Package: registered model versions -> an immutable release in the artifact store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shelfcast.errors import ShelfcastError
from shelfcast.lifecycle.progress import Progress, count
from shelfcast.settings import Settings

if TYPE_CHECKING:
    from shelfcast.packaging import PackageResult


@dataclass(frozen=True)
class PackageOptions:
    """What to release. Default: every model's `champion`. `every`: also the latest version
    of models without one. `names` (model names or ISBNs): those models' `version`, else
    their champion, else their latest version. `catalogue`: the catalogue model's champion
    table at `version` (default: its `champion`), as one catalogue release. `to`: the artifact
    store (default: the settings'); `project`: the Google Cloud project of a gs:// store."""

    names: tuple[str, ...] = ()
    version: str | None = None
    every: bool = False
    to: str | None = None
    project: str | None = None
    catalogue: bool = False

    def __post_init__(self) -> None:
        if self.every and self.names:
            raise ShelfcastError("--all and --model-name exclude each other")
        if self.catalogue and (self.every or self.names):
            raise ShelfcastError("--catalogue excludes --all and --model-name")
        if self.version is not None and not (self.names or self.catalogue):
            raise ShelfcastError("--model-version needs --model-name or --catalogue")


def package_release(
    settings: Settings,
    options: PackageOptions | None = None,
    progress: Progress | None = None,
) -> PackageResult:
    """Copy the chosen versions' bundle files (or the catalogue's table), unchanged, to the
    artifact store, verify them and write the release manifest. The same versions (or
    table) again give the same release."""
    from shelfcast.packaging import package, package_catalogue

    options = options or PackageOptions()
    if options.project:
        settings = settings.replace(gcp={"project": options.project})
    store = options.to or settings.artifact_root
    labels = {
        "fetching": ("package.fetch", "Fetching model files from MLflow", settings.tracking_uri),
        "writing": ("package.write", "Writing model files to the artifact store", store),
    }
    if options.catalogue:
        labels["fetching"] = (
            "package.fetch",
            "Reading the catalogue's champion table",
            settings.tracking_uri,
        )

    def show(stage: str, done: int, total: int) -> None:
        key, label, detail = labels.get(stage, (f"package.{stage}", stage.capitalize(), ""))
        count(progress, key, label, done, total, detail)

    if options.catalogue:
        return package_catalogue(
            settings, options.to, options.version, show if progress is not None else None
        )
    return package(
        settings,
        list(options.names) or None,
        options.version,
        options.to,
        show if progress is not None else None,
        every=options.every,
    )
