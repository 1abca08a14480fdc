"""The dashboard's FastAPI app: one HTML page, its static files and the JSON routes it uses.

Routes: `/` (the page; `?isbn=` opens a title), `/api/titles` (`?q=` filters by ISBN or
title, `?segment=` by demand segment, stage or demand class; with counts per segment),
`/api/titles/{isbn}` (`?horizon=` weeks), `/api/endpoints`, `/api/report`, `/health`
and `/static/...` (plotly.js comes from the installed plotly package: no network needed).
Errors are JSON `{"error": {"field", "reason"}}`: 4xx for bad input, 503 when something the
page needs (the endpoint's release, the report) cannot be read.

With a token, every route needs it: `Authorization: Bearer <token>`, or a browser opens
`/?token=<token>` once and keeps it in a cookie.
"""

from __future__ import annotations

import hmac
import importlib.util
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shelfcast import __version__
from shelfcast.dashboard.source import (
    DashboardError,
    DashboardSource,
    NoEndpointYet,
    NoReportYet,
)
from shelfcast.forecasting.bundle import MAX_HORIZON
from shelfcast.forecasting.calibration import quantile_column

COOKIE = "shelfcast_dashboard_token"
PLOTLY_ROUTE = "/static/plotly.min.js"


def create_app(source: DashboardSource, token: str | None = None) -> FastAPI:
    """The dashboard for `source`; with `token`, every route requires it."""
    app = FastAPI(
        title="Shelfcast dashboard",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    templates = Environment(
        loader=PackageLoader("shelfcast.dashboard", "templates"),
        autoescape=select_autoescape(),
    )
    templates.filters["number"] = _number
    plotly = plotly_js()

    if token:

        @app.middleware("http")
        async def require_token(request: Request, call_next: Any) -> Response:
            return await _authorize(request, call_next, token)

    @app.exception_handler(DashboardError)
    async def dashboard_error(_request: Request, exc: DashboardError) -> Response:
        return _error(exc.status, exc.field, exc.reason)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        error = exc.errors()[0]
        where = [str(p) for p in error["loc"] if p not in ("query", "path")]
        return _error(422, ".".join(where) or "request", str(error["msg"]))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, "path", f"{exc.detail}: {request.method} {request.url.path}")

    @app.get("/", response_class=HTMLResponse)
    def page(isbn: Annotated[str, Query(max_length=64)] = "") -> HTMLResponse:
        titles, titles_problem, no_endpoint = None, None, False
        try:
            titles = source.titles()
        except DashboardError as exc:  # NoEndpointYet: an empty state, said without alarm
            titles_problem, no_endpoint = exc.reason, isinstance(exc, NoEndpointYet)
        report, report_problem, no_report = None, None, False
        try:
            report = source.report()
        except NoReportYet:
            no_report = True  # an empty state: the page says how to make one
        except DashboardError as exc:
            report_problem = exc.reason
        html = templates.get_template("index.html").render(
            version=__version__,
            endpoint=source.endpoint,
            backend=source.backend.kind,
            titles=titles,
            titles_problem=titles_problem,
            no_endpoint=no_endpoint,
            endpoints=source.endpoints(),
            report=report,
            report_problem=report_problem,
            no_report=no_report,
            initial_isbn=isbn,
            plotly=plotly is not None,
            levels=source.levels,
            quantiles=[quantile_column(q) for q in source.quantiles],
        )
        return HTMLResponse(html)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/titles")
    def titles(
        q: Annotated[str, Query(max_length=200)] = "",
        segment: Annotated[str, Query(max_length=64)] = "",
    ) -> dict[str, Any]:
        return source.titles(q, segment)

    @app.get("/api/titles/{isbn}")
    def title(
        isbn: str,
        horizon: Annotated[int | None, Query(ge=1, le=MAX_HORIZON)] = None,
    ) -> dict[str, Any]:
        return source.title(isbn, horizon or source.horizon)

    @app.get("/api/endpoints")
    def endpoints() -> dict[str, Any]:
        return source.endpoints()

    @app.get("/api/report")
    def report() -> dict[str, Any]:
        return source.report()

    @app.get(PLOTLY_ROUTE, include_in_schema=False)
    def plotly_route() -> Response:
        if plotly is None:
            raise DashboardError(404, "path", "plotly is not installed: pip install plotly")
        return FileResponse(plotly, headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(packages=[("shelfcast.dashboard", "static")]), name="static")
    return app


def plotly_js() -> Path | None:
    """plotly.min.js of the installed plotly package, if there is one."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


async def _authorize(request: Request, call_next: Any, token: str) -> Response:
    given = request.query_params.get("token")
    if given is not None and request.url.path == "/":
        if not _same(given, token):
            return _error(401, "token", "the token is wrong")
        url = request.url.remove_query_params("token")
        response = RedirectResponse(url.path + (f"?{url.query}" if url.query else ""), 303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    supplied = bearer.strip() if scheme.lower() == "bearer" else request.cookies.get(COOKIE, "")
    if not _same(supplied, token):
        return _error(
            401,
            "Authorization",
            "a token is required: send `Authorization: Bearer <token>`, "
            "or open /?token=<token> in the browser",
        )
    return await call_next(request)


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _error(status: int, field: str, reason: str) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "reason": reason}}, status_code=status)


def _number(value: Any, digits: int = 0) -> str:
    if value is None or isinstance(value, Undefined):
        return "\N{EN DASH}"
    return f"{float(value):,.{digits}f}"
