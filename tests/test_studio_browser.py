"""The studio in a real browser: Voila serves a notebook that calls `melodia.studio()`, headless
Chromium (driven by Selenium through Debian's chromedriver) types a seed, clicks Generate,
keeps a melody and types a bad seed; then a round: discard, Learn from my choices, Generate again.

Skipped, saying why, only where no Chromium and chromedriver are installed
(`apt-get install chromium chromium-driver`); under CI (the CI variable set) it fails instead,
so that CI never skips it. With MELODIA_STUDIO_SCREENSHOT=docs/studio.png it also saves the
screenshot the README shows.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

SEED = "G4 A4 B4/8 C5/8 D5/2 key=G meter=3/4"
BAD_SEED = "G4 A4 H4"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,2400")
WAIT_SECONDS = 120  # the longest wait for one step; on a busy 2-core machine the kernel's first load is slow


def _browser() -> tuple[str, str] | None:
    """(Chromium, chromedriver) paths, or None."""
    chromium = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                     if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver") if Path(p).is_file()), None)
    return (chromium, driver) if chromium and driver else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def browser_paths() -> tuple[str, str]:
    found = _browser()
    missing = [name for name in ("selenium", "voila", "ipywidgets") if importlib.util.find_spec(name) is None]
    reason = ""
    if found is None:
        reason = ("no Chromium with chromedriver found (chromium, chromium-browser or google-chrome, and "
                  "chromedriver): apt-get install chromium chromium-driver")
    elif missing:
        reason = f"no Python package {', '.join(missing)}: pip install -r requirements-dev.txt"
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test, but {reason}")
    if reason:
        pytest.skip(reason)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, browser_paths: tuple[str, str]) -> Iterator[tuple[str, Path]]:
    """(URL of the studio notebook served by Voila, the kept folder)."""
    folder = tmp_path_factory.mktemp("studio")
    kept = folder / "kept"
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'import melodia\nmelodia.studio(folder="kept")')])  # the kernel runs in the notebook's folder
    nbformat.write(book, folder / "studio.ipynb")
    port = _free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(folder / "runtime"), "MELODIA_CACHE": str(folder / "cache"),
           "JUPYTER_PLATFORM_DIRS": "1"}
    log = (folder / "voila.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "voila", "studio.ipynb", "--no-browser", f"--port={port}",
                               "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", "--show_tracebacks=True"],
                              cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for_server(port, server, folder / "voila.log")
        yield url, kept
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_for_server(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"voila stopped (exit {server.returncode}): {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except OSError:
            time.sleep(0.2)  # the server is not listening yet: ask again
    pytest.fail(f"voila did not listen on port {port} within {WAIT_SECONDS} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def page(served: tuple[str, Path], browser_paths: tuple[str, str],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        driver.get(served[0])
        yield driver
    finally:
        driver.quit()


def _wait(driver: object, condition: object, what: str) -> object:
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:  # a row the panel replaces while the condition reads it is asked again at the next poll
        return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.2,
                             ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        text = driver.find_element("css selector", "body").text[-1500:]  # type: ignore[attr-defined]
        pytest.fail(f"the page never showed {what}; it shows: {text}")


def _type(driver: object, text: str) -> None:
    """Replace the seed field's text, key by key, as a person would."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    field = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".melodia-seed input"), "the seed field")
    field.click()  # type: ignore[attr-defined]
    field.send_keys(Keys.CONTROL, "a")  # type: ignore[attr-defined]
    field.send_keys(text, Keys.TAB)  # type: ignore[attr-defined]


def test_studio_in_chromium(page: object, served: tuple[str, Path], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver, kept = page, served[1]
    _type(driver, SEED)
    _wait(driver, lambda d: not d.find_element(By.CSS_SELECTOR, ".melodia-seed-error").text.strip(),
          "the seed accepted")
    driver.find_element(By.CSS_SELECTOR, "button.melodia-generate").click()  # type: ignore[attr-defined]

    def shown(d: object) -> list[object] | bool:
        rows = d.find_elements(By.CSS_SELECTOR, ".melodia-candidate")  # type: ignore[attr-defined]
        ready = [r for r in rows if r.find_elements(By.CSS_SELECTOR, "audio[src]")
                 and d.execute_script("const i = arguments[0].querySelector('img');"  # type: ignore[attr-defined]
                                      "return !!i && i.complete && i.naturalWidth > 100;", r)]
        return ready if len(rows) == 4 and len(ready) == 4 else False

    rows = _wait(driver, shown, "4 candidates, each with an audio player and a piano roll")
    assert len(rows) == 4  # type: ignore[arg-type]
    headers = [r.find_element(By.CSS_SELECTOR, ".melodia-header").text for r in rows]  # type: ignore[attr-defined]
    assert all("G major" in h and "G4 A4 B4/8 C5 D5/2" in h for h in headers), headers
    links = [r.find_element(By.CSS_SELECTOR, ".melodia-download a") for r in rows]  # type: ignore[attr-defined]
    assert all(a.get_attribute("href").startswith("data:audio/midi;base64,TVRoZ") for a in links)  # "MThd"
    _screenshot(driver, tmp_path)

    rows[0].find_element(By.CSS_SELECTOR, "button.melodia-keep").click()  # type: ignore[index]
    _wait(driver, lambda d: "kept as" in rows[0].find_element(By.CSS_SELECTOR, ".melodia-message").text,  # type: ignore[index]
          "the first melody kept")
    manifest = json.loads((kept / "manifest.json").read_text())
    assert [e["file"] for e in manifest["outputs"]] == ["001.mid"] and (kept / "001.mid").stat().st_size > 100
    assert manifest["outputs"][0]["keep"] is True and manifest["outputs"][0]["settings"]["seed"] == SEED

    _type(driver, BAD_SEED)  # as it is typed, "G4 A4 H" shows its own error first: wait for the whole word
    error = _wait(driver, lambda d: "'H4'" in (text := d.find_element(By.CSS_SELECTOR, ".melodia-seed-error").text)
                  and text, "the bad seed's error")
    assert "seed phrase, word 3 'H4': expected a note like C4" in error  # type: ignore[operator]


def test_a_round_in_chromium(page: object, served: tuple[str, Path]) -> None:
    """Mark (keep one, discard one), learn, generate again with the personal model (runs after the test above,
    whose kept melody is a mark too)."""
    from selenium.webdriver.common.by import By

    driver, kept = page, served[1]
    _type(driver, SEED)
    _wait(driver, lambda d: not d.find_element(By.CSS_SELECTOR, ".melodia-seed-error").text.strip(),
          "the seed accepted")
    rows = driver.find_elements(By.CSS_SELECTOR, ".melodia-candidate")  # type: ignore[attr-defined]
    rows[1].find_element(By.CSS_SELECTOR, "button.melodia-discard").click()
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".melodia-candidate")) == 3, "the discarded row gone")
    driver.find_element(By.CSS_SELECTOR, "button.melodia-learn").click()  # type: ignore[attr-defined]
    status = _wait(driver, lambda d: "round 2" in (text := d.find_element(By.CSS_SELECTOR, ".melodia-round").text)
                   and text, "round 2 after learning")
    assert "learnt from 2 marks" in status  # type: ignore[operator]
    assert (kept / "personal" / "round-1.safetensors").is_file()
    assert [e["keep"] for e in json.loads((kept / "manifest.json").read_text())["outputs"]] == [True, False]
    before = {r.find_element(By.CSS_SELECTOR, ".melodia-header").text  # type: ignore[attr-defined]
              for r in driver.find_elements(By.CSS_SELECTOR, ".melodia-candidate")}  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "button.melodia-generate").click()  # type: ignore[attr-defined]

    def new_rows(d: object) -> bool:
        rows = d.find_elements(By.CSS_SELECTOR, ".melodia-candidate")  # type: ignore[attr-defined]
        headers = {r.find_element(By.CSS_SELECTOR, ".melodia-header").text for r in rows}
        return len(rows) == 4 and not headers & before

    _wait(driver, new_rows, "4 new candidates from the personal model")
    assert "random seed 1" in driver.find_element(By.CSS_SELECTOR, ".melodia-status").text  # type: ignore[attr-defined]


def _screenshot(driver: object, folder: Path) -> None:
    """The panel as PNG: into `folder`, and where MELODIA_STUDIO_SCREENSHOT says (the README's picture)."""
    from selenium.webdriver.common.by import By

    panel = driver.find_element(By.CSS_SELECTOR, ".melodia-studio")  # type: ignore[attr-defined]
    picture = panel.screenshot_as_png
    assert picture.startswith(b"\x89PNG") and len(picture) > 20_000
    (folder / "studio.png").write_bytes(picture)
    if os.environ.get("MELODIA_STUDIO_SCREENSHOT"):
        from melodia.io.atomic import atomic_write_bytes

        atomic_write_bytes(os.environ["MELODIA_STUDIO_SCREENSHOT"], picture)
