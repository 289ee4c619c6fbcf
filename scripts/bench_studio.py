"""The studio's speed: 4 candidates of 8 bars generated and shown, after the first load, against the goal of 3 s.

Over --runs runs (random seeds 1, 2, ...; one run before them loads the model and warms up) it prints
the median and the slowest time of:

  reference  `melodia.generate` alone: the same 4 melodies, nothing drawn or rendered (it samples on
             one torch thread)
  kernel     the panel's Generate in Python: sampling, 4 piano rolls, 4 WAVs, the rows of widgets
  browser    (with --browser) Generate clicked in headless Chromium, Voila serving the panel, until all
             4 rows show an audio player and a loaded piano roll

The reference and the kernel take turns, run by run (`melodia.lm.bench.interleaved`), so that other work on
the machine slows them alike; the kernel's time over the reference's is the median of each run's.

Usage: python scripts/bench_studio.py [--runs 5] [--browser]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from melodia.lm.bench import interleaved

SEED = "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8"
GOAL_SECONDS = 3.0
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,2400")


def timed(action: Callable[[int], object], runs: int) -> list[float]:
    """Seconds of `action(random_seed)` for random seeds 1..runs, after one untimed run with seed 0."""
    action(0)
    seconds = []
    for random_seed in range(1, runs + 1):
        start = time.perf_counter()
        action(random_seed)
        seconds.append(time.perf_counter() - start)
    return seconds


def turns(action: Callable[[int], object]) -> Callable[[], float]:
    """`action(random_seed)` with random seeds 1, 2, ..., one a call, after one untimed call with seed 0."""
    action(0)
    seeds = iter(range(1, 1_000_000))

    def turn() -> float:
        action(next(seeds))
        return 1.0

    return turn


def in_kernel(runs: int) -> tuple[dict[str, list[float]], list[float], float]:
    """(reference seconds by torch's thread count, kernel seconds, the median of kernel / reference run by run)."""
    import torch

    import melodia
    from melodia.apps.studio_panel import StudioPanel
    from melodia.apps.studio_session import Studio
    from melodia.lm.generation import Constraints

    studio = Studio("default", tempfile.mkdtemp(prefix="melodia-bench-"))

    def reference(random_seed: int) -> None:
        melodia.generate(studio.model, SEED, 4, Constraints(bars=8), random_seed=random_seed)

    panel = StudioPanel(studio)
    panel.seed.value, panel.count.value, panel.bars.value = SEED, 4, 8

    def click(random_seed: int) -> None:
        panel.random_seed.value = random_seed
        panel.generate_button.click()
        assert len(panel.rows) == 4, panel.status.value

    rounds = interleaved({"reference": turns(reference), "kernel": turns(click)}, runs)
    name = f"melodia.generate (on 1 of {torch.get_num_threads()} torch threads)"
    return {name: rounds.seconds["reference"]}, rounds.seconds["kernel"], rounds.ratio("reference", "kernel")


def in_browser(runs: int) -> list[float]:
    """Seconds from the click on Generate to 4 rows shown in Chromium."""
    import nbformat
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    folder = Path(tempfile.mkdtemp(prefix="melodia-bench-"))
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import melodia\nmelodia.studio(folder='kept')")]), folder / "studio.ipynb")
    server = subprocess.Popen([sys.executable, "-m", "voila", "studio.ipynb", "--no-browser", "--port=8877",
                               "--Voila.ip=127.0.0.1"], cwd=folder, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={folder / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
    try:
        for _ in range(300):
            try:
                driver.get("http://127.0.0.1:8877/")
                break
            except Exception:  # the server is not up yet
                time.sleep(0.2)
        wait = WebDriverWait(driver, 180, poll_frequency=0.02)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "button.melodia-generate"))

        def click(random_seed: int) -> None:
            field = driver.find_element(By.CSS_SELECTOR, ".melodia-status")
            driver.find_element(By.CSS_SELECTOR, "button.melodia-generate").click()
            wait.until(lambda d: f"random seed {random_seed};" in field.text and d.execute_script(
                "const rows = document.querySelectorAll('.melodia-candidate');"
                "return rows.length === 4 && [...rows].every(r => r.querySelector('audio[src]') &&"
                " r.querySelector('img') && r.querySelector('img').complete &&"
                " r.querySelector('img').naturalWidth > 100);"))

        return timed(click, runs)  # the panel's random seed goes up by one each click: 0, 1, 2 ...
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=20)


def report(name: str, seconds: list[float]) -> None:
    median = statistics.median(seconds)
    runs = " ".join(f"{s:.2f}" for s in seconds)
    print(f"{name:<42} median {median:5.2f} s  slowest {max(seconds):5.2f} s  "
          f"({median / GOAL_SECONDS:.2f} of the {GOAL_SECONDS:g} s goal)  runs: {runs}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--browser", action="store_true", help="also time it in headless Chromium (Voila)")
    args = parser.parse_args(argv)
    print(f"4 candidates of 8 bars from {SEED!r}, default model, {args.runs} runs after a warm-up")
    references, kernel, ratio = in_kernel(args.runs)
    for threads, seconds in references.items():
        report(f"reference ({threads})", seconds)
    report("kernel", kernel)
    print(f"kernel / reference: {ratio:.2f} (median over runs, taken in turns)")
    if args.browser:
        report("browser", in_browser(args.runs))


if __name__ == "__main__":
    main()
