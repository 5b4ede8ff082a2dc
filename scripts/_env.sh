# Sourced by the other scripts: create .venv (once) and install the project with the extras in
# EXTRAS (default "dev"). With "torch" among them, the CPU build of PyTorch is installed first
# (a bare "torch" requirement would pull a multi-GB CUDA build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-dev}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Reinstall only when the project's metadata or the extras changed since the last install.
STAMP=".venv/.automl-bridge-installed-${EXTRAS//,/-}"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  case ",$EXTRAS," in
    *,torch,*) .venv/bin/python -m pip install --quiet "torch==2.13.0" ;;
  esac
  .venv/bin/python -m pip install --quiet -e ".[$EXTRAS]"
  touch "$STAMP"
fi
