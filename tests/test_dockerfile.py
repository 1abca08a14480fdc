"""The serving image's recipe (Docker does not run here): what it installs is the `serve` extra,
and neither that nor the base dependencies pull in training, tracking or orchestration."""

import re
import shlex
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
NOT_IN_THE_IMAGE = {"zenml", "mlflow", "mlflow-skinny", "statsforecast", "statsmodels", "dask"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def closure(requirements: list[str]) -> set[str]:
    """Every distribution these requirements install, from this environment's metadata."""
    seen: set[str] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        for wanted in ["", *sorted(requirement.extras)]:
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            todo += [(Requirement(r), wanted) for r in metadata.requires(name) or []]
    return {name for name, _ in seen}


def test_the_image_installs_the_project_with_the_serve_extra_only():
    installs = [
        args for keyword, args in instructions() if keyword == "RUN" and "pip install" in args
    ]
    assert len(installs) == 1
    words = shlex.split(installs[0].split("&&")[0])
    targets = [w for w in words[words.index("install") + 1 :] if not w.startswith("-")]
    assert targets == [".[serve]"]


def test_the_serve_extra_is_what_serving_needs_and_nothing_heavy():
    extras = project()["optional-dependencies"]
    serve = {canonicalize_name(Requirement(r).name) for r in extras["serve"]}
    assert {"fastapi", "uvicorn", "prometheus-client", "gcsfs"} <= serve
    assert "serve" in extras["local"][0] and "local" in extras["dev"][0]
    installed = closure(project()["dependencies"] + extras["serve"])
    assert not installed & NOT_IN_THE_IMAGE, installed & NOT_IN_THE_IMAGE


def test_the_image_runs_the_server_as_a_non_root_user_with_a_healthcheck():
    steps = instructions()
    keywords = [k for k, _ in steps]
    base = dict(steps)["FROM"]
    assert "python:3.11-slim" in base and "--platform=linux/amd64" in base
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert keywords.index("USER") > max(i for i, (k, a) in enumerate(steps) if k == "RUN")
    healthcheck = dict(steps)["HEALTHCHECK"]
    assert "AIP_HEALTH_ROUTE" in healthcheck and "AIP_HTTP_PORT" in healthcheck
    assert "AIP_HTTP_PORT=8080" in dict(steps)["ENV"]
    assert dict(steps)["CMD"] == '["python", "-m", "shelfcast.serving", "--host", "0.0.0.0"]'


def test_the_build_context_is_the_package_only():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[:4] == ["*", "!pyproject.toml", "!README.md", "!src/"]
