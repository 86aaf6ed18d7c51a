#!/usr/bin/env bash
# The whole test suite: set everything up (first run only), then the unit tests and
# every notebook in notebooks/ and solutions/ under nbval (cells marked
# NBVAL_CHECK_OUTPUT are compared with their committed outputs).
# Extra arguments go to pytest.
. "$(dirname "$0")/_venv.sh" test
export MPLBACKEND=Agg
export LECTUREKIT_MODEL=toy  # the checked notebook outputs are the toy model's
exec python -m pytest --nbval-lax --nbval-current-env tests notebooks solutions "$@"
