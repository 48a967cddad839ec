#!/usr/bin/env bash
# Runs a frozen VillageBook (the one-folder PyInstaller build) through the whole story a
# new office would: version, set-up, demo, a search in Chinese, reports (xlsx, docx),
# an export and a township's merge, and the app's first screen in tmux. Fails on the first
# thing that is lost in freezing (catalogs, stylesheet, metadata, templates, plugins).
# Usage: scripts/frozen_smoke.sh dist/villagebook/villagebook
set -euo pipefail
exe=$(realpath "${1:?usage: frozen_smoke.sh PATH/TO/villagebook}")
work=$(mktemp -d)
session="vb-frozen-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT
export VILLAGEBOOK_NOW=2026-06-01T10:00:00
village="$work/baima" township="$work/town"
vb() { "$exe" --lang zh "$@"; }
fail() { echo "frozen smoke: FAILED: $*" >&2; exit 1; }
start=$SECONDS

version=$("$exe" --version) || fail "--version exited $?"
expected=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$(dirname "$0")/../villagebook/__init__.py")
[[ $version == *"$expected"* ]] || fail "--version printed '$version', expected $expected"

out=$(vb --home "$township" init --role township --unit 320117100000 --name 白马镇 --parent 320117000000)
[[ $out == *白马镇* && $out == *设置为* ]] || fail "init (township) not in Chinese: $out"
out=$(vb --home "$village" init --role village --unit 320117100201 --name 白马村 --parent 320117100000)
[[ $out == *签名密钥指纹* ]] || fail "init (village) not in Chinese: $out"
out=$(vb --home "$village" demo --cases 12 --problems 10 --seed 7)
[[ $out == *演示数据* ]] || fail "demo: $out"

out=$(vb --home "$village" search 白马村 --limit 3)
[[ $out == *案例*白马村* ]] || fail "search in Chinese found nothing: $out"
vb --home "$village" search 白马村 --json --limit 1 | grep -q '"kind": "case"' \
    || fail "search --json"

vb --home "$village" report --kind case --out "$work/cases.xlsx" >/dev/null
[[ -s $work/cases.xlsx ]] || fail "xlsx report not written"
vb --home "$village" report --kind problem --out "$work/problems.csv" >/dev/null
[[ -s $work/problems.csv ]] || fail "csv report not written"

# The township enrols the village, which sends its first bundle; the township merges it
# and writes a Word dossier (python-docx's template must be in the build).
vb --home "$village" keys show --public > "$work/village.pub"
vb --home "$township" keys show --public > "$work/town.pub"
vb --home "$township" keys trust "$work/village.pub" --unit 320117100201 >/dev/null
vb --home "$village" keys trust "$work/town.pub" --unit 320117100000 >/dev/null
bundle=$(vb --home "$village" export --out "$work/usb/")
out=$(vb --home "$township" merge "$bundle") || fail "merge: $out"
out=$(vb --home "$township" report --kind case --out "$work/town.xlsx")
[[ -s $work/town.xlsx ]] || fail "township report: $out"
case_id=$(vb --home "$township" dump --json | python3 -c '
import json, sys
print(next(c["id"] for c in json.load(sys.stdin)["cases"] if c["status"] == "submitted"))')
vb --home "$township" review "$case_id" --approve >/dev/null
vb --home "$township" report --kind dossier --case "$case_id" --out "$work/dossier.docx" \
    >/dev/null || fail "dossier report"
python3 -m zipfile -l "$work/dossier.docx" | grep -q word/document.xml || fail "dossier is not a .docx"

# The app's first screen: the stylesheet must load and the dashboard must be drawn.
tmux new-session -d -s "$session" -x 100 -y 30 "'$exe' --lang zh --home '$village'"
screen=""
for _ in $(seq 1 60); do
    sleep 0.5
    screen=$(tmux capture-pane -p -t "$session" 2>/dev/null || true)
    [[ $screen == *创新案例* && $screen == *问题台账* ]] && break
done
[[ $screen == *创新案例* && $screen == *问题台账* ]] || fail "the app's first screen did not show the dashboard: $screen"
tmux send-keys -t "$session" C-q
echo "frozen smoke: ok ($version, $((SECONDS - start)) s)"
