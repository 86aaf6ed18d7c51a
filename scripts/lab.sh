#!/usr/bin/env bash
# The main job: set everything up (first run only) and open JupyterLab on notebooks/.
# Extra arguments go to `jupyter lab` (for example --no-browser --port 8899).
. "$(dirname "$0")/_venv.sh" lab
python -m lecturekit doctor | grep -E "^model" || true
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)
exec jupyter lab --notebook-dir="$root/notebooks" "${root_flag[@]}" "$@"
