"""`shelfcast deploy` and `shelfcast endpoints`: guarded rollouts, traffic, tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shelfcast.cli.common import App, EnvOption, ProgressDisplay, print_facts, reports_errors

if TYPE_CHECKING:
    from shelfcast.settings import Settings

app = App(
    help="Endpoints: list, describe, test, promote a canary, roll back, start, stop.\n\n"
    "Example: `shelfcast endpoints describe book-sales`",
    no_args_is_help=True,
)

BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="local|vertex",
        help="Where endpoints live (default: the settings' endpoint_backend).",
    ),
]
ProjectOption = Annotated[
    str | None,
    typer.Option("--project-id", metavar="PROJECT", help="GCP project (default: GCP_PROJECT)."),
]
RegionOption = Annotated[
    str | None,
    typer.Option("--region", metavar="REGION", help="GCP region (default: GCP_REGION)."),
]
NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="Endpoint name, e.g. book-sales.")
]


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


@reports_errors
def deploy(
    release: Annotated[
        str | None,
        typer.Option(
            "--release", metavar="RELEASE", help="Release id or URI (default: the newest)."
        ),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint", metavar="NAME", help="Endpoint name (default: settings, book-sales)."
        ),
    ] = None,
    canary: Annotated[
        int | None,
        typer.Option(
            "--canary",
            min=1,
            max=99,
            metavar="PERCENT",
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
            "--model-name",
            metavar="NAME",
            help="With --per-title: only these titles (model name or ISBN).",
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URI",
            help="Artifact store holding the releases (default: settings).",
        ),
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
    from shelfcast.lifecycle.deploy import deploy_per_title, deploy_release, find_release
    from shelfcast.views.endpoints import print_deploy, print_per_title

    if model_name and not per_title:
        raise EndpointError("--model-name picks titles for --per-title endpoints")
    settings = load(env, backend, project_id, region, artifact_uri=store)
    found = find_release(settings, release)
    with ProgressDisplay() as progress:
        if not per_title:
            result = deploy_release(
                settings, found, endpoint, canary=canary, dry_run=dry_run, progress=progress
            )
        else:
            titles = deploy_per_title(
                settings,
                found,
                model_name or (),
                endpoint=endpoint,
                canary=canary,
                dry_run=dry_run,
                progress=progress,
            )
    if not per_title:
        print_deploy(result)
        return
    for title in titles.titles:
        if title.result is not None:
            print_deploy(title.result)
    print_per_title(titles)
    if titles.failed:
        raise EndpointError(
            f"{len(titles.failed)} of {len(titles.titles)} title(s) failed to deploy"
        )


@app.command("list")
@reports_errors
def list_command(
    backend: BackendOption = None,
    env: EnvOption = None,
    project_id: ProjectOption = None,
    region: RegionOption = None,
) -> None:
    """Every endpoint with what it serves, how healthy it is and the URL clients call. A
    local endpoint whose router died shows `router down`: any other endpoints command on it
    starts the router again, which keeps the replicas that still run.

    Example: `shelfcast endpoints list --backend vertex`
    """
    from shelfcast.lifecycle.deploy import list_endpoints
    from shelfcast.views.endpoints import print_endpoints

    print_endpoints(list_endpoints(load(env, backend, project_id, region)))


@app.command("describe")
@reports_errors
def describe_command(
    name: NameArgument,
    backend: BackendOption = None,
    env: EnvOption = None,
    project_id: ProjectOption = None,
    region: RegionOption = None,
) -> None:
    """An endpoint's deployed models, traffic split and traffic history, and the URL
    clients call (the deployed models' own URLs are internal: they bypass the split).

    Example: `shelfcast endpoints describe book-sales`
    """
    from shelfcast.lifecycle.deploy import describe_endpoint
    from shelfcast.views.endpoints import print_describe

    print_describe(describe_endpoint(load(env, backend, project_id, region), name))


@app.command("test")
@reports_errors
def test_command(
    name: NameArgument,
    deployed_model: Annotated[
        str | None,
        typer.Option(
            "--deployed-model", metavar="ID", help="Test this deployed model only (local backend)."
        ),
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=260,
            metavar="WEEKS",
            help="Weeks to forecast (default: the smoke test's, 32).",
            show_default=False,
        ),
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
    from shelfcast.lifecycle.deploy import check_endpoint

    settings = load(env, backend, project_id, region)
    with ProgressDisplay() as progress:
        lines = check_endpoint(settings, name, deployed_model, horizon, progress)
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
    from shelfcast.lifecycle.deploy import promote_canary
    from shelfcast.views.endpoints import print_change

    print_change(promote_canary(load(env, backend, project_id, region), name))


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
    from shelfcast.lifecycle.deploy import rollback_endpoint
    from shelfcast.views.endpoints import print_change

    print_change(rollback_endpoint(load(env, backend, project_id, region), name))


@app.command("start")
@reports_errors
def start_command(name: NameArgument, backend: BackendOption = None, env: EnvOption = None):
    """Bring a stopped endpoint back, with its deployed models and traffic split (locally:
    the router, which starts `min_replicas` servers per deployed model).

    Example: `shelfcast endpoints start book-sales`
    """
    from shelfcast.lifecycle.deploy import start_endpoint
    from shelfcast.views.endpoints import print_endpoints

    print_endpoints([start_endpoint(load(env, backend), name)])


@app.command("stop")
@reports_errors
def stop_command(name: NameArgument, backend: BackendOption = None, env: EnvOption = None):
    """Stop an endpoint's servers; it keeps what it serves, for `start`.

    Example: `shelfcast endpoints stop book-sales`
    """
    from shelfcast.lifecycle.deploy import stop_endpoint
    from shelfcast.views.endpoints import print_endpoints

    print_endpoints([stop_endpoint(load(env, backend), name)])
