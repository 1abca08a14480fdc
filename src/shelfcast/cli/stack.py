"""`shelfcast stack`: register the cloud ZenML stack and print what it still needs."""

from __future__ import annotations

from typing import Annotated

import typer

from shelfcast.cli.common import App, EnvOption, console, make_table, reports_errors
from shelfcast.settings import load_settings
from shelfcast.views.common import Col

app = App(help="ZenML stacks: register the cloud (Vertex AI) stack.", no_args_is_help=True)

STATUS_STYLE = {"done": "[green]done[/green]", "needed": "[red]needed[/red]"}


@app.command("vertex")
@reports_errors
def stack_vertex(
    bucket: Annotated[
        str,
        typer.Option(
            metavar="BUCKET",
            help="GCS bucket for artifacts (gs://BUCKET/zenml); name or gs://name.",
        ),
    ],
    project: Annotated[
        str | None,
        typer.Option(metavar="PROJECT", help="GCP project ID. Default: GCP_PROJECT / settings."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(metavar="REGION", help="GCP region. Default: GCP_REGION / settings."),
    ] = None,
    mlflow_uri: Annotated[
        str | None,
        typer.Option(
            metavar="URI", help="Remote MLflow tracking server. Default: MLFLOW_TRACKING_URI."
        ),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            metavar="URI",
            help="Artifact Registry repository. Default: REGION-docker.pkg.dev/P/shelfcast",
        ),
    ] = None,
    service_account: Annotated[
        str | None,
        typer.Option(metavar="EMAIL", help="Workload service account Vertex AI runs steps as."),
    ] = None,
    name: Annotated[str, typer.Option(metavar="NAME", help="Stack name.")] = "vertex_ai_stack",
    mlflow_secret: Annotated[
        str | None,
        typer.Option(
            metavar="SECRET", help="ZenML secret with the MLflow credentials. Default: NAME_mlflow."
        ),
    ] = None,
    env: EnvOption = None,
) -> None:
    """Register the Vertex AI stack in ZenML (idempotent) and list what it still needs.

    Example: `shelfcast stack vertex --project my-proj --region europe-west2 --bucket
    my-proj-shelfcast --mlflow-uri https://mlflow.example.com --service-account
    shelfcast-pipelines@my-proj.iam.gserviceaccount.com`

    MLflow credentials come from MLFLOW_TRACKING_USERNAME/PASSWORD (or _TOKEN) and are kept in
    a ZenML secret; without them an auth-less server is assumed. Nothing runs on GCP here.
    """
    from shelfcast.training.stack import register_vertex_stack

    settings = load_settings(environment=env)
    with console.status("Registering the Vertex AI stack in ZenML"):
        plan = register_vertex_stack(
            settings,
            project=project,
            region=region,
            bucket=bucket,
            mlflow_uri=mlflow_uri,
            registry_uri=registry,
            service_account=service_account,
            name=name,
            mlflow_secret=mlflow_secret,
        )

    columns = [
        Col("component"),
        Col("name", wrap=True),
        Col("flavor"),
        Col("configuration", wrap=True),
        Col("action", wrap=True),
    ]
    rows = [
        (
            c.type,
            c.name,
            c.flavor,
            "\n".join(f"{k}={v}" for k, v in c.configuration.items()),
            c.action,
        )
        for c in plan.components
    ]
    title = f"Stack {plan.stack!r} ({plan.action}) in {plan.store}"
    console.print(make_table(columns, rows, title=title))
    console.print(f"MLflow credentials: {plan.mlflow_credentials}", highlight=False)

    columns = [Col("status"), Col("what", wrap=True), Col("detail", wrap=True)]
    rows = [
        (STATUS_STYLE.get(r.status, "[yellow]verify[/yellow]"), r.what, r.detail)
        for r in plan.still_needed
    ]
    console.print(make_table(columns, rows, title="Still needed before the stack can run"))
    commands = [cmd for r in plan.pending for cmd in r.commands]
    if commands:
        console.print("[bold]Commands[/bold] (review, then run with gcloud / zenml):")
        for cmd in commands:
            console.print(f"  {cmd}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"Then: {plan.activate}  (and DEPLOYMENT_ENV=production)", highlight=False)
