"""The receipt's SMS link: a secret derived from the tracking code, kept key, same link on every process."""

from __future__ import annotations

import pytest

from gateway.receipt_book.links import LINK_KEY_FILE, ReceiptLinks

CODE = "111100010000012349"


def test_the_link_secret_is_derived_from_the_tracking_code_under_the_kept_key(tmp_path):
    links = ReceiptLinks.kept_in(tmp_path, "https://pk.example/")
    again = ReceiptLinks.kept_in(tmp_path, "https://pk.example/")
    assert (tmp_path / LINK_KEY_FILE).stat().st_mode & 0o077 == 0
    secret = links.secret(CODE)
    assert again.secret(CODE) == secret and len(secret) == 11
    assert links.page(CODE) == f"https://pk.example/r/{CODE}/{secret}"
    assert links.opens(CODE, secret)
    assert not links.opens("111100010000012356", secret)
    assert not links.opens(CODE, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert not links.opens(CODE, "پ" * 11)
    other_deployment = ReceiptLinks(links.public_base_url, b"another key")
    assert other_deployment.secret(CODE) != secret


def test_a_base_url_that_would_make_the_qr_too_dense_is_refused_at_start():
    with pytest.raises(ValueError, match="PISHKHAN_PUBLIC_BASE_URL"):
        ReceiptLinks("https://" + "p" * 60, b"key")
