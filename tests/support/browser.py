"""Debian's Chromium driven by Playwright, for the console's browser tests. Never a downloaded browser:
`make test` installs the apt package `chromium` when /usr/bin/chromium is missing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import BrowserContext, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.asynccontextmanager
async def chromium(user_data_dir: Path) -> AsyncIterator[BrowserContext]:
    """A headless Chromium with a fresh profile in `user_data_dir`, closed afterwards."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does it)")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            await context.close()
