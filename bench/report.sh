#!/usr/bin/env bash
# Turns one run's results into bench/RESULTS.md and bench/results.png.
#   bench/report.sh bench/results/<time>
# matplotlib goes into bench/.venv (not committed), once.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=bench/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'matplotlib==3.10.8'
fi
"$venv/bin/python" bench/report.py "$1"
