"""Regenerate the user guide's screenshots (docs/images/*.png) from the real app.

Each picture is taken by Textual's `save_screenshot()` (SVG) from a home set up the way the
guide describes, then turned into a PNG by `rsvg-convert`. Run: `make screenshots`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
SIZE = (100, 30)
NOW = "2026-06-01T10:00:00"
VILLAGE = ["init", "--role", "village", "--unit", "320117100201", "--name", "白马村",
           "--parent", "320117100000"]
TOWNSHIP = ["init", "--role", "township", "--unit", "320117100000", "--name", "白马镇",
            "--parent", "320117000000"]


def cli(home: Path, *args: str) -> str:
    """Run the real command line on `home` in Chinese."""
    command = [sys.executable, "-m", "villagebook", "--lang", "zh", "--home", str(home), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


async def shoot(home: Path, name: str, keys: Sequence[str] = ()) -> None:
    """Open the app on `home`, press `keys`, and save what it shows as docs/images/NAME.png."""
    from villagebook.screens.app import make_app

    app: Any = make_app(home, "zh")
    async with app.run_test(size=SIZE) as pilot:
        for key in ("", *keys):
            if key:
                await pilot.press(key)
            for _ in range(4):
                await pilot.app.workers.wait_for_complete()
                await pilot.pause()
        pilot.app.clear_notifications()
        await pilot.pause()
        svg = Path(pilot.app.save_screenshot(filename=f"{name}.svg", path=str(home)))
    subprocess.run(["rsvg-convert", "--zoom", "0.7", "-o", str(IMAGES / f"{name}.png"),
                    str(svg)], check=True)
    print(IMAGES / f"{name}.png")


async def main() -> None:
    os.environ["VILLAGEBOOK_NOW"] = NOW
    if shutil.which("rsvg-convert") is None:
        sys.exit("rsvg-convert not found (apt-get install librsvg2-bin fonts-wqy-microhei)")
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        await shoot(work / "fresh", "setup")
        village, township = work / "baima", work / "town"
        cli(village, *VILLAGE)
        cli(village, "demo", "--cases", "12", "--problems", "10", "--seed", "7")
        await shoot(village, "village-dashboard")
        await shoot(village, "village-cases", ["f3"])
        await shoot(village, "village-case-form", ["n"])
        await shoot(village, "village-sync", ["f5"])
        cli(township, *TOWNSHIP)
        (work / "village.pub").write_text(cli(village, "keys", "show", "--public") + "\n",
                                          encoding="utf-8")
        (work / "town.pub").write_text(cli(township, "keys", "show", "--public") + "\n",
                                       encoding="utf-8")
        cli(township, "keys", "trust", str(work / "village.pub"), "--unit", "320117100201")
        cli(village, "keys", "trust", str(work / "town.pub"), "--unit", "320117100000")
        bundle = cli(village, "export", "--out", str(work / "usb") + os.sep)
        cli(township, "merge", bundle)
        await shoot(township, "township-dashboard")
        await shoot(township, "township-sync", ["f5"])


if __name__ == "__main__":
    asyncio.run(main())
