"""The status page in a real browser (Debian's headless Chromium): it shows the node's health and
recent jobs from the API, and a job's log that updates live as its container prints."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from nosana_node.api.bus import LogBus
from tests.api.apikit import WAIT, FlowThread, Recorder, gated, job_address, open_gate, serve
from tests.api.browser import chromium
from tests.api.test_follow import counting

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def state(browser: Any) -> str:
    """What the page says of the log it shows (as written, whatever the CSS does to it)."""
    from selenium.webdriver.common.by import By

    return str(browser.find_element(By.ID, "log-state").get_attribute("textContent"))


def test_the_page_shows_a_running_job_and_its_live_log(home: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    bus, job = LogBus(), job_address()
    tag = uuid.uuid4().hex[:8]
    marker = f"after-the-gate-42-{tag}"  # the command echoed before it says $((40+2))
    recorder = Recorder(bus)
    with (
        serve(home, bus) as api,
        chromium() as browser,
        FlowThread(home, bus, gated(f"echo after-the-gate-$((40+2))-{tag}"), job) as run,
    ):
        recorder.wait(lambda: any("ready" in e.text for e in recorder.lines(job)))
        wait = WebDriverWait(browser, WAIT)
        browser.get(f"{api.url}/#token={api.token}")
        wait.until(lambda b: b.execute_script("return location.hash") == "")  # the token left the URL
        wait.until(lambda b: "disk" in b.find_element(By.ID, "health").text)
        row = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, f'#jobs tr[data-job="{job}"]'))
        assert "running" in row.text or row.text.startswith(job[:8])
        row.click()
        log = browser.find_element(By.ID, "log")
        wait.until(lambda b: "ready" in log.text)
        assert marker not in log.text and "following" in state(browser)
        open_gate(job)
        wait.until(lambda b: marker in log.text)  # arrived live, no reload
        wait.until(lambda b: "ended: succeeded" in state(b))
        flow = run.join()
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    recorder.close()
    assert str(flow.status) == "succeeded"
    assert not errors, errors


def test_without_the_token_the_page_asks_for_it_and_shows_no_log(home: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    bus, job = LogBus(), job_address()
    FlowThread(home, bus, counting(3, "0"), job).start().join()
    with serve(home, bus) as api, chromium() as browser:
        wait = WebDriverWait(browser, WAIT)
        browser.get(api.url + "/")
        row = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, f'#jobs tr[data-job="{job}"]'))
        row.click()
        wait.until(lambda b: b.find_element(By.ID, "token-form").is_displayed())
        assert "operator token" in state(browser)
        assert browser.find_element(By.ID, "log").text == ""
        field = browser.find_element(By.ID, "token")
        field.send_keys(api.token)
        field.submit()
        wait.until(lambda b: "line 3" in b.find_element(By.ID, "log").text)
        wait.until(lambda b: "ended: succeeded" in state(b))
