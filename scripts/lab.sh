#!/usr/bin/env bash
# The main job: set everything up (first run only) and open JupyterLab on the whole
# checkout, on its landing page START_HERE.ipynb (lecture notebooks, exercises, how to
# check them). --hide-solutions hides solutions/ from the file browser, --teacher keeps
# nbgrader's teacher tools (a student's Lab hides them); other arguments
# go to `jupyter lab` (for example --no-browser --port 8899).
. "$(dirname "$0")/_venv.sh" lab
python -m lecturekit doctor | grep -E "^model" || true
exec python -m lecturekit lab "$@"
