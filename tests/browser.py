"""Headless Debian Chromium for browser tests (never a downloaded browser).

The networking flags keep Chromium from calling home on this closed network; without
them it floods the machine with refused connections. A missing Chromium fails the test
(make test installs it): a browser test never skips silently.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """A headless Chromium browser from Debian's package, via Playwright."""
    if not CHROMIUM.exists():
        raise AssertionError(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
