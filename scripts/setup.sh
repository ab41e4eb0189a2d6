#!/usr/bin/env bash
# Installs what jetsaga needs on a Debian machine, idempotently: nats-server, docker-registry
# (the embedded defaults and the test servers), skopeo and umoci (image inspection), python3
# (the python sample), chromium (the visualizer's browser tests), postgresql (the addon
# tests start their own server when none answers on 127.0.0.1:5432), and the npm dependencies. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need_apt+=(nats-server)
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need_apt+=(skopeo)
command -v umoci >/dev/null 2>&1 || need_apt+=(umoci)
# The python sample (examples/python-hello) runs on the host's python3.
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
# The visualizer's browser tests drive Debian's Chromium through playwright-core (never a
# downloaded browser).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# PostgreSQL addon tests: initdb and postgres from Debian's server package (any major version).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
