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
    their champion, else their latest version. `to`: the artifact store (default: the
    settings'); `project`: the Google Cloud project of a gs:// store."""

    names: tuple[str, ...] = ()
    version: str | None = None
    every: bool = False
    to: str | None = None
    project: str | None = None

    def __post_init__(self) -> None:
        if self.every and self.names:
            raise ShelfcastError("--all and --model-name exclude each other")
        if self.version is not None and not self.names:
            raise ShelfcastError("--model-version needs --model-name")


def package_release(
    settings: Settings,
    options: PackageOptions | None = None,
    progress: Progress | None = None,
) -> PackageResult:
    """Copy the chosen versions' bundle files, unchanged, to the artifact store, verify
    them and write the release manifest. The same versions again give the same release."""
    from shelfcast.packaging import package

    options = options or PackageOptions()
    if options.project:
        settings = settings.replace(gcp={"project": options.project})
    store = options.to or settings.artifact_root
    labels = {
        "fetching": ("package.fetch", "Fetching model files from MLflow", settings.tracking_uri),
        "writing": ("package.write", "Writing model files to the artifact store", store),
    }

    def show(stage: str, done: int, total: int) -> None:
        key, label, detail = labels.get(stage, (f"package.{stage}", stage.capitalize(), ""))
        count(progress, key, label, done, total, detail)

    return package(
        settings,
        list(options.names) or None,
        options.version,
        options.to,
        show if progress is not None else None,
        every=options.every,
    )
