"""Helpers shared by the benchmark scripts: thread pinning, tables, machine facts, capped children.

Import this module before numpy (the scripts do so on their first lines): importing it pins
the BLAS/OpenMP thread pools of this process and of every child it starts to one thread.
With two BLAS threads on two cores, statsmodels' state-space fits run 4-60x slower.
"""

from __future__ import annotations

import os

THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
for _name in THREAD_VARIABLES:
    os.environ[_name] = "1"  # inherited by process pools and spawned children

import contextlib  # noqa: E402
import datetime as _dt  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Run from a checkout without `pip install -e .`: fall back to the source tree.
if str(REPO / "src") not in sys.path:
    try:
        import shelfcast  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO / "src"))


# ---------------------------------------------------------------------------- machine facts


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def versions(*packages: str) -> dict[str, str]:
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def machine_line(*packages: str) -> str:
    """One line naming the date, machine and library versions a table was measured with."""
    mem = memory_gib()
    libs = ", ".join(f"{k} {v}" for k, v in versions(*packages).items())
    return (
        f"{_dt.date.today().isoformat()}, {os.cpu_count()} cores ({cpu_model()})"
        + (f", {mem:.0f} GiB" if mem else "")
        + f", Python {platform.python_version()}, OPENBLAS_NUM_THREADS=1"
        + (f"; {libs}" if libs else "")
    )


def load_note() -> str:
    """The machine's 1-minute load average now: call it just before a timed run."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return "load average unknown"
    return f"1-min load average just before the run: {load:.2f} on {os.cpu_count()} cores"


# ---------------------------------------------------------------------------------- tables


@dataclass
class Table:
    """A result table printed with rich and as markdown (for benchmarks/README.md)."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    right_align_from: int = 1  # numeric columns start here

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def to_markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        align = "|" + "|".join(
            "---" if i < self.right_align_from else "---:" for i in range(len(self.columns))
        )
        body = ["| " + " | ".join(r) + " |" for r in self.rows]
        notes = [""] + [f"- {n}" for n in self.notes] if self.notes else []
        return "\n".join([f"**{self.title}**", "", head, align + "|", *body, *notes])

    def print(self, markdown_file: Path | None = None) -> None:
        from rich.console import Console
        from rich.table import Table as RichTable

        # Wide when writing to a file or pipe (rich would wrap at 80 columns).
        console = Console() if sys.stdout.isatty() else Console(width=200)
        table = RichTable(title=self.title, title_justify="left")
        for i, col in enumerate(self.columns):
            table.add_column(col, justify="left" if i < self.right_align_from else "right")
        for row in self.rows:  # markdown emphasis becomes rich's bold
            bold = any(c.startswith("**") for c in row[:1])
            table.add_row(*(c.replace("**", "") for c in row), style="bold" if bold else None)
        console.print(table)
        for note in self.notes:
            console.print(f"[dim]- {note}[/dim]")
        md = self.to_markdown()
        print("\n<!-- markdown (paste into benchmarks/README.md) -->")
        print(md)
        print("<!-- end markdown -->\n")
        if markdown_file is not None:
            markdown_file.parent.mkdir(parents=True, exist_ok=True)
            markdown_file.write_text(md + "\n")


def fmt(x: float | None, digits: int = 3, missing: str = "n/a") -> str:
    if x is None or x != x:  # None or NaN
        return missing
    return f"{x:.{digits}f}"


def fmt_seconds(s: float | None) -> str:
    if s is None or s != s:
        return "n/a"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 100:
        return f"{s:.1f} s"
    return f"{s:,.0f} s"


# ------------------------------------------------------------------ capped child processes


@dataclass
class CappedRun:
    """What a child sent before it finished or was stopped at the cap."""

    messages: list[Any]
    seconds: float  # wall time from the child's "ready" to its end (or to the kill)
    cpu_seconds: float  # the child's CPU time over the same span
    capped: bool  # stopped because the cap passed
    failed: str | None = None  # the child ended without "done" (crash, out of memory)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (Linux /proc), None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _child_main(conn, target: Callable[..., Any], args: tuple) -> None:
    """Entry point of a capped child: `target(send, *args)` reports through `send`."""
    try:
        conn.send(("ready", None))
        target(lambda msg: conn.send(("msg", msg)), *args)
        conn.send(("done", None))
    except BaseException as exc:
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        conn.close()


def run_capped(
    target: Callable[..., Any],
    args: tuple,
    cap: float,
    on_message: Callable[[Any], None] | None = None,
    wall_factor: float = 3.0,
) -> CappedRun:
    """Run `target(send, *args)` in a fresh (spawned) process; kill it once it has used `cap`
    CPU seconds, or `wall_factor * cap` wall seconds, whichever comes first.

    The cap counts CPU time, not wall time, so that other work on a shared machine does not
    shorten it (a single-threaded fit on an idle core uses one CPU second per second). The
    clock starts when the child is up (interpreter started, before the fit's imports).
    Children run one at a time: never two at once.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(child, target, args), daemon=True)
    proc.start()
    child.close()
    try:
        return _supervise(proc, parent, cap, cap * wall_factor, on_message)
    finally:  # also on KeyboardInterrupt / SIGTERM: never leave a 7 GB fit behind
        if proc.is_alive():
            proc.kill()
        proc.join(10)
        parent.close()


def _supervise(proc, parent, cap: float, wall_cap: float, on_message) -> CappedRun:
    messages: list[Any] = []
    failed: str | None = None
    capped = False
    start: float | None = None
    cpu_start = 0.0
    cpu_used = 0.0
    boot_deadline = time.monotonic() + 120  # a child that cannot even start
    done = False
    while not done:
        now = time.monotonic()
        if start is not None:
            cpu = process_cpu_seconds(proc.pid)
            cpu_used = (cpu - cpu_start) if cpu is not None else now - start
        if start is None and now >= boot_deadline:
            failed = "child did not start"
            break
        if start is not None and (cpu_used >= cap or now - start >= wall_cap):
            capped = True
            break
        try:
            ready = parent.poll(0.25)
        except (EOFError, OSError):
            ready = False
        if not ready:
            if not proc.is_alive() and not parent.poll(0):
                proc.join(1)
                failed = failed or f"child exited with code {proc.exitcode}"
                break
            continue
        try:
            kind, payload = parent.recv()
        except (EOFError, OSError):
            proc.join(1)
            failed = failed or f"child exited with code {proc.exitcode}"
            break
        if kind == "ready":
            start = time.monotonic()
            cpu_start = process_cpu_seconds(proc.pid) or 0.0
        elif kind == "msg":
            messages.append(payload)
            if on_message is not None:
                on_message(payload)
        elif kind == "error":
            failed = payload
            done = True
        elif kind == "done":
            done = True
    seconds = time.monotonic() - start if start is not None else 0.0
    return CappedRun(
        messages=messages, seconds=seconds, cpu_seconds=cpu_used, capped=capped, failed=failed
    )


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks stop running children."""
    import signal

    def _raise(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)


def peak_rss_mb() -> float:
    """Peak resident memory of the calling process, in MB (Linux: ru_maxrss is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
