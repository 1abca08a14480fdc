"""`shelfcast deploy` and `shelfcast endpoints`: guarded rollouts, traffic, tests.

The functions below the commands are shared with the seed's step-03 script.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from shelfcast.cli.common import EnvOption, console, err, print_facts, reports_errors

if TYPE_CHECKING:
    from shelfcast.endpoints.base import Endpoint, EndpointBackend
    from shelfcast.endpoints.rollout import Progress, RolloutResult
    from shelfcast.releases import Release
    from shelfcast.settings import Settings

app = typer.Typer(
    help="Endpoints: list, describe, test, promote a canary, roll back, start, stop.\n\n"
    "Example: `shelfcast endpoints describe book-sales`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

BackendOption = Annotated[
    str | None,
    typer.Option("--backend", help="local or vertex (default: the settings' endpoint_backend)."),
]
ProjectOption = Annotated[
    str | None, typer.Option("--project-id", help="GCP project (default: GCP_PROJECT).")
]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="GCP region (default: GCP_REGION).")
]
NameArgument = Annotated[str, typer.Argument(help="Endpoint name, e.g. book-sales.")]


def load(
    env: str | None = None,
    backend: str | None = None,
    project: str | None = None,
    region: str | None = None,
    artifact_uri: str | None = None,
) -> Settings:
    from shelfcast.settings import load_settings

    return load_settings(
        environment=env,
        endpoints={"backend": backend},
        gcp={"project": project, "region": region},
        artifact_uri=artifact_uri,
    )


def find_release(settings: Settings, release: str | None) -> Release:
    """The release named by id or URI, else the newest in the artifact store."""
    from shelfcast.endpoints.base import EndpointError
    from shelfcast.releases import list_releases, open_release

    if release:
        return open_release(settings.artifact_root, release)
    releases = list_releases(settings.artifact_root)
    if not releases:
        raise EndpointError(
            f"no release in {settings.artifact_root}: run `shelfcast package` first"
        )
    return releases[0]


@contextmanager
def progress_lines(title: str) -> Iterator[Progress]:
    """A spinner showing the current step, and one line per step with its time."""
    started = time.perf_counter()
    with err.status(title) as status:

        def report(message: str) -> None:
            err.print(f"[dim]{time.perf_counter() - started:6.1f}s[/dim] {message}")
            status.update(message)

        yield report


def run_deploy(
    settings: Settings,
    release: Release,
    endpoint: str,
    canary: int | None = None,
    dry_run: bool = False,
) -> RolloutResult:
    """Roll `release` out to `endpoint` on the settings' backend; print the outcome."""
    from shelfcast.endpoints.base import backend_for
    from shelfcast.endpoints.rollout import deploy_release

    backend = backend_for(settings, dry_run=dry_run)
    verb = "Planning" if dry_run else "Deploying"
    with progress_lines(f"{verb} {release.release_id} to {endpoint}") as progress:
        result = deploy_release(backend, endpoint, release, canary=canary, progress=progress)
    if dry_run:
        print_plan(backend)
    print_rollout(result, release)
    return result


def run_per_title(
    settings: Settings,
    release: Release,
    names: Sequence[str] = (),
    canary: int | None = None,
    dry_run: bool = False,
) -> None:
    """The seed's layout: each title (or each of `names`) on its own `<endpoint>-<ISBN>`,
    serving a one-title release. Every title is tried; `EndpointError` if any failed."""
    from shelfcast.endpoints.base import EndpointError
    from shelfcast.endpoints.per_title import one_title_release, title_endpoint
    from shelfcast.errors import ShelfcastError

    models = [release.model(n) for n in names] if names else list(release.models)
    outcomes: list[tuple[str, str, str]] = []
    for model in models:
        endpoint = title_endpoint(settings.endpoints.name, model.isbn)
        try:
            one = one_title_release(
                release, model.name, publish_missing=not dry_run, project=settings.gcp.project
            )
            outcome = run_deploy(settings, one, endpoint, canary=canary, dry_run=dry_run).action
        except ShelfcastError as exc:
            err.print(f"[red]error:[/red] {endpoint}: {exc}")
            outcome = f"failed: {exc}"
        outcomes.append((model.name, endpoint, outcome))
    table = Table(title=f"Per-title endpoints from {release.release_id}")
    for column in ("model", "endpoint", "outcome"):
        table.add_column(column)
    for row in outcomes:
        table.add_row(*row)
    console.print(table)
    failed = sum(outcome.startswith("failed") for *_, outcome in outcomes)
    if failed:
        raise EndpointError(f"{failed} of {len(outcomes)} title(s) failed to deploy")


def print_plan(backend: EndpointBackend) -> None:
    from shelfcast.endpoints.vertex import VertexBackend, render_plan

    assert isinstance(backend, VertexBackend)  # only it plans: backend_for refuses the rest
    console.print(
        f"[bold]Plan[/bold] (Vertex AI, project {backend.project}, region {backend.region})"
    )
    console.print(render_plan(backend.calls), highlight=False, soft_wrap=True, markup=False)
    for line in backend.assumptions:
        console.print(f"[dim]- {line}[/dim]")


def print_rollout(result: RolloutResult, release: Release) -> None:
    endpoint = result.endpoint
    new = result.deployed_model
    rows = [
        ("endpoint", f"{endpoint.name} ({endpoint.backend})"),
        ("release", f"{release.release_id}: {len(release.models)} title(s)"),
        ("outcome", result.action),
        ("deployed model", new.id if new else "-"),
        ("traffic", split_text(endpoint)),
        ("previous (kept)", result.previous.id if result.previous else "-"),
        ("undeployed", ", ".join(result.undeployed) or "-"),
        *((f"check {n}", check) for n, check in enumerate(result.checks, start=1)),
        ("url", endpoint.url or "-"),
        ("seconds", f"{result.seconds:.1f}"),
    ]
    print_facts(rows)


def split_text(endpoint: Endpoint) -> str:
    if not endpoint.traffic:
        return "none"
    by_id = {m.id: m for m in endpoint.deployed_models}
    return ", ".join(
        f"{k} ({by_id[k].release_id if k in by_id else '?'}) {v}%"
        for k, v in endpoint.traffic.items()
    )


def print_endpoints(endpoints: Sequence[Endpoint]) -> None:
    table = Table(title="Endpoints")
    for column in ("name", "backend", "serving release", "traffic", "models", "health", "url"):
        table.add_column(column, no_wrap=column != "url")
    for endpoint in endpoints:
        serving = endpoint.serving()
        states = sorted({m.state for m in endpoint.deployed_models})
        table.add_row(
            endpoint.name,
            endpoint.backend,
            serving.release_id if serving else "-",
            split_text(endpoint),
            str(len(endpoint.deployed_models)),
            ", ".join(states) or "-",
            endpoint.url or "-",
        )
    console.print(table)
    print_facts([("endpoints", str(len(endpoints)))])


def check_endpoint(
    settings: Settings, name: str, deployed_model: str | None = None, horizon: int | None = None
) -> list[str]:
    """Smoke-test what `name` serves: each deployed model taking traffic, aimed at it where
    the backend can; otherwise through the endpoint, against every release it serves.
    `horizon`: weeks each title is forecast (default: the smoke test's)."""
    from shelfcast.endpoints.base import EndpointError, NotApplicable, backend_for
    from shelfcast.endpoints.rollout import smoke_test
    from shelfcast.releases import read_release

    backend = backend_for(settings)
    endpoint = backend.describe(name)
    if deployed_model and not backend.targets_deployed_models:
        raise NotApplicable(f"the {backend.kind} backend cannot aim at one deployed model")
    if deployed_model:
        targets = [endpoint.deployed_model(deployed_model)]
    else:
        targets = [m for m in endpoint.deployed_models if endpoint.traffic.get(m.id)]
    if not targets:
        raise EndpointError(f"endpoint {name!r} serves nothing to test")
    releases = {m.id: read_release(m.release_uri) for m in targets}
    if backend.targets_deployed_models:
        return [
            f"{m.id}: " + smoke_test(backend, name, releases[m.id], m.id, horizon) for m in targets
        ]
    serving = endpoint.serving()
    assert serving is not None
    others = [r for k, r in releases.items() if k != serving.id]
    return [smoke_test(backend, name, releases[serving.id], None, horizon, also=others)]


# ---------------------------------------------------------------------------------- commands


@reports_errors
def deploy(
    release: Annotated[
        str | None,
        typer.Option("--release", help="Release id or URI (default: the newest release)."),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="Endpoint name (default: settings, book-sales)."),
    ] = None,
    canary: Annotated[
        int | None,
        typer.Option(
            "--canary",
            min=1,
            max=99,
            help="Give the new release this percentage of traffic; the rest stays on the "
            "current one until `shelfcast endpoints promote`.",
        ),
    ] = None,
    backend: BackendOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Vertex AI: print every call and its arguments; call nothing."
        ),
    ] = False,
    per_title: Annotated[
        bool,
        typer.Option(
            "--per-title",
            help="The seed's layout: one endpoint <endpoint>-<ISBN> per title, each serving "
            "a release of that title.",
        ),
    ] = False,
    model_name: Annotated[
        list[str] | None,
        typer.Option(
            "--model-name", help="With --per-title: only these titles (model name or ISBN)."
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Artifact store holding the releases (default: settings)."),
    ] = None,
    env: EnvOption = None,
    project_id: ProjectOption = None,
    region: RegionOption = None,
) -> None:
    """Roll a release out to an endpoint: start it, check health, smoke-test every title,
    then shift traffic. A failed check leaves the traffic where it was.

    Example: `shelfcast deploy --canary 10` then `shelfcast endpoints promote book-sales`
    """
    from shelfcast.endpoints.base import EndpointError

    if model_name and not per_title:
        raise EndpointError("--model-name picks titles for --per-title endpoints")
    settings = load(env, backend, project_id, region, artifact_uri=store)
    found = find_release(settings, release)
    name = endpoint or settings.endpoints.name
    if per_title:
        run_per_title(
            settings.replace(endpoints={"name": name}), found, model_name or (), canary, dry_run
        )
    else:
        run_deploy(settings, found, name, canary=canary, dry_run=dry_run)


@app.command("list")
@reports_errors
def list_command(
    backend: BackendOption = None,
    env: EnvOption = None,
    project_id: ProjectOption = None,
    region: RegionOption = None,
) -> None:
    """Every endpoint with what it serves and how healthy it is.

    Example: `shelfcast endpoints list --backend vertex`
    """
    from shelfcast.endpoints.base import backend_for

    print_endpoints(backend_for(load(env, backend, project_id, region)).list_endpoints())


@app.command("describe")
@reports_errors
def describe_command(
    name: NameArgument,
    backend: BackendOption = None,
    env: EnvOption = None,
    project_id: ProjectOption = None,
    region: RegionOption = None,
) -> None:
    """An endpoint's deployed models, traffic split and traffic history.

    Example: `shelfcast endpoints describe book-sales`
    """
    from shelfcast.endpoints.base import backend_for

    endpoint = backend_for(load(env, backend, project_id, region)).describe(name)
    table = Table(title=f"{endpoint.name} ({endpoint.backend})")
    for column in ("deployed model", "release", "created", "state", "traffic", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for model in endpoint.deployed_models:
        detail = {**model.detail, **({"url": model.url} if model.url else {})}
        table.add_row(
            model.id,
            model.release_id,
            model.created,
            model.state,
            f"{endpoint.traffic.get(model.id, 0)}%",
            ", ".join(f"{k} {v}" for k, v in detail.items()),
        )
    console.print(table)
    if endpoint.history:
        history = Table(title="Traffic history (latest last)")
        for column in ("time", "traffic", "note"):
            history.add_column(column)
        for change in endpoint.history[-10:]:
            split = ", ".join(f"{k} {v}%" for k, v in change.traffic.items()) or "none"
            history.add_row(change.time, split, change.note)
        console.print(history)
    print_facts(
        [
            ("url", endpoint.url or "-"),
            ("traffic", split_text(endpoint)),
            *((key, str(value)) for key, value in endpoint.detail.items()),
        ]
    )


@app.command("test")
@reports_errors
def test_command(
    name: NameArgument,
    deployed_model: Annotated[
        str | None,
        typer.Option("--deployed-model", help="Test this deployed model only (local backend)."),
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(min=1, max=260, help="Weeks to forecast (default: the smoke test's, 32)."),
    ] = None,
    backend: BackendOption = None,
    env: EnvOption = None,
    project_id: ProjectOption = None,
    region: RegionOption = None,
) -> None:
    """Forecast every title the endpoint serves and check each answer (dated Saturdays,
    finite, non-negative, ordered intervals); exit 1 on the first failed check.

    Example: `shelfcast endpoints test book-sales`
    """
    from shelfcast.endpoints.base import DeploymentFailed, EndpointError

    settings = load(env, backend, project_id, region)
    try:
        with progress_lines(f"Testing {name}"):
            lines = check_endpoint(settings, name, deployed_model, horizon)
    except DeploymentFailed as exc:
        raise EndpointError(f"{name} failed the {exc.check} check: {exc.reason}") from None
    print_facts([(f"check {n}", line) for n, line in enumerate(lines, start=1)])


@app.command("promote")
@reports_errors
def promote_command(
    name: NameArgument,
    backend: BackendOption = None,
    env: EnvOption = None,
    project_id: ProjectOption = None,
    region: RegionOption = None,
) -> None:
    """Give a canary all traffic; the model it shared traffic with stays for rollback.

    Example: `shelfcast endpoints promote book-sales`
    """
    from shelfcast.endpoints.base import backend_for
    from shelfcast.endpoints.rollout import promote

    result = promote(backend_for(load(env, backend, project_id, region)), name)
    _print_change(result)


@app.command("rollback")
@reports_errors
def rollback_command(
    name: NameArgument,
    backend: BackendOption = None,
    env: EnvOption = None,
    project_id: ProjectOption = None,
    region: RegionOption = None,
) -> None:
    """Put all traffic back on the deployed model that served before (or end a canary).

    Example: `shelfcast endpoints rollback book-sales`
    """
    from shelfcast.endpoints.base import backend_for
    from shelfcast.endpoints.rollout import rollback

    result = rollback(backend_for(load(env, backend, project_id, region)), name)
    _print_change(result)


def _print_change(result: RolloutResult) -> None:
    endpoint = result.endpoint
    print_facts(
        [
            ("endpoint", f"{endpoint.name} ({endpoint.backend})"),
            ("outcome", result.action),
            ("serving", result.deployed_model.release_id if result.deployed_model else "-"),
            ("traffic", split_text(endpoint)),
            ("from", result.previous.id if result.previous else "-"),
            ("undeployed", ", ".join(result.undeployed) or "-"),
            ("seconds", f"{result.seconds:.2f}"),
        ]
    )


@app.command("start")
@reports_errors
def start_command(name: NameArgument, backend: BackendOption = None, env: EnvOption = None):
    """Bring a stopped endpoint back, with its deployed models and traffic split.

    Example: `shelfcast endpoints start book-sales`
    """
    from shelfcast.endpoints.base import backend_for

    print_endpoints([backend_for(load(env, backend)).start(name)])


@app.command("stop")
@reports_errors
def stop_command(name: NameArgument, backend: BackendOption = None, env: EnvOption = None):
    """Stop an endpoint's servers; it keeps what it serves, for `start`.

    Example: `shelfcast endpoints stop book-sales`
    """
    from shelfcast.endpoints.base import backend_for

    print_endpoints([backend_for(load(env, backend)).stop(name)])
