"""Loading a release in the background, so that the port opens at once and health reports
progress: `loading` (bundles loaded so far), then `ready`, or `failed` with the reason.

A per-title release is loaded whole; of a catalogue release only its files are fetched
(into the cache folder, from an object store) and verified, and the table memory-mapped:
its bundles are built on first use (`serving.catalogue`)."""

from __future__ import annotations

import gc
import importlib
import logging
import threading
import time
from collections.abc import Callable

from shelfcast.serving.pool import ModelPool

log = logging.getLogger("shelfcast.serving")

LOADING, READY, FAILED = "loading", "ready", "failed"
# What forecasts import on first use, imported while loading: not on a first request's time.
FORECAST_LIBRARIES = ("scipy.signal", "scipy.stats")


class PoolLoader:
    """The server's model pool and how far its loading has got. Thread-safe to read."""

    def __init__(
        self,
        release: str | None = None,
        pool: ModelPool | None = None,
        cache: str | None = None,
    ):
        self.cache = cache  # where a catalogue release from an object store is kept locally
        self.release = release if pool is None else (pool.release_id or release)
        self.pool = pool
        self.status = READY if pool is not None else LOADING
        self.loaded = len(pool) if pool is not None else 0
        self.total: int | None = len(pool) if pool is not None else None
        self.reason: str | None = None
        self.seconds: float | None = None
        self.on_change: Callable[[PoolLoader], None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self.status == READY

    def start(self, uri: str) -> None:
        """Load the release at `uri` in a daemon thread."""
        self._thread = threading.Thread(
            target=self._load, args=(uri,), name="shelfcast-release-loader", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for loading to end; True when the pool is ready."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.ready

    def _progress(self, done: int) -> None:
        self.loaded = done
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def _load(self, uri: str) -> None:
        from shelfcast.releases import load_bundles, read_release
        from shelfcast.serving.catalogue import catalogue_pool

        started = time.perf_counter()
        log.info("loading release %s", uri)
        try:
            release = read_release(uri)
            self.release, self.total = release.release_id, release.titles
            self._changed()
            if release.catalogue is not None:
                pool = catalogue_pool(release, self.cache)
            else:
                bundles = load_bundles(release, progress=self._progress)
                pool = ModelPool.from_release(release, bundles)
            for name in FORECAST_LIBRARIES:
                importlib.import_module(name)
        except Exception as exc:  # any failure leaves the server unhealthy, and says why
            self.reason = f"{type(exc).__name__}: {exc}"
            self.status = FAILED
            log.error("release %s failed to load: %s", uri, self.reason)
            self._changed()
            return
        self.pool, self.loaded = pool, len(pool)
        gc.freeze()  # the release lives as long as the server: out of the collector's scans
        self.seconds = time.perf_counter() - started
        self.status = READY
        log.info(
            "release %s ready: %d models loaded and verified in %.2f s",
            self.release,
            len(pool),
            self.seconds,
        )
        self._changed()
