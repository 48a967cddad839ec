#!/usr/bin/env bash
# Installs the built wheel into a fresh venv (what pipx / uv tool install do) and runs the
# same story as the frozen build: catalogs, stylesheet and metadata must be in the wheel.
# Usage: scripts/wheel_smoke.sh dist/villagebook-X.Y.Z-py3-none-any.whl
set -euo pipefail
wheel=$(realpath "${1:?usage: wheel_smoke.sh PATH/TO/villagebook-*.whl}")
here=$(cd "$(dirname "$0")/.." && pwd)
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet "$wheel" -c "$here/constraints.txt"
"$venv/bin/python" - <<'PY'
import importlib.metadata as metadata
from importlib.resources import files

import villagebook

assert metadata.version("villagebook") == villagebook.__version__, "metadata and __version__ differ"
root = files("villagebook")
catalogs = sorted(p.name for p in (root / "locale" / "zh").iterdir() if p.name.endswith(".po"))
assert "core.po" in catalogs and "sync.po" in catalogs, catalogs
assert (root / "screens" / "villagebook.tcss").is_file(), "stylesheet missing from the wheel"
print("wheel smoke: data files", ", ".join(catalogs), "+ villagebook.tcss")
PY
"$here/scripts/frozen_smoke.sh" "$venv/bin/villagebook" | sed 's/^frozen smoke/wheel smoke/'
