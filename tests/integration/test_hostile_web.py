"""The dashboard and the API given hostile input (issue 9): escaped or refused, never a 500.

A site whose configured name carries HTML and script, ids and queries that are too long,
not numbers or out of range, paths that try to climb out of the reports folder, and a
meeting title ten thousand characters long. Real ``roomhub run`` behind real HTTP.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest

from rig import Rig

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)> Xã Đắk Ang"


def fetch(rig: Rig, path: str, data: bytes | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(rig.web + path, data=data, timeout=15) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


@pytest.fixture
def hub(rig: Rig) -> Rig:
    rig.start_broker()
    rig.hub(sections={"sites": [{"id": "dak-ang", "name": HOSTILE}]})
    return rig


def test_a_hostile_site_name_is_shown_as_text_on_every_page(hub: Rig):
    for path in ("/", "/sites/dak-ang", "/readiness", "/meetings", "/?lang=en"):
        status, html = fetch(hub, path)
        assert status == 200, path
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(" in html, path  # there, as the text it is
    status, body = fetch(hub, "/api/sites")
    assert status == 200 and "<script>alert('x')</script>" in body  # JSON keeps it as data


@pytest.mark.parametrize(
    "path",
    [
        "/sites/" + "a" * 5000,
        "/sites/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/api/sites/" + "a" * 5000,
        "/api/sites/dak-ang/history?days=abc",
        "/api/sites/dak-ang/history?days=1e308",
        "/api/sites/dak-ang/history?days=-5",
        "/api/sites/dak-ang/history?days=nan",
        "/api/commands/" + "x" * 5000,
        "/meetings/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/api/meetings/" + "m" * 5000 + "/summary",
        "/reports/..%2F..%2Fetc%2Fpasswd",
        "/reports/2026-11.exe",
        "/reports/9999999999-99.pdf",
        "/?lang=" + "x" * 5000,
    ],
)
def test_bad_ids_and_queries_are_refused_not_a_server_error(hub: Rig, path: str):
    status, body = fetch(hub, path)
    assert status < 500, (path, status, body[:300])
    assert "<script>alert(1)</script>" not in body  # never reflected as markup
    assert "root:" not in body  # nothing read outside the reports


def test_a_huge_or_hostile_meeting_title_is_refused_or_escaped(hub: Rig):
    form = {"title": "x" * 10_000, "date": "2030-01-01", "start": "08:00", "end": "09:00"}
    status, html = fetch(hub, "/meetings", urllib.parse.urlencode(form).encode())
    assert status == 200 and "1 to 200 characters" in html  # refused, said why
    form["title"] = "<script>alert(1)</script>"
    status, html = fetch(hub, "/meetings", urllib.parse.urlencode(form).encode())
    assert status == 200 and "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # saved, and shown as text
