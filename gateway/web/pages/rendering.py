"""Wiring of the pages into the application: the Jinja2 environment and its Persian filters, the page secret, the
static files (the gateway's stylesheet, the Vazirmatn font and the chart library from node_modules), the headers every
page carries, and error pages in Persian for requests made by a browser."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from gateway.core.errors import GatewayError
from gateway.core.jalali import format_jalali_datetime
from gateway.core.text import format_rials, to_persian_digits
from gateway.platform.config import PROJECT_ROOT
from gateway.platform.kept_secrets import kept_secret
from gateway.web.errors import status_of
from gateway.web.pages import csrf
from gateway.web.pages.labels import label

log = logging.getLogger(__name__)

PAGE_SECRET = web.AppKey("page_secret", bytes)
STATIC_DIR = Path(__file__).parent / "static"
NODE_MODULES = PROJECT_ROOT / "node_modules"
# URL prefix → directory of an npm package's files that pages use.
VENDOR_DIRS = {
    "/assets/fonts": NODE_MODULES / "vazirmatn" / "fonts" / "webfonts",
    "/assets/chart": NODE_MODULES / "chart.js" / "dist",
}
# Pages never load anything from elsewhere, and a receipt's secret link never leaks in a Referer header.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_MACHINE_PATHS = ("/v1/", "/metrics", "/healthz", "/readyz", "/openapi.json")
ERROR_TITLES = {
    400: "درخواست نادرست است",
    401: "ابتدا وارد سامانه شوید",
    403: "اجازهٔ این کار را ندارید",
    404: "صفحه پیدا نشد",
    405: "این کار در این صفحه ممکن نیست",
    429: "درخواست‌ها بیش از حد مجاز است",
    503: "سامانه موقتاً در دسترس نیست",
}


def page_secret(key_dir: Path) -> bytes:
    """The key of the pages' CSRF tokens, PISHKHAN_PAGE_SECRET or a file kept beside the receipt keys, so every serving
    process of one deployment signs alike."""
    if configured := os.environ.get("PISHKHAN_PAGE_SECRET"):
        return configured.encode()
    return kept_secret(key_dir, "page-secret")


def persian_digits(value: Any) -> str:
    return to_persian_digits(str(value))


def jalali_datetime(value: datetime) -> str:
    return to_persian_digits(format_jalali_datetime(value))


def setup_pages(app: web.Application, key_dir: Path) -> None:
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("gateway.web.pages", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(fa=persian_digits, rials=format_rials, jalali=jalali_datetime, label=label)
    app[PAGE_SECRET] = page_secret(key_dir)
    app.router.add_static("/assets/site", STATIC_DIR, name="site", append_version=True)
    for prefix, directory in VENDOR_DIRS.items():
        if directory.is_dir():
            app.router.add_static(prefix, directory)
        else:
            log.warning("%s is missing (run `make install`): pages fall back to the system's fonts", directory)
    app.router.add_get("/", home, name="home")


def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """A page, with a CSRF token for its forms and the pages' headers."""
    token = csrf.cookie_token(request)
    context = {
        **(context or {}),
        "csrf_field": csrf.FIELD,
        "csrf_value": csrf.field_value(token, request.app[PAGE_SECRET]),
    }
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers.update(PAGE_HEADERS)
    csrf.set_cookie(request, response, token)
    return response


async def checked_form(request: web.Request) -> dict[str, str]:
    """The fields of a page's form POST, after its CSRF token is checked."""
    form = {key: str(value) for key, value in (await request.post()).items()}
    csrf.check(request, form, request.app[PAGE_SECRET])
    return form


def is_page_route(route: web.AbstractRoute) -> bool:
    """A page or a static file (outside the API's contract in /openapi.json): a handler of this package, or a file."""
    return isinstance(route.resource, web.StaticResource) or route.handler.__module__.startswith(__package__ or "")


def wants_page(request: web.Request) -> bool:
    return not request.path.startswith(_MACHINE_PATHS) and "text/html" in request.headers.get("Accept", "")


@web.middleware
async def page_errors(request: web.Request, handler):
    """A browser that asks for a page gets errors as a Persian page; machines keep the JSON error shape."""
    try:
        return await handler(request)
    except (GatewayError, web.HTTPException) as exc:
        if isinstance(exc, web.HTTPException) and exc.status < 400:
            raise
        if not wants_page(request):
            raise
        status = exc.status if isinstance(exc, web.HTTPException) else status_of(exc)
        return render(
            request, "error.html", {"status": status, "title": ERROR_TITLES.get(status, "خطا")}, status=status
        )


async def home(request: web.Request) -> web.Response:
    return render(request, "home.html")
