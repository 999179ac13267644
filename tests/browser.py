"""Headless Chromium for the tests that look at pages as a person would (Debian's chromium and
chromium-driver, through selenium); skips the test when they are not installed."""

from __future__ import annotations

import shutil
from typing import Any

import pytest


def chromium(width: int = 1200, height: int = 1800) -> Any:
    """A headless Chromium WebDriver that keeps the browser's console log (a test reads its errors)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("chromium and chromedriver not installed (.ci/run installs Debian's chromium, chromium-driver)")
    options = Options()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)
