"""Finding the processes a test started, by what their command lines name."""

from pathlib import Path


def processes_naming(*paths: Path | str) -> list[int]:
    """Live processes whose command line mentions one of `paths`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
        if any(str(path) in text for path in paths):
            found.append(int(cmdline.parent.name))
    return found
