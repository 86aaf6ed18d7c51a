# Sourced by lab.sh and test.sh: make .venv (once) and install the kit into it.
# Usage: . scripts/_venv.sh EXTRA   (EXTRA is "lab" or "test", an extra of pyproject.toml)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "lecturekit: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
stamp=".venv/.installed-$1"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "lecturekit: installing the kit and its [$1] dependencies into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[$1]"
  touch "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
