"""ZenML materializers for the pipeline's own types: plain parquet and JSON files, no pickle.

They move the files of `shelfcast.training.artifacts` in and out of the artifact store (a local
folder, or `gs://` on the cloud stack) and add what the ZenML dashboard shows: a markdown
summary and a little metadata. Importing this module imports ZenML: call
`shelfcast.training.zenml_env.setup_zenml` first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from zenml.enums import ArtifactType, VisualizationType
from zenml.materializers.base_materializer import BaseMaterializer

from shelfcast.training.artifacts import (
    BACKTEST_FILE,
    BUNDLES_FILE,
    FORECASTS_FILE,
    SALES_FILE,
    SALES_FORMAT_FILE,
    SERIES_FILE,
    SERIES_FORMAT_FILE,
    TRAINING_FILE,
    SalesTable,
    SeriesSet,
    TrainingResult,
    sales_from_files,
    sales_to_files,
    series_from_files,
    series_hash,
    series_to_files,
    training_from_files,
    training_to_files,
)

SUMMARY_FILE = "summary.md"


class _FilesMaterializer(BaseMaterializer):
    """Writes and reads a fixed set of named files under the artifact's URI."""

    SKIP_REGISTRATION: ClassVar[bool] = True
    FILES: ClassVar[tuple[str, ...]] = ()

    def _write(self, files: Mapping[str, bytes]) -> None:
        for name, data in files.items():
            with self.artifact_store.open(os.path.join(self.uri, name), "wb") as f:
                f.write(data)

    def _read(self) -> dict[str, bytes]:
        files = {}
        for name in self.FILES:
            with self.artifact_store.open(os.path.join(self.uri, name), "rb") as f:
                files[name] = f.read()
        return files

    def _markdown(self, text: str) -> dict[str, VisualizationType]:
        path = os.path.join(self.uri, SUMMARY_FILE)
        with self.artifact_store.open(path, "w") as f:
            f.write(text)
        return {path.replace("\\", "/"): VisualizationType.MARKDOWN}


class SalesTableMaterializer(_FilesMaterializer):
    """Validated sales rows as parquet (snappy) with their kind and frequency beside them.

    Leaner than ZenML's pandas materializer, which gzips and describes every column: for a
    catalogue of 400,000 rows that took longer than reading and validating the files.
    """

    SKIP_REGISTRATION: ClassVar[bool] = False
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (SalesTable,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA
    FILES: ClassVar[tuple[str, ...]] = (SALES_FILE, SALES_FORMAT_FILE)

    def load(self, data_type: type[Any]) -> SalesTable:
        return sales_from_files(self._read())

    def save(self, data: SalesTable) -> None:
        self._write(sales_to_files(data))

    def extract_metadata(self, data: SalesTable) -> dict[str, Any]:
        frame = data.frame
        return {
            "kind": data.kind,
            "rows": len(frame),
            "titles": int(frame[data.key_column].nunique()) if len(frame) else 0,
        }


class SeriesSetMaterializer(_FilesMaterializer):
    """A `SeriesSet` as one parquet file (a row per series); content-hashed for caching."""

    SKIP_REGISTRATION: ClassVar[bool] = False
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (SeriesSet,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA
    FILES: ClassVar[tuple[str, ...]] = (SERIES_FILE, SERIES_FORMAT_FILE)

    def load(self, data_type: type[Any]) -> SeriesSet:
        return series_from_files(self._read())

    def save(self, data: SeriesSet) -> None:
        self._write(series_to_files(data))

    def compute_content_hash(self, data: SeriesSet) -> str | None:
        return series_hash(data)

    def extract_metadata(self, data: SeriesSet) -> dict[str, Any]:
        weeks = [len(s) for s in data]
        return {"series": len(data), "weeks": sum(weeks), "longest": max(weeks, default=0)}


class TrainingResultMaterializer(_FilesMaterializer):
    """A `TrainingResult`: training.json, backtest and forecast tables, and the bundles."""

    SKIP_REGISTRATION: ClassVar[bool] = False
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (TrainingResult,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.MODEL
    FILES: ClassVar[tuple[str, ...]] = (
        TRAINING_FILE,
        BACKTEST_FILE,
        FORECASTS_FILE,
        BUNDLES_FILE,
    )

    def load(self, data_type: type[Any]) -> TrainingResult:
        return training_from_files(self._read())

    def save(self, data: TrainingResult) -> None:
        self._write(training_to_files(data))

    def extract_metadata(self, data: TrainingResult) -> dict[str, Any]:
        return {
            "titles": len(data.fits),
            "failed": len(data.errors),
            "executor": data.executor,
            "fit_seconds": round(data.seconds, 3),
        }

    def save_visualizations(self, data: TrainingResult) -> dict[str, VisualizationType]:
        lines = [
            f"{len(data.fits)} title(s) fitted on {data.executor} in {data.seconds:.1f} s",
            "",
            "| ISBN | selected family | backtest MASE | seasonal naive |",
            "|---|---|---:|---:|",
        ]
        lines += [
            f"| {f.key} | {f.selected} | {_num(f.selected_mase)} | {_num(f.baseline_mase)} |"
            for f in data.fits
        ]
        lines += [f"| {key} | failed: {why} | | |" for key, why in data.errors.items()]
        return self._markdown("\n".join(lines) + "\n")


def _num(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"
