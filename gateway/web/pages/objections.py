"""The office's own view and objections to findings.

GET  /office                                    the office manager's findings (with the notice and the seven
                                                days to object), objections and six-month scorecard
POST /office/findings/{violation_id}/objection  an objection: text and up to three PDF or image files
GET  /office/attachments/{attachment_id}        an attachment of the office's own objection
GET  /console/objections                        the inspector's objections to decide (their scope)
POST /console/objections/{objection_id}/decision  uphold or reject, with the reason
GET  /console/attachments/{attachment_id}       an attachment, for the inspector
"""

from __future__ import annotations

from aiohttp import BodyPartReader, web

from gateway.core.errors import AttachmentRefused, InvalidRequest, ObjectionRefused, ResourceMissing
from gateway.core.objections import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_TEXT, may_object, objection_deadline
from gateway.core.periods import HalfYear
from gateway.core.text import normalize_persian
from gateway.oversight import objections
from gateway.oversight.catalog import VIOLATION_TYPES
from gateway.oversight.scorecard import office_scorecard
from gateway.people.accounts import Person
from gateway.web.context import services
from gateway.web.pages import csrf
from gateway.web.pages.labels import OBJECTION_EVENTS, OBJECTION_STATES
from gateway.web.pages.rendering import PAGE_SECRET, checked_form, render
from gateway.web.pages.signin import require_person

routes = web.RouteTableDef()
MANAGERS = ("office",)
INSPECTORS = ("regulator",)
FINDING_ROWS = 200
_FIELD_LIMIT = 8 * 1024  # the text fields of the objection form


def _period(request: web.Request) -> HalfYear:
    raw = request.query.get("period")
    try:
        return HalfYear.parse(raw) if raw else HalfYear.containing(services(request).clock())
    except ValueError:
        raise InvalidRequest("دورهٔ شش‌ماهه را مانند ۱۴۰۳-H1 بنویسید.", param="period") from None


async def _office_page(request: web.Request, person: Person, *, message: str | None = None, status: int = 200):
    svc = services(request)
    office = svc.state.registry.offices[str(person.office_id)]
    period = _period(request)
    now = svc.clock()
    rows = await objections.office_findings(svc.pool, office.id, period.starts_at, period.ends_before, FINDING_ROWS)
    histories = await objections.history(svc.pool, [row["id"] for row in rows])
    findings = [
        {
            "row": row,
            "kind": VIOLATION_TYPES[row["type"]],
            "deadline": objection_deadline(row["notified_at"]) if row["notified_at"] else None,
            "may_object": row["objection_id"] is None and may_object(row["notified_at"], now),
            "history": histories.get(row["id"], []),
        }
        for row in rows
    ]
    card = await office_scorecard(svc.pool, office, period, svc.oversight.rules, now=now)
    return render(
        request,
        "office_view.html",
        {
            "person": person,
            "office": office,
            "findings": findings,
            "scorecard": card,
            "states": OBJECTION_STATES,
            "events": OBJECTION_EVENTS,
            "message": message,
            "max_attachments": MAX_ATTACHMENTS,
            "max_megabytes": MAX_ATTACHMENT_BYTES // (1024 * 1024),
        },
        status=status,
    )


@routes.get("/office")
async def office_view(request: web.Request) -> web.Response:
    return await _office_page(request, await require_person(request, MANAGERS))


async def _objection_form(request: web.Request) -> tuple[dict[str, str], list[objections.Upload]]:
    """The multipart form's fields and files, read part by part within their limits (the gateway's 64 KiB body
    limit is for API requests; an objection's attachments may be larger)."""
    fields: dict[str, str] = {}
    uploads: list[objections.Upload] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename:
            content = await _read_limited(part, MAX_ATTACHMENT_BYTES)
            if content:
                if len(uploads) == MAX_ATTACHMENTS:
                    raise AttachmentRefused(f"At most {MAX_ATTACHMENTS} attachments.", param="attachments")
                uploads.append(objections.Upload(part.filename, content))
        else:
            fields[part.name] = (await _read_limited(part, _FIELD_LIMIT)).decode("utf-8", errors="replace")
    csrf.check(request, fields, request.app[PAGE_SECRET])
    return fields, uploads


async def _read_limited(part: BodyPartReader, limit: int) -> bytes:
    content = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        content.extend(chunk)
        if len(content) > limit:
            raise AttachmentRefused(f"A file or field is over {limit} bytes.", param=part.name)
    return bytes(content)


@routes.post("/office/findings/{violation_id:[0-9]{1,18}}/objection")
async def file_objection(request: web.Request) -> web.Response:
    person = await require_person(request, MANAGERS)
    try:
        fields, uploads = await _objection_form(request)
        await objections.file_objection(
            services(request).pool,
            violation_id=int(request.match_info["violation_id"]),
            office_id=str(person.office_id),
            username=person.username,
            text=normalize_persian(fields.get("text", "")),
            uploads=uploads,
            now=services(request).clock(),
        )
    except AttachmentRefused:
        message = (
            f"پیوست‌ها فقط PDF یا تصویر (PNG یا JPEG)، حداکثر {MAX_ATTACHMENTS} فایل "
            f"و هر کدام تا {MAX_ATTACHMENT_BYTES // (1024 * 1024)} مگابایت."
        )
        return await _office_page(request, person, message=message, status=400)
    except ObjectionRefused as refusal:
        message = {
            "text": f"متن اعتراض را بنویسید (حداکثر {MAX_TEXT} نویسه).",
        }.get(refusal.param or "", "مهلت هفت‌روزهٔ اعتراض به این یافته گذشته است یا پیش‌تر اعتراض شده است.")
        return await _office_page(request, person, message=message, status=400)
    raise web.HTTPSeeOther("/office#findings")


async def _attachment(request: web.Request, office_ids: list[str]) -> web.Response:
    row = await objections.attachment(services(request).pool, int(request.match_info["attachment_id"]), office_ids)
    if row is None:
        raise ResourceMissing("No such attachment.")
    return web.Response(
        body=row["content"],
        content_type=row["media_type"],
        headers={
            "Content-Disposition": "attachment",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@routes.get("/office/attachments/{attachment_id:[0-9]{1,18}}")
async def office_attachment(request: web.Request) -> web.Response:
    person = await require_person(request, MANAGERS)
    return await _attachment(request, [str(person.office_id)])


@routes.get("/console/attachments/{attachment_id:[0-9]{1,18}}")
async def console_attachment(request: web.Request) -> web.Response:
    person = await require_person(request, INSPECTORS)
    return await _attachment(request, [o.id for o in person.offices_seen(services(request).state.registry)])


@routes.get("/console/objections")
async def console_objections(request: web.Request) -> web.Response:
    person = await require_person(request, INSPECTORS)
    svc = services(request)
    offices = {o.id: o for o in person.offices_seen(svc.state.registry)}
    state = request.query.get("state") or None
    rows = await objections.objections_of(svc.pool, list(offices), state if state in OBJECTION_STATES else None, 200)
    histories = await objections.history(svc.pool, [row["violation_id"] for row in rows])
    return render(
        request,
        "console_objections.html",
        {
            "person": person,
            "objections": [
                {
                    "row": row,
                    "office": offices[row["office_id"]],
                    "kind": VIOLATION_TYPES[row["type"]],
                    "history": histories.get(row["violation_id"], []),
                }
                for row in rows
            ],
            "states": OBJECTION_STATES,
            "events": OBJECTION_EVENTS,
            "chosen_state": state or "",
        },
    )


@routes.post("/console/objections/{objection_id:[0-9]{1,18}}/decision")
async def decide_objection(request: web.Request) -> web.Response:
    person = await require_person(request, INSPECTORS)
    form = await checked_form(request)
    if form.get("decision") not in ("upheld", "rejected"):
        raise InvalidRequest("Choose to uphold or reject the objection.", param="decision")
    await objections.decide(
        services(request).pool,
        objection_id=int(request.match_info["objection_id"]),
        office_ids=[o.id for o in person.offices_seen(services(request).state.registry)],
        upheld=form["decision"] == "upheld",
        reason=normalize_persian(form.get("reason", "")),
        username=person.username,
        now=services(request).clock(),
    )
    raise web.HTTPSeeOther("/console/objections")
