"""The counter: an office operator collects a fee from a browser, through the same charge service and rules as a
terminal's API key.

    GET  /counter                         the charge form (or, first, the choice of the office's terminal)
    POST /counter/terminal                the terminal this browser charges on
    GET  /counter/services?q=             the office's services matching what was typed (JSON, for the form's script)
    GET  /counter/quote?service_code=…    the cap and its breakdown (JSON, the same as GET /v1/tariffs/quote)
    POST /counter/charges                 sends the charge; answers with the charge's page
    GET  /counter/charges/{id}            a charge of the office: completed, declined, refused or pending
    POST /counter/receipts/{code}/prints  records a print (the first is the original, later ones copies)
    GET  /counter/receipts/{code}/prints/{n}      the page that opens the print dialog for that print
    GET  /counter/receipts/{code}/prints/{n}.pdf  its paper
    GET  /counter/today                   the office's charges of the day, with totals by service

Every route is for the `operator` role and sees only the operator's own office: a terminal, charge or receipt of
another office is "not found". The form carries an Idempotency-Key made when it was rendered, so a double click or
a reload sends one charge.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.charging.store import get_charge, office_charges_between, office_totals_between
from gateway.core.charge import PENDING, Charge, Status
from gateway.core.errors import GatewayError, ResourceMissing
from gateway.core.jalali import tehran_date, tehran_day
from gateway.core.registry import Service, Terminal
from gateway.core.service_search import search_services
from gateway.core.text import format_rials, normalize_persian
from gateway.people.accounts import Person
from gateway.receipt_book.prints import get_print, record_print
from gateway.receipt_book.store import get_receipt
from gateway.web.context import services
from gateway.web.errors import json_response
from gateway.web.pages.rendering import PAGE_HEADERS, checked_form, render
from gateway.web.pages.signin import require_person
from gateway.web.routes.charges import MAX_IDEMPOTENCY_KEY, charge_intent, request_fingerprint
from gateway.web.routes.receipts import printed_form
from gateway.web.routes.tariffs import office_quote
from gateway.web.schemas import ChargeRequest, validation_error

routes = web.RouteTableDef()
TERMINAL_COOKIE = "pishkhan_counter_terminal"
DAY_LIST_LIMIT = 500
PRINT_FORMS = ("80mm", "a5")

# Why a charge was refused, in plain Persian, by error code; anything else falls back to the gateway's own message.
REFUSALS_FA = {
    "excess_fee": "مبلغ از سقف تعرفهٔ مصوب بیشتر است؛ اخذ هرگونه وجه مازاد ممنوع است.",
    "below_government_fee": "مبلغ از سهم ثابت دستگاه اجرایی کمتر است.",
    "cash_forbidden": "پرداخت فقط با کارت بانکی ممکن است.",
    "office_license_inactive": "پروانهٔ دفتر فعال نیست؛ دریافت هزینه ممکن نیست.",
    "psp_unlicensed": "مجوز شرکت پرداخت این پایانه معتبر نیست؛ پایانهٔ دیگری را برگزینید.",
    "service_not_assigned": "این خدمت به این دفتر واگذار نشده است.",
    "operator_not_in_office": "متصدی در فهرست متصدیان فعال این دفتر نیست.",
    "terminal_busy": "پایانه در حال پرداخت دیگری است؛ پس از پایان آن دوباره بفرستید.",
    "no_tariff": "برای این خدمت تعرفهٔ مصوبی در این زمان نیست.",
    "unknown_extra": "این خدمت جانبی برای این خدمت تعرفه ندارد.",
    "invalid_quantity": "تعداد باید عددی از ۱ تا ۱۰۰۰ باشد.",
    "idempotency_error": "این فرم پیش‌تر با اطلاعات دیگری فرستاده شده است؛ فرم تازه‌ای پر کنید.",
    "settlement_rows_exceeded": "تسهیم این مبلغ در این پایانه ممکن نیست.",
    "service_unavailable": "سامانه موقتاً در دسترس نیست؛ چند لحظه بعد دوباره بفرستید.",
    "identity_mismatch": (
        "استعلام هویت خدمت‌گیرنده با اطلاعات واردشده نمی‌خواند؛ نام، کد ملی، تاریخ تولد و شمارهٔ همراه را بررسی کنید."
    ),
    "identity_unavailable": "استعلام هویت خدمت‌گیرنده اکنون پاسخ نمی‌دهد؛ چند لحظه بعد با فرم تازه دوباره بفرستید.",
}
FIELDS_FA = {
    "service_code": "خدمت را برگزینید.",
    "amount": "مبلغ را به ریال و به عدد وارد کنید.",
    "quantity": "تعداد باید عددی از ۱ تا ۱۰۰۰ باشد.",
    "recipient.name": "نام خدمت‌گیرنده را وارد کنید.",
    "recipient.national_code": "کد ملی درست نیست (۱۰ رقم با رقم کنترل درست).",
    "recipient.mobile": "شمارهٔ همراه درست نیست (مانند ۰۹۱۲۱۲۳۴۵۶۷).",
    "recipient.birth_date": (
        "این خدمت استعلام ثبت احوال دارد: تاریخ تولد را به تقویم شمسی وارد کنید (مانند ۱۳۷۰/۰۱/۱۵)."
    ),
}
# The card's answer, by the PSP's response code.
DECLINES_FA = {
    "51": "موجودی کارت کافی نیست.",
    "55": "رمز کارت نادرست وارد شد.",
    "61": "مبلغ از سقف برداشت مجاز کارت بیشتر است.",
    "91": "بانک صادرکنندهٔ کارت در دسترس نیست؛ کمی بعد دوباره تلاش کنید.",
    "99": "دارندهٔ کارت پرداخت را روی پایانه لغو کرد.",
}
STATUS_FA = {
    Status.COMPLETED: "پرداخت انجام شد",
    Status.DECLINED: "کارت پذیرفته نشد",
    Status.CANCELLED: "پرداخت لغو شد",
    Status.EXPIRED: "مهلت پرداخت گذشت؛ وجهی برداشت نشد",
    Status.REVERSED: "پرداخت برگشت خورد؛ وجه به کارت بازگشت",
    Status.FAILED: "پرداخت انجام نشد؛ وجهی برداشت نشد",
    **dict.fromkeys(PENDING, "در انتظار پاسخ بانک"),
}


DECLINED = (Status.DECLINED, Status.CANCELLED)


def decline_fa(code: str | None) -> str:
    return DECLINES_FA.get(code or "", f"بانک پرداخت را نپذیرفت (کد پاسخ {code or 'نامعلوم'}).")


async def require_operator(request: web.Request) -> Person:
    return await require_person(request, ("operator",))


def office_terminals(request: web.Request, person: Person) -> list[Terminal]:
    registry = services(request).state.registry
    return sorted(
        (t for t in registry.terminals.values() if t.office_id == person.office_id), key=lambda t: t.terminal_id
    )


def office_services(request: web.Request, person: Person) -> list[Service]:
    registry = services(request).state.registry
    return [registry.services[code] for code in registry.offices[person.office_id or ""].services]


def chosen_terminal(request: web.Request, person: Person) -> Terminal | None:
    """The terminal this browser charges on, if it is still one of the operator's office."""
    terminal = services(request).state.registry.terminals.get(request.cookies.get(TERMINAL_COOKIE, ""))
    return terminal if terminal is not None and terminal.office_id == person.office_id else None


def _office_context(request: web.Request, person: Person) -> dict[str, Any]:
    registry = services(request).state.registry
    assert person.office_id is not None and person.operator_id is not None  # an operator has both
    return {
        "person": person,
        "office": registry.offices[person.office_id],
        "operator": registry.operators[person.operator_id],
        "psps": registry.psps,
    }


def _form_page(
    request: web.Request,
    person: Person,
    terminal: Terminal,
    *,
    values: dict[str, str] | None = None,
    refusal: str | None = None,
    status: int = 200,
) -> web.Response:
    """The charge form, with a new Idempotency-Key: one form, one charge."""
    context = _office_context(request, person)
    return render(
        request,
        "counter.html",
        {
            **context,
            "terminal": terminal,
            "services": search_services(office_services(request, person), "", limit=len(context["office"].services)),
            "idempotency_key": uuid.uuid4().hex,
            "values": values or {},
            "refusal": refusal,
        },
        status=status,
    )


def _terminal_page(request: web.Request, person: Person) -> web.Response:
    return render(
        request,
        "counter_terminal.html",
        {**_office_context(request, person), "terminals": office_terminals(request, person)},
    )


@routes.get("/counter")
async def counter(request: web.Request) -> web.Response:
    person = await require_operator(request)
    terminal = chosen_terminal(request, person)
    if terminal is None:
        return _terminal_page(request, person)
    return _form_page(request, person, terminal)


@routes.get("/counter/terminal")
async def terminal_choice(request: web.Request) -> web.Response:
    return _terminal_page(request, await require_operator(request))


@routes.post("/counter/terminal")
async def choose_terminal(request: web.Request) -> web.Response:
    form = await checked_form(request)
    person = await require_operator(request)
    wanted = form.get("terminal_id", "")
    if wanted not in {t.terminal_id for t in office_terminals(request, person)}:
        raise ResourceMissing("No such terminal in this office.", param="terminal_id")
    response = web.HTTPSeeOther("/counter")
    response.set_cookie(TERMINAL_COOKIE, wanted, httponly=True, samesite="Strict", secure=request.secure, path="/")
    raise response


@routes.get("/counter/services")
async def find_services(request: web.Request) -> web.Response:
    person = await require_operator(request)
    found = search_services(office_services(request, person), request.query.get("q", ""))
    return json_response({"data": [{"code": s.code, "name": s.name} for s in found]})


@routes.get("/counter/quote")
async def quote(request: web.Request) -> web.Response:
    person = await require_operator(request)
    return json_response(await office_quote(request, person.office_id or ""))


def _service_code(request: web.Request, person: Person, form: dict[str, str]) -> str:
    """The service picked by the form's script, or else the one that what was typed names unambiguously."""
    picked = normalize_persian(form.get("service_code", ""))
    if picked:
        return picked
    found = search_services(office_services(request, person), form.get("service", ""))
    typed = normalize_persian(form.get("service", ""))
    if len(found) == 1 or (found and found[0].code == typed):
        return found[0].code
    return ""


def _extras(form: dict[str, str]) -> list[dict[str, Any]]:
    extras = []
    for name, value in form.items():
        if name.startswith("extra_") and normalize_persian(value) not in ("", "0"):
            quantity = normalize_persian(value)
            extras.append(
                {"code": name.removeprefix("extra_"), "quantity": int(quantity) if quantity.isdigit() else quantity}
            )
    return extras


def _number(value: str) -> int | str:
    text = normalize_persian(value).replace(",", "").replace("٬", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 14 else text


@routes.post("/counter/charges")
async def send_charge(request: web.Request) -> web.Response:
    form = await checked_form(request)
    person = await require_operator(request)
    terminal = chosen_terminal(request, person)
    if terminal is None:
        raise web.HTTPSeeOther("/counter")
    key = form.get("idempotency_key", "").strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        return _form_page(
            request, person, terminal, values=form, refusal="فرم کامل نیست؛ صفحه را دوباره باز کنید.", status=400
        )
    try:
        body = ChargeRequest.model_validate(
            {
                "terminal_id": terminal.terminal_id,
                "operator_id": person.operator_id,
                "service_code": _service_code(request, person, form),
                "quantity": _number(form.get("quantity", "1")),
                "extras": _extras(form),
                "recipient": {
                    "name": form.get("recipient_name", ""),
                    "national_code": form.get("national_code", ""),
                    "birth_date": form.get("birth_date", "").strip() or None,
                    "mobile": form.get("mobile", ""),
                },
                "amount": _number(form.get("amount", "")),
                "payment_method": "card",
            }
        )
    except ValidationError as invalid:
        error = validation_error(invalid)
        message = FIELDS_FA.get(error.param or "", "اطلاعات فرم کامل یا درست نیست.")
        return _form_page(request, person, terminal, values=form, refusal=message, status=400)
    try:
        charge = await services(request).charges.create(
            key, charge_intent(body), request_fingerprint(body), terminal.terminal_id
        )
    except GatewayError as refused:
        message = REFUSALS_FA.get(refused.code) or FIELDS_FA.get(refused.param or "", refused.message)
        if refused.code == "excess_fee":
            details = refused.details
            cap, requested = format_rials(details["cap"]), format_rials(details["requested"])
            message = f"{message} سقف: {cap} ریال؛ درخواست: {requested} ریال."
        return _form_page(request, person, terminal, values=form, refusal=message, status=422)
    raise web.HTTPSeeOther(f"/counter/charges/{charge.id}")


async def _office_charge(request: web.Request, person: Person) -> Charge:
    try:
        charge_id = uuid.UUID(request.match_info["charge_id"])
    except ValueError:
        raise ResourceMissing("No such charge.") from None
    charge = await get_charge(services(request).pool, charge_id)
    if charge is None or charge.office_id != person.office_id:
        raise ResourceMissing("No such charge.")
    return charge


@routes.get("/counter/charges/{charge_id}")
async def charge_page(request: web.Request) -> web.Response:
    person = await require_operator(request)
    charge = await _office_charge(request, person)
    registry = services(request).state.registry
    return render(
        request,
        "counter_charge.html",
        {
            **_office_context(request, person),
            "charge": charge,
            "service": registry.services.get(charge.service_code),
            "state": charge.status.value,
            "pending": charge.status in PENDING,
            "title": STATUS_FA[charge.status],
            "decline": decline_fa(charge.decline_code)
            if charge.status in (Status.DECLINED, Status.CANCELLED)
            else None,
        },
    )


async def _office_receipt(request: web.Request, person: Person):
    row = await get_receipt(services(request).pool, normalize_persian(request.match_info["tracking_code"]))
    if row is None or row["office_id"] != person.office_id:
        raise ResourceMissing("No such receipt.")
    return row


@routes.post("/counter/receipts/{tracking_code}/prints")
async def print_receipt(request: web.Request) -> web.Response:
    form = await checked_form(request)
    person = await require_operator(request)
    row = await _office_receipt(request, person)
    paper = form.get("form", "")
    if paper not in PRINT_FORMS:
        raise ResourceMissing("No such printed form.", param="form")
    svc = services(request)
    recorded = await record_print(
        svc.pool, row["office_id"], row["tracking_code"], paper, f"person:{person.username}", svc.clock()
    )
    raise web.HTTPSeeOther(f"/counter/receipts/{row['tracking_code']}/prints/{recorded.number}")


async def _recorded(request: web.Request, person: Person):
    row = await _office_receipt(request, person)
    number = request.match_info["print_number"]
    recorded = (
        await get_print(services(request).pool, row["office_id"], row["tracking_code"], int(number))
        if number.isascii() and number.isdigit() and len(number) <= 7
        else None
    )
    if recorded is None:
        raise ResourceMissing("No such print.")
    return row, recorded


@routes.get("/counter/receipts/{tracking_code}/prints/{print_number:[0-9]+}")
async def print_page(request: web.Request) -> web.Response:
    person = await require_operator(request)
    row, recorded = await _recorded(request, person)
    return render(
        request,
        "counter_print.html",
        {
            **_office_context(request, person),
            "recorded": recorded,
            "charge_id": str(row["charge_id"]),
            "paper_url": f"{request.path}.pdf",
        },
    )


@routes.get("/counter/receipts/{tracking_code}/prints/{print_number:[0-9]+}.pdf")
async def print_paper(request: web.Request) -> web.Response:
    person = await require_operator(request)
    row, recorded = await _recorded(request, person)
    response = await printed_form(request, row, recorded.form, recorded)
    # The print page shows this paper in a frame of its own to print it.
    response.headers["Content-Security-Policy"] = PAGE_HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'"
    )
    return response


@routes.get("/counter/today")
async def today(request: web.Request) -> web.Response:
    person = await require_operator(request)
    svc = services(request)
    day = tehran_day(tehran_date(svc.clock()))
    office_id = person.office_id or ""
    charges = await office_charges_between(svc.pool, office_id, day.start, day.end, DAY_LIST_LIMIT)
    totals = await office_totals_between(svc.pool, office_id, day.start, day.end)
    return render(
        request,
        "counter_today.html",
        {
            **_office_context(request, person),
            "day": day,
            "charges": charges,
            "totals": totals,
            "total_amount": sum(row["amount"] for row in totals),
            "total_count": sum(row["charges"] for row in totals),
            "service_names": {code: s.name for code, s in svc.state.registry.services.items()},
            "limit": DAY_LIST_LIMIT,
        },
    )
