#!/usr/bin/env bash
# A teacher's trial of the course on JupyterHub, on this machine: set everything up (first
# run only: the kit with its [hub] extra in .venv, configurable-http-proxy with npm into
# .hub/ unless one is on PATH) and start the hub of deploy/jupyterhub_config.py. It prints
# the address and the passwords: students log in with any name and theirs, the teacher as
# "teacher" with the other. Settings are environment variables (port, state folder, model:
# see deploy/jupyterhub_config.py); the passwords are made up on the first run and kept in
# the state folder. --install-only sets up and exits; other arguments go to jupyterhub.
set -euo pipefail
install_only=0
if [ "${1:-}" = "--install-only" ]; then install_only=1; shift; fi
for argument in "$@"; do
  case "$argument" in
    -f|--config|--config=*|-f=*)
      echo "lecturekit hub: $argument: the configuration is deploy/jupyterhub_config.py; run jupyterhub yourself to use another" >&2
      exit 2 ;;
  esac
done
. "$(dirname "$0")/_venv.sh" hub

proxy="configurable-http-proxy"
if ! command -v "$proxy" >/dev/null && [ ! -x ".hub/node_modules/.bin/$proxy" ]; then
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "lecturekit hub: JupyterHub needs $proxy from npm, and Node.js or npm is missing: install them (Debian: apt-get install -y nodejs npm), then run this again" >&2
    exit 1
  fi
  # version 5 needs Node.js 20 or newer; 4 runs on older ones (Debian 12 has Node.js 18)
  major="$(node -p 'process.versions.node.split(".")[0]')"
  version=5; [ "$major" -ge 20 ] || version=4
  echo "lecturekit: installing $proxy $version into .hub/ with npm (Node.js $(node --version))"
  npm install --prefix .hub --no-audit --no-fund --loglevel=error "$proxy@$version"
fi
if [ "$install_only" = 1 ]; then
  echo "lecturekit: the hub is installed; start it with: bash scripts/hub.sh"
  exit 0
fi

state="${LECTUREKIT_HUB_STATE:-$PWD/.hub/state}"
mkdir -p "$state"
passwords="$state/trial-passwords"
if [ ! -f "$passwords" ]; then
  (umask 077 && python - >"$passwords" <<'EOF'
import secrets
print(f"student={secrets.token_urlsafe(9)}")
print(f"teacher={secrets.token_urlsafe(33)}")
EOF
  )
fi
student_password="${LECTUREKIT_HUB_PASSWORD:-$(sed -n 's/^student=//p' "$passwords")}"
teacher_password="${LECTUREKIT_HUB_TEACHER_PASSWORD:-$(sed -n 's/^teacher=//p' "$passwords")}"
export LECTUREKIT_HUB_STATE="$state" LECTUREKIT_HUB_PASSWORD="$student_password" \
  LECTUREKIT_HUB_TEACHER_PASSWORD="$teacher_password"
export LECTUREKIT_HUB_ANNOUNCE=1  # the configuration prints address and passwords once valid
exec python -m jupyterhub -f deploy/jupyterhub_config.py "$@"
