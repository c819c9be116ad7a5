"""The office's tariff sheet: the public page and the A4 poster with its QR code back to the page."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.web.pages.support import SCREENSHOTS, axe_violations, screenshot, scrolls_sideways

OFFICE = "11110001"


async def test_the_tariff_page_lists_the_assigned_services_with_the_approval_in_force(gateway, page):
    response = await page.goto(f"{gateway.url}/offices/{OFFICE}/tariffs")
    assert response.status == 200
    text = await page.inner_text("main")
    assert "دفتر پیشخوان خدمات دولت ونک" in text
    assert "CRA-COM-1402-07" in text and "۱۴۰۳/۰۱/۰۱" in text
    assert "ثبت‌نام کارت هوشمند ملی" in text and "۷۰۰٬۰۰۰ ریال" in text and "۳۵۰٬۰۰۰ ریال" in text
    assert await page.locator("section.tariff").count() == 12
    assert await page.get_attribute("main a[href$='tariffs.pdf']", "href") == f"/offices/{OFFICE}/tariffs.pdf"
    assert not await scrolls_sideways(page)
    assert await axe_violations(page) == []
    await screenshot(page, "tariff-sheet")


async def test_an_unknown_office_gets_a_persian_404_page(gateway, page):
    response = await page.goto(f"{gateway.url}/offices/99999999/tariffs")
    assert response.status == 404
    assert await page.text_content("h1") == "صفحه پیدا نشد"


def _text_and_qr(pdf_path, tmp_path) -> tuple[str, str]:
    text = subprocess.run(["pdftotext", pdf_path, "-"], capture_output=True, text=True, check=True).stdout
    subprocess.run(
        ["pdftoppm", "-png", "-r", "100", "-f", "1", "-singlefile", pdf_path, tmp_path / "poster"], check=True
    )
    scan = subprocess.run(["zbarimg", "-q", "--raw", tmp_path / "poster.png"], capture_output=True, text=True)
    return text, scan.stdout.strip()


async def test_the_poster_is_an_a4_page_with_the_approval_and_a_qr_to_the_page(gateway, tmp_path):
    status, pdf = await gateway.request("GET", f"/offices/{OFFICE}/tariffs.pdf")
    assert status == 200 and pdf.startswith(b"%PDF")
    path = tmp_path / "poster.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", path], capture_output=True, text=True, check=True).stdout
    assert "595.276 x 841.89" in info  # A4 portrait
    text, qr = _text_and_qr(path, tmp_path)
    assert "CRA-COM-1402-07" in text
    assert qr == f"{gateway.url}/offices/{OFFICE}/tariffs"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "75", "-f", "1", "-singlefile", path, SCREENSHOTS / "tariff-poster"], check=True
    )


def test_the_command_line_writes_the_same_poster(gateway, settings, tmp_path):
    output = tmp_path / "sheet.pdf"
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PISHKHAN_PUBLIC_BASE_URL": "https://pk.example"}
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "tariffs", "sheet", "--office", OFFICE, "--output", str(output)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "CRA-COM-1402-07 (from 1403/01/01)" in done.stdout
    text, qr = _text_and_qr(output, tmp_path)
    assert "CRA-COM-1402-07" in text and qr == f"https://pk.example/offices/{OFFICE}/tariffs"
