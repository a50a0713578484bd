"""The dashboard's other pages in a real browser: room, commands, schedule, readiness.

Same fleet as the board's tests (a good room, a slow ISP line, a dead
loudspeaker). What a district officer does here is clicked, not posted: the
forms are filled in and submitted by chromium, and what comes back is checked
in the page and where it must land (the store, the broker's retained schedule).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.subscribe as mqtt_subscribe
from fleet import Fleet, get_json
from paho.mqtt.client import MQTTv5
from pixels import decode_png
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from rig import wait_for
from roomhub.texts import LABELS
from roomprobe.contract import decode, topics

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def label(key: str, lang: str = "vi") -> str:
    return LABELS[key][0 if lang == "vi" else 1]


def submit(browser: Any, button: Any) -> None:
    """Click a form's button and wait for the page the redirect lands on."""
    old = browser.find_element(By.TAG_NAME, "html")
    button.click()
    # While the page is being replaced chromedriver may answer with "Node ... does not belong
    # to the document" instead of "stale": ask again, it is the same answer a moment later.
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(staleness_of(old))
    WebDriverWait(browser, 30).until(lambda b: b.execute_script(
        "return document.readyState") == "complete")  # fmt: skip


def test_room_page_draws_the_history_charts_against_the_requirement(browser: Any, fleet: Fleet):
    browser.get(fleet.rig.web + "/sites/dak-ang")
    assert browser.find_element(By.ID, "room-name").text == "Xã Đắk Ang dak-ang"
    figures = browser.find_elements(By.CSS_SELECTOR, "#charts figure svg")
    assert len(figures) == 3
    speed = browser.find_element(By.CSS_SELECTOR, 'figure[data-chart="speed"]')
    words = speed.text or speed.get_attribute("textContent")
    assert "Tốc độ tải xuống / tải lên (Mbps)" in words  # Vietnamese title
    assert "Yêu cầu 50 Mbps" in words  # the district's line, drawn as a legend entry
    box = speed.rect
    assert box["width"] > 500 and box["height"] > 120
    browser.execute_script("arguments[0].scrollIntoView()", speed)
    png = decode_png(browser.get_screenshot_as_png())
    top = browser.execute_script("return arguments[0].getBoundingClientRect().top", speed)
    colours = png.colours(box["x"], top, box["x"] + box["width"], top + box["height"])
    # The download line (blue) and the requirement (red) are really drawn.
    assert any(b > 150 and r < 80 for (r, g, b) in colours), "no blue download line"
    assert any(r > 180 and g < 80 and b < 80 for (r, g, b) in colours), "no red target line"

    browser.get(fleet.rig.web + "/sites/dak-ang?lang=en&days=7")
    assert "Download / upload speed (Mbps)" in browser.find_element(
        By.CSS_SELECTOR, 'figure[data-chart="speed"]').get_attribute("textContent")  # fmt: skip


def test_a_test_run_clicked_on_the_room_page_shows_the_probes_reply(browser: Any, fleet: Fleet):
    browser.get(fleet.rig.web + "/sites/plei-kan")
    submit(browser, browser.find_element(By.CSS_SELECTOR, '#run-test button[value="net"]'))
    assert label("cmd.sent_notice") in browser.find_element(By.CSS_SELECTOR, "p.note").text

    # The page reloads itself while a command waits: read a row in one script call.
    read = """const tr = document.querySelector('#commands tr[data-state="replied"]');
              return tr && {id: tr.dataset.command, text: tr.innerText};"""

    def replied() -> Any:
        browser.get(fleet.rig.web + "/sites/plei-kan")
        return browser.execute_script(read)

    row = wait_for(replied, timeout=90, what="the probe's reply on the room page")
    assert "Đã kiểm tra xong" in row["text"] and "net" in row["text"]
    (cmd,) = [c for c in get_json(fleet.rig.web + "/api/sites/plei-kan")["commands"]
              if c["msg_id"] == row["id"]]  # fmt: skip
    assert cmd["sent_by"] == "dashboard" and cmd["reply"]["ok"] is True


def test_a_meeting_entered_in_the_editor_is_listed_and_sent_to_the_rooms(
    browser: Any, fleet: Fleet
):
    browser.get(fleet.rig.web + "/meetings")
    day = (datetime.now(ZONE) + timedelta(days=3)).date()
    form = browser.find_element(By.ID, "add-meeting")
    form.find_element(By.NAME, "title").send_keys("Họp giao ban <b>tuần</b>")
    # Date and time inputs take their value as the browser's own widgets would set it.
    for name, value in (("date", day.isoformat()), ("start", "08:00"), ("end", "10:30")):
        browser.execute_script("arguments[0].value = arguments[1]",
                               form.find_element(By.NAME, name), value)  # fmt: skip
    form.find_element(By.CSS_SELECTOR, 'input[value="bo-y"]').click()
    submit(browser, form.find_element(By.CSS_SELECTOR, "button"))

    assert label("meeting.saved") in browser.find_element(By.CSS_SELECTOR, "p.note").text
    row = browser.find_element(By.CSS_SELECTOR, "#meetings tbody tr")
    assert "Họp giao ban <b>tuần</b>" in row.text  # escaped, shown as typed
    assert f"08:00:00 {day:%d/%m/%Y}" in row.text and "bo-y" in row.text
    meeting_id = row.get_attribute("data-meeting")

    msg = mqtt_subscribe.simple(topics.SCHEDULE, hostname="127.0.0.1",
                                port=fleet.rig.broker.port, protocol=MQTTv5)  # fmt: skip
    (item,) = decode(msg.payload, "roomprobe.schedule")["meetings"]
    start = datetime(day.year, day.month, day.day, 8, 0, tzinfo=ZONE)
    assert item["id"] == meeting_id and item["sites"] == ["bo-y"]
    assert item["start"] == f"{start.astimezone(ZoneInfo('UTC')):%Y-%m-%dT%H:%M:%S}.000Z"

    # The readiness board is about that meeting now, and only its room.
    browser.get(fleet.rig.web + "/readiness")
    assert "Họp giao ban <b>tuần</b>" in browser.find_element(By.ID, "meeting").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#readiness tbody tr")
    assert [r.get_attribute("data-site") for r in rows] == ["bo-y"]
    assert rows[0].get_attribute("data-state") == "not-ready"  # its loudspeaker is dead
    assert label("actor.room-audio") in rows[0].text

    browser.get(fleet.rig.web + "/meetings")
    submit(
        browser, browser.find_element(By.CSS_SELECTOR, f'tr[data-meeting="{meeting_id}"] button')
    )
    assert label("meeting.deleted") in browser.find_element(By.CSS_SELECTOR, "p.note").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#meetings tbody tr")


def test_a_meeting_that_ends_before_it_starts_is_refused_in_words(browser: Any, fleet: Fleet):
    browser.get(fleet.rig.web + "/meetings?lang=en")
    form = browser.find_element(By.ID, "add-meeting")
    form.find_element(By.NAME, "title").send_keys("Họp")
    day = (datetime.now(ZONE) - timedelta(days=2)).date()
    for name, value in (("date", day.isoformat()), ("start", "08:00"), ("end", "09:00")):
        browser.execute_script("arguments[0].value = arguments[1]",
                               form.find_element(By.NAME, name), value)  # fmt: skip
    submit(browser, form.find_element(By.CSS_SELECTOR, "button"))
    assert "already over" in browser.find_element(By.CSS_SELECTOR, "p.error").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#meetings tbody tr")


def test_readiness_without_a_meeting_shows_every_room_not_ready_first(browser: Any, fleet: Fleet):
    browser.get(fleet.rig.web + "/readiness?lang=en")
    assert browser.find_element(By.ID, "meeting").text == label("ready.no_meeting", "en")
    states = {r.get_attribute("data-site"): r.get_attribute("data-state")
              for r in browser.find_elements(By.CSS_SELECTOR, "#readiness tbody tr")}  # fmt: skip
    assert states["plei-kan"] == "ready"
    assert states["dak-ang"] == "not-ready" and states["bo-y"] == "not-ready"
    order = list(states)
    assert order.index("plei-kan") > max(order.index("dak-ang"), order.index("bo-y"))
    row = browser.find_element(By.CSS_SELECTOR, '#readiness tr[data-site="dak-ang"]')
    assert label("actor.isp", "en") in row.text
