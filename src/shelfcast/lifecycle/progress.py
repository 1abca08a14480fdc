"""How the application layer says what it is doing: a callback taking `ProgressEvent`s.

Every lifecycle function takes `progress: Progress | None`. An event is either a count
(`done` of `total` items of the bar `key`, total None while unknown) or, with neither, a
step: one line saying what starts now. `label` says what is being done in words a user
reads ("Writing model files to the artifact store"), `detail` the item at hand. The command
line draws bars and lines from them; scripts and tests pass their own callback, or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ProgressEvent:
    """One report of progress: a count on the bar `key`, or a step (no count)."""

    key: str  # a stable name for the bar across events, e.g. "train.titles"
    label: str  # what is being done, whole: "Fitting titles", "Writing model files to ..."
    done: int | None = None
    total: int | None = None
    detail: str = ""  # the item at hand: a title, a pipeline step, a store

    @property
    def is_step(self) -> bool:
        """A step (one line to say) rather than a count on a bar."""
        return self.done is None and self.total is None


class Progress(Protocol):
    """Hears of progress; must not raise."""

    def __call__(self, event: ProgressEvent) -> None: ...


def quiet(event: ProgressEvent) -> None:
    """The callback that says nothing."""


def step(progress: Progress | None, key: str, label: str, detail: str = "") -> None:
    """Tell `progress` (if any) that a step starts."""
    if progress is not None:
        progress(ProgressEvent(key, label, detail=detail))


def count(
    progress: Progress | None,
    key: str,
    label: str,
    done: int,
    total: int | None,
    detail: str = "",
) -> None:
    """Tell `progress` (if any) how far the bar `key` is."""
    if progress is not None:
        progress(ProgressEvent(key, label, done, total, detail))
