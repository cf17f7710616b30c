#!/usr/bin/env bash
# Installs the plan bridge's virtual environment (.venv beside this script) from PyPI.
# Idempotent: an environment that already holds the pinned packages is kept.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv --help >/dev/null 2>&1 || { echo "python3 with venv is needed (apt-get install -y python3-venv)" >&2; exit 2; }
if [ -x .venv/bin/python ] && .venv/bin/python - <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
wanted = [line.split("==") for line in open("requirements.txt") if "==" in line]
sys.exit(0 if all(version(name) == pinned.strip() for name, pinned in wanted) else 1)
PY
    echo "plan bridge: .venv is up to date"
    exit 0
fi
rm -rf .venv
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
echo "plan bridge: installed $(.venv/bin/python -c 'import fastapi, uvicorn, watchdog; print("fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__)')"
