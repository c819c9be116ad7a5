"""Signing in and out of the pages, and `require_person`, which every page for people calls first.

    GET  /signin           the username and password
    POST /signin           checks them; the page asks for the TOTP code
    POST /signin/code      checks the code; the person is signed in and sent on
    POST /signout          ends the session
    GET  /account          the signed-in person: name, role and scope

A page route starts with `person = await require_person(request, roles=("regulator",))`: a browser without a live
session is sent to /signin (and back afterwards), a person of another role is refused, and the person's visit is
written to the access log. What the person may see is then `person.sees_office(...)` and the like.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from aiohttp import web

from gateway.core.errors import AccountLocked, RoleNotAllowed, SignInFailed, SignInRequired
from gateway.core.text import normalize_persian
from gateway.people.accounts import Person
from gateway.people.sessions import SessionPolicy
from gateway.people.signin import SignIn, SignInPolicy
from gateway.web.context import services
from gateway.web.pages.rendering import checked_form, render

routes = web.RouteTableDef()
SESSION_COOKIE = "pishkhan_session"
TICKET_COOKIE = "pishkhan_signin"
PERSON = web.RequestKey("person", Person)
# Where each role lands after signing in, unless it was on its way to another page.
HOME_OF_ROLE = {"regulator": "/console", "office": "/office", "agency": "/agency", "operator": "/counter"}
ROLE_NAMES = {
    "regulator": "بازرس نهاد ناظر",
    "office": "مدیر دفتر",
    "agency": "کارشناس دستگاه",
    "operator": "متصدی باجه",
}
EVERY_ROLE = tuple(ROLE_NAMES)
MESSAGES = {
    SignInFailed.code: "نام کاربری، گذرواژه یا کد درست نیست.",
    AccountLocked.code: "به سبب تلاش‌های ناموفق پیاپی، این حساب برای مدتی قفل شده است؛ بعداً دوباره تلاش کنید.",
    "expired": "مهلت ورود گذشته است؛ نام کاربری و گذرواژه را دوباره وارد کنید.",
}


def sign_in(request: web.Request) -> SignIn:
    svc = services(request)
    settings = svc.settings
    policy = SignInPolicy(
        max_failures=settings.signin_max_failures,
        lockout_s=settings.signin_lockout_s,
        session=SessionPolicy(idle_s=settings.session_idle_s, absolute_s=settings.session_absolute_s),
    )
    return SignIn(svc.pool, svc.redis, policy, svc.clock)


async def signed_in_person(request: web.Request) -> Person | None:
    return await sign_in(request).person(request.cookies.get(SESSION_COOKIE, ""))


async def require_person(request: web.Request, roles: Iterable[str]) -> Person:
    """The signed-in person, if their role is one of `roles`. A browser without a session is sent to sign in."""
    person = await signed_in_person(request)
    if person is None:
        if request.method in ("GET", "HEAD"):
            raise web.HTTPSeeOther(f"/signin?next={quote(request.path_qs, safe='')}")
        raise SignInRequired()
    allowed = tuple(roles)
    if person.role not in allowed:
        raise RoleNotAllowed(f"This page is for the {', '.join(allowed)} role.")
    request[PERSON] = person  # the access log writes down the visit
    return person


def _next(form_or_query) -> str:
    """A page of this site to go on to (never another site)."""
    target = str(form_or_query.get("next", ""))
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and "\n" not in target:
        return target
    return ""


def _cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="Strict", secure=request.secure, path="/")


@routes.get("/signin")
async def signin_page(request: web.Request) -> web.Response:
    return render(request, "signin.html", {"step": "password", "next": _next(request.query), "message": None})


@routes.post("/signin")
async def signin_password(request: web.Request) -> web.Response:
    form = await checked_form(request)
    context = {"next": _next(form), "username": form.get("username", "")}
    try:
        ticket = await sign_in(request).check_password(
            form.get("username", ""), form.get("password", ""), path=request.path
        )
    except (SignInFailed, AccountLocked) as refusal:
        return render(
            request, "signin.html", {**context, "step": "password", "message": MESSAGES[refusal.code]}, status=401
        )
    response = render(request, "signin.html", {**context, "step": "code", "message": None})
    _cookie(request, response, TICKET_COOKIE, ticket)
    return response


@routes.post("/signin/code")
async def signin_code(request: web.Request) -> web.Response:
    form = await checked_form(request)
    ticket = request.cookies.get(TICKET_COOKIE, "")
    try:
        person, token = await sign_in(request).check_code(
            ticket, normalize_persian(form.get("code", "")), path=request.path
        )
    except (SignInFailed, AccountLocked) as refusal:
        expired = isinstance(refusal, SignInFailed) and refusal.message != SignInFailed.default_message
        step = "password" if expired or isinstance(refusal, AccountLocked) else "code"
        message = MESSAGES["expired" if expired else refusal.code]
        return render(
            request, "signin.html", {"step": step, "next": _next(form), "message": message, "username": ""}, status=401
        )
    response = web.HTTPSeeOther(_next(form) or HOME_OF_ROLE[person.role])
    _cookie(request, response, SESSION_COOKIE, token)
    response.del_cookie(TICKET_COOKIE, path="/")
    raise response


@routes.post("/signout")
async def signout(request: web.Request) -> web.Response:
    await checked_form(request)
    person = await signed_in_person(request)
    if person is not None:
        await sign_in(request).sign_out(request.cookies.get(SESSION_COOKIE, ""), person, path=request.path)
    response = web.HTTPSeeOther("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@routes.get("/account")
async def account(request: web.Request) -> web.Response:
    person = await require_person(request, EVERY_ROLE)
    registry = services(request).state.registry
    office = registry.offices.get(person.office_id or "")
    agency = registry.agencies.get(person.agency_id or "")
    return render(
        request,
        "account.html",
        {"person": person, "role_name": ROLE_NAMES[person.role], "office": office, "agency": agency},
    )
