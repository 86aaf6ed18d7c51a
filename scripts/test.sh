#!/usr/bin/env bash
# The whole test suite: set everything up (first run only), then the unit tests and
# every notebook in notebooks/ and solutions/ under nbval (cells marked
# NBVAL_CHECK_OUTPUT are compared with their committed outputs).
# Extra arguments go to pytest; LECTUREKIT_TEST_PATHS narrows what is collected
# (default: "tests notebooks solutions"). The 25 slowest tests are listed at the end.
# Tests run in LECTUREKIT_TEST_WORKERS processes (pytest-xdist; default 2 where the machine
# has 2 cores or more, 0 = all in this process). Each test module and each notebook stays
# in one process, and each process gets its share of the cores as PyTorch threads
# (OMP_NUM_THREADS, unless it is set already).
. "$(dirname "$0")/_venv.sh" test
export MPLBACKEND=Agg
export LECTUREKIT_MODEL=toy  # unit tests and notebooks without "outputs_model" metadata (conftest.py)
export LECTUREKIT_PROGRESS=0  # no progress bars in the logs or in executed notebooks (lecturekit/progress.py)
cores="$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 1)"  # nproc obeys OMP_*
workers="${LECTUREKIT_TEST_WORKERS:-$([ "$cores" -ge 2 ] && echo 2 || echo 0)}"
case "$workers" in
  ''|*[!0-9]*) echo "lecturekit: LECTUREKIT_TEST_WORKERS must be a whole number (0: one process), got '$workers'" >&2
               exit 2 ;;
esac
parallel=()
if [ "$workers" -gt 0 ]; then
  parallel=(-n "$workers" --dist loadscope)
  threads=$((cores / workers))
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$((threads > 0 ? threads : 1))}"
fi
# shellcheck disable=SC2086  # the paths are meant to split
exec python -m pytest --nbval-lax --nbval-current-env --durations=25 "${parallel[@]}" \
  ${LECTUREKIT_TEST_PATHS:-tests notebooks solutions} "$@"
