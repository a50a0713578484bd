"""The district's board page in a real browser, fed by a real hub and real probes.

The fleet is three simulated rooms (a good one, a slow ISP line, a dead
loudspeaker): the board must show each with the verdicts the hub's JSON API
gives, in Vietnamese first and in English on request, drawn in the status
colours where the badges are, usable at a phone's width, and must show a
site's name as text even when the name is HTML.
"""

from __future__ import annotations

import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from fleet import PARTS, Fleet, statuses
from pixels import decode_png
from selenium.webdriver.common.by import By

from rig import Proc, hub_toml, wait_for
from roomhub.broker import wait_for_port
from roomhub.texts import LABELS, labels
from roomprobe import tomlconfig

COLUMNS = ("site", "connection", "line", "audio", "system", "speed", "mos", "missing")

# One call, so the answer comes from one rendering of the page (it reloads itself every 10 s).
READ_BOARD = """
const box = el => { const r = el.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
const badge = td => { const v = td.querySelector('.v');
    return v && {status: [...v.classList].find(c => c !== 'v'), text: v.textContent.trim(),
                 bg: getComputedStyle(v).backgroundColor, rect: box(v)}; };
const text = (td, sel) => { const el = td.querySelector(sel); return el && el.textContent.trim(); };
const rows = [...document.querySelectorAll('#sites tbody tr')].map(tr => {
    const td = [...tr.querySelectorAll(':scope > td')];
    const parts = ['network', 'audio', 'system'];
    return {site: tr.dataset.site, name: text(td[0], 'strong'), first: box(td[0]),
            nameBox: box(td[0].querySelector('strong')),
            cellWidths: td.map(c => c.getBoundingClientRect().width),
            connection: badge(td[1]),
            badges: Object.fromEntries(parts.map((p, i) => [p, badge(td[i + 2])])),
            messages: Object.fromEntries(parts.map((p, i) => [p, text(td[i + 2], '.msg')])),
            actors: Object.fromEntries(parts.map((p, i) => [p, text(td[i + 2], '.actor')]))};
});
const link = document.querySelector('header a');
const h1 = document.querySelector('h1');
return {lang: document.documentElement.lang, title: document.title,
        h1: h1.textContent.trim(), h1Box: box(h1),
        header: box(document.querySelector('header')),
        link: link.textContent.trim(), linkBox: box(link),
        columns: [...document.querySelectorAll('#sites thead th')].map(th => th.textContent.trim()),
        firstTh: box(document.querySelector('#sites thead th')),
        rows: rows, scrollWidth: document.documentElement.scrollWidth,
        width: innerWidth, height: innerHeight, reloaded: window.__board_mark !== 1};
"""


def read_board(browser: Any) -> dict[str, Any]:
    return browser.execute_script(READ_BOARD)


def load_board(browser: Any, url: str) -> dict[str, Any]:
    """Open the page and read it; the mark tells a later look whether it has reloaded since."""
    browser.get(url)
    wait_for(lambda: browser.execute_script("return document.readyState") == "complete",
             timeout=15, what="the board to load")  # fmt: skip
    browser.execute_script("window.__board_mark = 1")
    return read_board(browser)


def consistent_board(browser: Any, fleet: Fleet, url: str) -> tuple[dict, dict]:
    """The page and the API as of the same moment: both read again if a verdict moved between."""
    for _ in range(5):
        before = {site: statuses(v) for site, v in fleet.sites().items()}
        page = load_board(browser, url)
        after = fleet.sites()
        if before == {site: statuses(v) for site, v in after.items()}:
            return page, after
    raise AssertionError("the hub's verdicts kept changing while the board loaded")


def rgb(css: str) -> tuple[int, int, int]:
    """'rgb(214, 245, 214)' (or rgba with alpha 1) as a tuple."""
    inside = css[css.index("(") + 1 : css.index(")")]
    r, g, b = (int(float(v)) for v in inside.split(",")[:3])
    return r, g, b


def looks(status: str, colour: tuple[int, int, int]) -> bool:
    """The design's hue for a status: green, yellow, red, grey (board.html's .ok ... .unknown)."""
    r, g, b = colour
    return {
        "ok": g > r + 15 and g > b + 15,
        "degraded": r > b + 30 and g > b + 30 and abs(r - g) < 40,
        "fail": r > g + 15 and r > b + 15,
        "unknown": max(colour) - min(colour) <= 8,
    }[status]


def board_screenshot(browser: Any, url: str, shot: Path) -> tuple[dict[str, Any], Any]:
    """The board read and its viewport as pixels, saved to ``shot`` (pytest keeps it).

    Taken again if the page reloaded itself between the reading and the picture.
    """
    for _ in range(3):
        page = load_board(browser, url)
        data = browser.get_screenshot_as_png()
        if not read_board(browser)["reloaded"]:
            shot.write_bytes(data)
            return page, decode_png(data)
    raise AssertionError("the board reloaded itself during every screenshot")


def badge_colours(page: dict[str, Any], png: Any, shot: Path) -> Counter:
    """Check every badge inside the viewport is painted in its CSS background; count statuses."""
    seen: Counter = Counter()
    for row in page["rows"]:
        for where, b in [("connection", row["connection"]), *row["badges"].items()]:
            rect = b["rect"]
            if rect["left"] < 0 or rect["right"] > png.width or rect["bottom"] > png.height:
                continue
            # Inside the rounded corners and the text: the background is the commonest colour.
            colours = png.colours(rect["left"] + 3, rect["top"] + 3,
                                  rect["right"] - 3, rect["bottom"] - 3)  # fmt: skip
            (colour, count), total = colours.most_common(1)[0], sum(colours.values())
            expected = rgb(b["bg"])
            label = f"{row['site']} {where} badge {b['status']!r} at {rect} in {shot}"
            assert count / total > 0.4, f"{label}: no dominant colour {colours.most_common(3)}"
            assert all(abs(a - e) <= 2 for a, e in zip(colour, expected, strict=True)), (
                f"{label}: painted {colour}, its CSS background is {expected}"
            )
            assert looks(b["status"], colour), f"{label}: {colour} is not the {b['status']} hue"
            seen[b["status"]] += 1
    return seen


def dark_pixels(png: Any, rect: dict[str, float]) -> int:
    """Pixels of text (near black) inside a rectangle."""
    colours = png.colours(rect["left"], rect["top"], rect["right"], rect["bottom"])
    return sum(n for c, n in colours.items() if sum(c) < 200)


def test_the_board_is_vietnamese_by_default_with_each_room_and_its_verdicts(browser, fleet):
    assert browser.execute_script("return navigator.language").startswith("vi")
    page, api = consistent_board(browser, fleet, fleet.url)
    t = labels("vi")
    assert page["lang"] == "vi"
    assert page["h1"].startswith(LABELS["title"][0]), page["h1"]
    assert page["title"].startswith(LABELS["title"][0]), page["title"]
    assert page["columns"] == [t[c] for c in COLUMNS]
    assert page["link"] == LABELS["switch_lang"][0]

    rows = {row["site"]: row for row in page["rows"]}
    assert set(fleet.profiles) <= set(rows), f"rows {sorted(rows)}"
    assert set(rows) == set(api), "one row per site the API lists"
    for site, row in rows.items():
        want = statuses(api[site])
        assert row["name"] == api[site]["name"]
        assert row["connection"]["status"] == want["connection"], site
        assert row["connection"]["text"] == (
            t["never"] if api[site]["online"] is None
            else t["online"] if api[site]["online"] else t["offline"]
        )  # fmt: skip
        for part in PARTS:
            badge = row["badges"][part]
            assert (badge["status"], badge["text"]) == (want[part], t[f"status.{want[part]}"]), (
                f"{site} {part}: page {badge}, API {want[part]}"
            )
            verdict = (api[site]["verdicts"] or {}).get(part)
            actor = verdict and verdict.get("actor")
            assert row["actors"][part] == (t[f"actor.{actor}"] if actor else None), (site, part)

    # The rooms are what their profiles make them: one all green, two with someone to call.
    assert set(statuses(api["plei-kan"]).values()) == {"ok"}
    assert statuses(api["dak-ang"])["network"] in ("fail", "degraded")
    assert rows["dak-ang"]["actors"]["network"] == t["actor.isp"]
    assert statuses(api["bo-y"])["audio"] == "fail"
    assert rows["bo-y"]["actors"]["audio"] == t["actor.room-audio"]


def test_the_language_link_switches_to_english_and_back(browser, fleet):
    page = load_board(browser, fleet.url)
    assert page["h1"].startswith(LABELS["title"][0])
    for lang, index in (("en", 1), ("vi", 0)):
        other = 1 - index  # the link is labelled in the language it switches to
        link = browser.find_element(By.CSS_SELECTOR, "header a")
        assert link.text == LABELS["switch_lang"][other]
        link.click()
        wait_for(lambda lang=lang: browser.execute_script(
            "return document.readyState === 'complete' && document.documentElement.lang"
        ) == lang, timeout=15, what=f"the board in {lang}")  # fmt: skip
        assert browser.current_url.endswith(f"?lang={lang}")
        page, api = read_board(browser), fleet.sites()
        t = labels(lang)
        assert page["h1"].startswith(LABELS["title"][index]), page["h1"]
        assert page["columns"] == [t[c] for c in COLUMNS]
        assert page["link"] == LABELS["switch_lang"][index]
        good = next(row for row in page["rows"] if row["site"] == "plei-kan")
        for part in PARTS:
            assert good["badges"][part]["text"] == t["status.ok"]
            # The verdict's own words come from the probe, in both languages.
            assert good["messages"][part] == api["plei-kan"]["verdicts"][part]["message"][lang]


def test_the_board_renders_its_status_colours_without_overflow(browser, fleet, tmp_path):
    shot = tmp_path / "board-1280.png"
    page, png = board_screenshot(browser, fleet.url, shot)
    assert (png.width, png.height) == (page["width"], page["height"]), shot
    assert png.width == 1280, f"the window is not 1280 px wide: {shot}"
    assert page["scrollWidth"] <= page["width"], f"horizontal overflow at 1280 px: {shot}"

    everything = png.colours(0, 0, png.width, png.height)
    assert len(everything) > 50, f"a blank page ({len(everything)} colours): {shot}"
    assert dark_pixels(png, page["h1Box"]) > 500, f"no title text drawn: {shot}"
    seen = badge_colours(page, png, shot)
    # Each room's connection and line, audio and probe: the good room alone gives four greens.
    bad = seen["fail"] + seen["degraded"]
    assert seen["ok"] >= 4 and bad >= 2, f"badges checked {dict(seen)} in {shot}"


def test_a_phone_width_keeps_the_title_and_the_rooms_column_in_view(browser, fleet, tmp_path):
    browser.set_window_size(390, 844)
    shot = tmp_path / "board-390.png"
    page, png = board_screenshot(browser, fleet.url, shot)
    width = page["width"]
    assert width == png.width == 390, (width, png.width)

    # The table may scroll sideways; the title, the language link and the rooms may not.
    for what in ("header", "h1Box", "linkBox", "firstTh"):
        box = page[what]
        assert 0 <= box["left"] < box["right"] <= width, f"{what} {box} off screen: {shot}"
    assert dark_pixels(png, page["h1Box"]) > 300, f"no title drawn: {shot}"
    api = fleet.sites()
    assert {row["site"] for row in page["rows"]} == set(api)
    for row in page["rows"]:
        box, name = row["first"], row["nameBox"]
        assert 0 <= box["left"] < box["right"] <= width, f"{row['site']} cell {box}: {shot}"
        assert row["name"] == api[row["site"]]["name"]
        # Nothing covers the name where it is drawn.
        x, y = (name["left"] + name["right"]) / 2, (name["top"] + name["bottom"]) / 2
        if y < page["height"]:
            on_top = browser.execute_script(
                "const e = document.elementFromPoint(arguments[0], arguments[1]);"
                "return e && e.closest('tr') && e.closest('tr').dataset.site", x, y
            )  # fmt: skip
            assert on_top == row["site"], f"{row['site']}'s name hidden at {x},{y}: {shot}"
            assert dark_pixels(png, name) > 20, f"{row['site']}'s name not drawn: {shot}"
        # Squeezed, not crushed: every column keeps room for a word.
        assert min(row["cellWidths"]) >= 40, f"{row['site']} columns {row['cellWidths']}"
    assert sum(badge_colours(page, png, shot).values()) >= 2, f"no badge in view: {shot}"


LAST_SEEN = 'tr[data-site="plei-kan"] td:nth-child(2) .muted'


def test_the_board_reloads_itself_with_fresh_data(browser, fleet):
    load_board(browser, fleet.url)
    before = browser.find_element(By.CSS_SELECTOR, LAST_SEEN).text
    assert before.startswith(LABELS["last_seen"][0]), before
    wait_for(lambda: read_board(browser)["reloaded"], timeout=25, what="the page to reload itself")
    wait_for(lambda: browser.execute_script("return document.readyState") == "complete",
             timeout=15, what="the reloaded board")  # fmt: skip
    after = browser.find_element(By.CSS_SELECTOR, LAST_SEEN).text
    assert after.startswith(LABELS["last_seen"][0]), after
    assert after != before, "the reloaded board shows the same last-seen time"


SCRIPT_NAME = "<script>window.__pwned=1</script>"
HUB_NAME = '<img src="x" onerror="window.__pwned=2">Huyện'


def test_names_with_html_are_shown_as_text(browser, rig, tmp_path):
    """A site's or the hub's name is the district's data, never markup in the page."""
    rig.start_broker()
    doc = tomllib.loads(hub_toml(rig.broker.port, rig.hub_db, rig.web_port, rig.host, rig.udp_port))
    doc["name"] = HUB_NAME
    doc["sites"] = [{"id": "dak-ang", "name": "Xã Đắk Ang"}, {"id": "dak-xu", "name": SCRIPT_NAME}]
    conf = tmp_path / "hub-html-names.toml"
    conf.write_text(tomlconfig.dumps(doc), "utf-8")
    hub = Proc("hub", [sys.executable, "-m", "roomhub.cli", "run", "--config", str(conf)],
               tmp_path / "hub.log")  # fmt: skip
    rig.procs.append(hub)  # stopped by the rig's teardown
    hub.start()
    assert wait_for_port(rig.web_port, rig.host, timeout=30), hub.output()

    for lang in ("vi", "en"):
        page = load_board(browser, f"{rig.web}/?lang={lang}")
        assert browser.execute_script("return typeof window.__pwned") == "undefined"
        assert {row["site"] for row in page["rows"]} == {"dak-ang", "dak-xu"}
        shown = browser.find_element(By.CSS_SELECTOR, 'tr[data-site="dak-xu"] strong').text
        assert shown == SCRIPT_NAME, "the name is not shown as the text it is"
        assert HUB_NAME in page["h1"] and HUB_NAME in page["title"]
        injected = browser.execute_script(
            "return document.querySelectorAll('body script, body img, title *').length"
        )
        assert injected == 0, "markup from a name became elements"
