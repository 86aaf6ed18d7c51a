#!/usr/bin/env bash
# The whole test suite: set everything up (first run only), then the unit tests and
# every notebook in notebooks/ and solutions/ under nbval (cells marked
# NBVAL_CHECK_OUTPUT are compared with their committed outputs).
# Extra arguments go to pytest; LECTUREKIT_TEST_PATHS narrows what is collected
# (default: "tests notebooks solutions"). The 25 slowest tests are listed at the end.
. "$(dirname "$0")/_venv.sh" test
export MPLBACKEND=Agg
export LECTUREKIT_MODEL=toy  # unit tests and notebooks without "outputs_model" metadata (conftest.py)
export LECTUREKIT_PROGRESS=0  # no progress bars in the logs or in executed notebooks (lecturekit/progress.py)
# shellcheck disable=SC2086  # the paths are meant to split
exec python -m pytest --nbval-lax --nbval-current-env --durations=25 ${LECTUREKIT_TEST_PATHS:-tests notebooks solutions} "$@"
