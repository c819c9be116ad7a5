import copy
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.errors import ExcessFee, TariffRefusal
from gateway.core.jalali import format_jalali_datetime, format_utc, parse_jalali_date
from gateway.core.tariffs import (
    MAX_QUANTITY,
    OfficeKind,
    TariffBook,
    TariffTableError,
    tariff_schema_json,
)
from gateway.registry.tariff_files import SCHEMA_FILE_NAME, load_tariff_documents

TARIFF_DIR = Path(__file__).resolve().parents[2] / "tariff_tables"
UTC = UTC
START_OF_1402 = datetime(2023, 3, 20, 20, 30, tzinfo=UTC)  # 1402/01/01 00:00 Tehran
START_OF_1403 = datetime(2024, 3, 19, 20, 30, tzinfo=UTC)  # 1403/01/01 00:00 Tehran
NOW = datetime(2026, 11, 23, 8, 15, tzinfo=UTC)  # 1405/09/02
SERVICE_CODES = {f"{group}10{n}" for group in "123" for n in "1234"}


def service(government_fee=300_000, office_fee_cap=250_000, **more):
    return {
        "government_fee": government_fee,
        "office_fee_cap": office_fee_cap,
        "extras": {
            "scan_page": {"name": "اسکن هر صفحه", "unit_cap": 20_000},
            "print_page": {"name": "چاپ هر صفحه", "unit_cap": 10_000},
        },
        **more,
    }


def document(reference="T-1", effective_from="1403/01/01", effective_to=None, services=None):
    approval = {
        "reference": reference,
        "approving_body": "کمیسیون آزمایشی",
        "session": "جلسه آزمایشی",
        "approved_on": "1402/12/20",
        "effective_from": effective_from,
        "sample": True,
    }
    if effective_to is not None:
        approval["effective_to"] = effective_to
    return {"approval": approval, "services": services if services is not None else {"1101": service()}}


def quote(book, service_code="1101", quantity=1, extras=(), office_kind="counter", at=NOW):
    return book.quote(service_code, quantity, list(extras), office_kind, at)


def tariff_error(call, *args, **kwargs):
    with pytest.raises(TariffRefusal) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture(scope="module")
def shipped_book():
    return TariffBook.from_documents(load_tariff_documents(TARIFF_DIR))


# ---------------------------------------------------------------- Jalali days in Tehran


@pytest.mark.parametrize(
    ("at", "shown"),
    [
        (NOW, "1405/09/02 11:45:00"),
        (START_OF_1403, "1403/01/01 00:00:00"),
        (START_OF_1403 - timedelta(seconds=1), "1402/12/29 23:59:59"),
    ],
)
def test_instants_are_shown_as_jalali_tehran_time(at, shown):
    assert format_jalali_datetime(at) == shown


def test_utc_instants_are_written_rfc3339_with_z():
    assert format_utc(START_OF_1403.astimezone(timezone(timedelta(hours=3, minutes=30)))) == "2024-03-19T20:30:00Z"
    assert format_utc(NOW.replace(microsecond=123456)) == "2026-11-23T08:15:00.123456Z"
    with pytest.raises(ValueError):
        format_utc(datetime(2026, 11, 23))


@pytest.mark.parametrize("text", ["1402/12/30", "1403/00/10", "1403/1/1", "14030101", ""])
def test_only_real_jalali_days_parse(text):
    with pytest.raises(ValueError):
        parse_jalali_date(text)
    assert parse_jalali_date("۱۴۰۳/۱۲/۳۰").togregorian().isoformat() == "2025-03-20"


# ---------------------------------------------------------------- the shipped tables


def test_shipped_schema_is_generated_from_the_model():
    assert (TARIFF_DIR / SCHEMA_FILE_NAME).read_text(encoding="utf-8") == tariff_schema_json(), (
        "regenerate it: .venv/bin/python -m gateway.registry.tariff_files tariff_tables"
    )


def test_shipped_tables_are_two_successive_sample_approvals(shipped_book):
    first, second = shipped_book.approvals()
    assert (first["effective_from"], first["effective_to"]) == ("1402/01/01", "1402/12/29")
    assert (second["effective_from"], second["effective_to"]) == ("1403/01/01", None)
    assert first["ends_before"] == second["starts_at"] == "2024-03-19T20:30:00Z"
    for approval in (first, second):
        assert approval["sample"] is True
        assert set(approval["services"]) == SERVICE_CODES


def test_shipped_1403_caps_are_indexed_above_1402(shipped_book):
    old = quote(shipped_book, at=START_OF_1402)
    new = quote(shipped_book, at=NOW)
    for code in SERVICE_CODES:
        for kind in OfficeKind:
            before = shipped_book.quote(code, 1, [], kind, START_OF_1402)
            after = shipped_book.quote(code, 1, [], kind, NOW)
            assert after.office_fee_cap > before.office_fee_cap
            assert after.government_share >= before.government_share
    assert (old.approval_reference, new.approval_reference) == ("CRA-COM-1401-11", "CRA-COM-1402-07")


@pytest.mark.parametrize(
    ("at", "reference"),
    [
        (START_OF_1402, "CRA-COM-1401-11"),
        (START_OF_1403 - timedelta(microseconds=1), "CRA-COM-1401-11"),
        (START_OF_1403, "CRA-COM-1402-07"),
        (START_OF_1403.astimezone(timezone(timedelta(hours=3, minutes=30))), "CRA-COM-1402-07"),
        (NOW, "CRA-COM-1402-07"),
    ],
)
def test_the_approval_in_force_changes_at_tehran_midnight(shipped_book, at, reference):
    assert quote(shipped_book, at=at).approval_reference == reference


def test_nothing_is_in_force_before_the_first_approval(shipped_book):
    before = START_OF_1402 - timedelta(microseconds=1)
    error = tariff_error(quote, shipped_book, at=before)
    assert error.code == "no_tariff" and error.details["service_code"] == "1101"
    assert shipped_book.tables_in_force(before) == []


def test_tables_in_force_report_the_period_as_jalali_days_and_utc_instants(shipped_book):
    [table] = shipped_book.tables_in_force(NOW)
    assert table["reference"] == "CRA-COM-1402-07"
    assert table["starts_at"] == "2024-03-19T20:30:00Z" and table["ends_before"] is None
    assert table["services"]["3104"]["office_kinds"]["rural_ict"]["extras"]["print_page"]["unit_cap"] == 11_000
    orjson.dumps(table)


# ---------------------------------------------------------------- loading and refusing tables


def test_loader_names_the_file_in_errors(tmp_path):
    (tmp_path / "good.toml").write_text((TARIFF_DIR / "1403-sample.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "typo.toml").write_text(
        '[approval]\nreference = "X-1"\napproving_body = "b"\nsession = "s"\napproved_on = "1404/01/01"\n'
        'effective_from = "1404/01/01"\n[services."1101"]\ngovernment_fee = 1\noffice_fee_cap = 1\nofice_fee = 3\n',
        encoding="utf-8",
    )
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    documents = load_tariff_documents(tmp_path)
    assert [d["_source"] for d in documents] == ["good.toml", "typo.toml"]
    with pytest.raises(TariffTableError, match=r"typo\.toml: services\.1101\.ofice_fee"):
        TariffBook.from_documents(documents)


def test_loader_reports_broken_toml_with_its_file_name(tmp_path):
    (tmp_path / "broken.toml").write_text("[approval\n", encoding="utf-8")
    with pytest.raises(TariffTableError, match=r"broken\.toml"):
        load_tariff_documents(tmp_path)


def test_overlapping_periods_for_one_service_are_refused_naming_both_approvals():
    documents = [
        document("A-1", "1403/01/01", "1403/12/30"),
        document("B-2", "1403/12/30", None, {"1101": service(), "1102": service()}),
    ]
    with pytest.raises(TariffTableError, match=r"service 1101 .*A-1.*B-2"):
        TariffBook.from_documents(documents)


def test_an_open_ended_approval_overlaps_everything_after_it():
    with pytest.raises(TariffTableError, match="1101"):
        TariffBook.from_documents([document("A-1", "1403/01/01"), document("B-2", "1405/01/01", "1405/12/29")])


def test_adjacent_periods_and_overlaps_on_different_services_are_accepted():
    book = TariffBook.from_documents(
        [
            document("A-1", "1403/01/01", "1403/12/30"),
            document("B-2", "1404/01/01", None, {"1101": service(office_fee_cap=300_000)}),
            document("C-3", "1403/06/01", None, {"2101": service()}),
        ]
    )
    last_moment_of_1403 = datetime(2025, 3, 20, 20, 29, 59, 999999, tzinfo=UTC)
    assert quote(book, at=last_moment_of_1403).approval_reference == "A-1"
    assert quote(book, at=last_moment_of_1403 + timedelta(microseconds=1)).approval_reference == "B-2"
    assert [t["reference"] for t in book.tables_in_force(NOW)] == ["C-3", "B-2"]


def test_the_same_approval_twice_is_refused():
    with pytest.raises(TariffTableError, match="A-1 appears twice"):
        TariffBook.from_documents(
            [document("A-1", "1403/01/01", "1403/06/31"), document("A-1", "1404/01/01", None, {"2101": service()})]
        )


def _with(change):
    doc = document()
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (_with(lambda d: d["approval"].update(board="x")), "approval.board"),
        (_with(lambda d: d["services"]["1101"].update(discount=1)), "services.1101.discount"),
        (_with(lambda d: d["approval"].update(effective_from="1402/12/30")), "effective_from"),  # 1402 is not leap
        (_with(lambda d: d["approval"].update(effective_from="1403-01-01")), "effective_from"),
        (_with(lambda d: d["approval"].update(effective_from="1403/13/01")), "effective_from"),
        (_with(lambda d: d["approval"].update(effective_to="1402/12/29")), "effective_to is before"),
        (_with(lambda d: d["approval"].pop("reference")), "approval.reference"),
        (_with(lambda d: d["services"]["1101"]["extras"]["scan_page"].update(unit_cap=0)), "unit_cap"),
        (_with(lambda d: d["services"]["1101"].update(government_fee=-1)), "government_fee"),
        (_with(lambda d: d["services"]["1101"].update(office_fee_cap=250_000.0)), "office_fee_cap"),
        (_with(lambda d: d["services"]["1101"].update(office_fee_cap="250000")), "office_fee_cap"),
        (_with(lambda d: d["services"]["1101"].update(office_fee_cap=10**11)), "office_fee_cap"),
        (_with(lambda d: d["services"]["1101"].update(government_fee=0, office_fee_cap=0)), "nothing could ever"),
        (
            _with(
                lambda d: d["services"]["1101"].update(
                    office_kinds={"rural_ict": {"extras": {"photo": {"unit_cap": 5}}}}
                )
            ),
            "unknown extras: photo",
        ),
        (_with(lambda d: d["services"]["1101"].update(office_kinds={"kiosk": {"office_fee_cap": 5}})), "kiosk"),
        (
            _with(
                lambda d: d["services"]["1101"].update(
                    government_fee=0, office_kinds={"rural_ict": {"office_fee_cap": 0}}
                )
            ),
            "rural_ict office",
        ),
        (_with(lambda d: d["services"].update({"11a1": service()})), "11a1"),
        (_with(lambda d: d["services"].clear()), "services"),
        (_with(lambda d: d["approval"].update(sample="yes")), "sample"),
    ],
)
def test_invalid_documents_are_refused(doc, fragment):
    with pytest.raises(TariffTableError) as caught:
        TariffBook.from_documents([{**copy.deepcopy(doc), "_source": "x.toml"}])
    assert str(caught.value).startswith("x.toml: ")
    assert fragment in str(caught.value)


def test_persian_text_in_tables_is_normalised():
    doc = document()
    doc["approval"]["session"] = "جلسه  يازدهم"
    doc["services"]["1101"]["extras"]["scan_page"]["name"] = "اسكن هر صفحه"
    book = TariffBook.from_documents([doc])
    assert book.approvals()[0]["session"] == "جلسه یازدهم"
    assert quote(book, extras=[("scan_page", 1)]).extras[0].name == "اسکن هر صفحه"


# ---------------------------------------------------------------- quotes


@pytest.fixture(scope="module")
def book():
    return TariffBook.from_documents(
        [
            document(
                services={
                    "1101": service(
                        office_kinds={
                            "rural_ict": {"office_fee_cap": 150_000, "extras": {"scan_page": {"unit_cap": 15_000}}}
                        }
                    ),
                    "3101": service(government_fee=0, office_fee_cap=200_000),
                }
            )
        ]
    )


def test_quote_multiplies_unit_caps_by_quantities(book):
    q = quote(book, quantity=2, extras=[("scan_page", 3), ("print_page", 5)])
    assert (q.approval_reference, q.government_share, q.office_fee_cap) == ("T-1", 600_000, 500_000)
    assert [(line.code, line.quantity, line.unit_cap, line.cap) for line in q.extras] == [
        ("scan_page", 3, 20_000, 60_000),
        ("print_page", 5, 10_000, 50_000),
    ]
    assert q.cap == 600_000 + 500_000 + 60_000 + 50_000


def test_rural_ict_offices_get_their_own_caps(book):
    q = quote(book, extras=[("scan_page", 2), ("print_page", 1)], office_kind=OfficeKind.RURAL_ICT)
    assert (q.office_fee_cap, q.extras[0].unit_cap, q.extras[1].unit_cap) == (150_000, 15_000, 10_000)
    assert q.government_share == 300_000


def test_quote_breakdown_is_json_ready(book):
    breakdown = orjson.loads(orjson.dumps(quote(book, extras=[("scan_page", 3)]).breakdown))
    assert breakdown == {
        "approval_reference": "T-1",
        "service_code": "1101",
        "quantity": 1,
        "office_kind": "counter",
        "government_share": 300_000,
        "office_fee_cap": 250_000,
        "extras": [{"code": "scan_page", "name": "اسکن هر صفحه", "quantity": 3, "unit_cap": 20_000, "cap": 60_000}],
        "cap": 610_000,
    }


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"service_code": "9999"}, "no_tariff"),
        ({"extras": [("photo", 1)]}, "unknown_extra"),
        ({"extras": [("scan_page", 1), ("scan_page", 2)]}, "duplicate_extra"),
        ({"quantity": 0}, "invalid_quantity"),
        ({"quantity": MAX_QUANTITY + 1}, "invalid_quantity"),
        ({"quantity": True}, "invalid_quantity"),
        ({"extras": [("scan_page", 0)]}, "invalid_quantity"),
        ({"office_kind": "kiosk"}, "unknown_office_kind"),
    ],
)
def test_quote_refusals(book, kwargs, code):
    error = tariff_error(quote, book, **kwargs)
    assert error.code == code
    if code in {"unknown_extra", "duplicate_extra"}:
        assert error.details["tariff_reference"] == "T-1"
    orjson.dumps(error.details)


def test_quote_needs_an_aware_moment(book):
    with pytest.raises(ValueError, match="timezone-aware"):
        quote(book, at=datetime(2026, 11, 23, 8, 15))


# ---------------------------------------------------------------- checking a requested amount


def test_check_fills_the_office_fee_first_then_extras_in_order(book):
    q = quote(book, extras=[("scan_page", 3), ("print_page", 5)])  # 300k + 250k + 60k + 50k
    charged = q.check(300_000 + 250_000 + 45_000)
    assert (charged.government_share, charged.office_fee) == (300_000, 250_000)
    assert [(e.code, e.amount) for e in charged.extras] == [("scan_page", 45_000), ("print_page", 0)]
    assert charged.office_share == 295_000 and charged.total == 595_000

    partial = q.check(400_000)
    assert (partial.office_fee, [e.amount for e in partial.extras]) == (100_000, [0, 0])
    assert orjson.loads(orjson.dumps(partial.breakdown))["total"] == 400_000


def test_check_accepts_exactly_the_cap_and_refuses_one_rial_more(book):
    q = quote(book, extras=[("scan_page", 3)])
    assert q.check(q.cap).total == q.cap
    with pytest.raises(ExcessFee) as caught:
        q.check(q.cap + 1)
    error = caught.value
    assert error.code == "excess_fee"
    assert error.details == {"cap": 610_000, "requested": 610_001, "excess": 1}


def test_check_refuses_less_than_the_fixed_government_fee(book):
    error = tariff_error(quote(book).check, 299_999)
    assert error.code == "below_government_fee"
    assert error.details == {"government_share": 300_000, "requested": 299_999, "tariff_reference": "T-1"}


def test_check_refuses_nothing_and_non_integers(book):
    assert tariff_error(quote(book, service_code="3101").check, 0).code == "invalid_amount"
    with pytest.raises(TypeError):
        quote(book).check(400_000.0)


unit_amounts = st.integers(min_value=0, max_value=5_000_000)


@given(
    government_fee=unit_amounts,
    office_fee_cap=unit_amounts,
    extras=st.lists(st.tuples(st.integers(1, 100_000), st.integers(1, 20)), max_size=4),
    quantity=st.integers(1, 5),
    data=st.data(),
)
def test_any_accepted_amount_splits_exactly_within_every_cap(government_fee, office_fee_cap, extras, quantity, data):
    if government_fee + office_fee_cap == 0:
        office_fee_cap = 1
    doc = document(
        services={
            "1101": {
                "government_fee": government_fee,
                "office_fee_cap": office_fee_cap,
                "extras": {f"x{i}": {"name": f"مورد {i}", "unit_cap": cap} for i, (cap, _) in enumerate(extras)},
            }
        }
    )
    q = quote(
        TariffBook.from_documents([doc]), quantity=quantity, extras=[(f"x{i}", n) for i, (_, n) in enumerate(extras)]
    )
    requested = data.draw(st.integers(max(1, q.government_share), q.cap))

    charged = q.check(requested)
    parts = [charged.office_fee, *(e.amount for e in charged.extras)]
    assert charged.government_share == government_fee * quantity
    assert charged.government_share + sum(parts) == requested
    caps = [q.office_fee_cap, *(line.cap for line in q.extras)]
    assert all(0 <= part <= cap for part, cap in zip(parts, caps, strict=True))
    # a later part is only used once every earlier part is full
    for i, part in enumerate(parts):
        if part > 0:
            assert parts[:i] == caps[:i]

    excess = data.draw(st.integers(1, 10**9))
    with pytest.raises(ExcessFee) as caught:
        q.check(q.cap + excess)
    assert caught.value.details["excess"] == excess
