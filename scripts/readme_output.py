"""Regenerate the README's "real output" blocks by running the commands they show.

Each block sits between `<!-- real-output: NAME -->` and `<!-- /real-output -->`
and is rewritten from the commands listed for NAME below, run by the real CLI in
a fresh home (shown as `~/baima`), in Chinese. Run after changing what the commands
print:  .venv/bin/python scripts/readme_output.py
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
SHOWN_HOME = "~/baima"

BLOCKS: dict[str, list[str]] = {
    "quick-start": [
        "init --role village --unit 320117100201 --name 白马村 --parent 320117100000",
        "demo --cases 50 --problems 80 --seed 7",
        "search 垃圾分类 --limit 3",
        "search 营商 --kind case --json --limit 1",
    ],
}


def run(home: Path, command: str) -> str:
    """`villagebook --home HOME COMMAND` as a shell shows it: the prompt, then stdout."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "LANG": "zh_CN.UTF-8"}
    env.pop("VILLAGEBOOK_HOME", None)
    done = subprocess.run([sys.executable, "-m", "villagebook", "--home", str(home),
                           "--lang", "zh", *shlex.split(command)], capture_output=True,
                          text=True, encoding="utf-8", env=env, check=True)
    shown = f"$ villagebook --home {SHOWN_HOME} {command}\n{done.stdout}"
    return shown.replace(str(home), SHOWN_HOME)


def block(name: str) -> str:
    """The indented block of `name`'s commands and their output."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "baima"
        text = "".join(run(home, command) for command in BLOCKS[name])
    return "".join(f"    {line}\n" for line in text.splitlines())


def main() -> None:
    """Rewrite every block of README.md in place."""
    readme = README.read_text(encoding="utf-8")
    for name in BLOCKS:
        pattern = re.compile(rf"(<!-- real-output: {name} -->\n\n).*?(\n<!-- /real-output -->)",
                             re.DOTALL)
        if not pattern.search(readme):
            raise SystemExit(f"README.md has no block {name}")
        readme = pattern.sub(lambda m, n=name: m.group(1) + block(n) + m.group(2), readme)
    README.write_text(readme, encoding="utf-8")


if __name__ == "__main__":
    main()
