#!/usr/bin/env bash
# One command from a fresh machine to a running coordinator: installs what is missing, then
# runs `jetsaga serve`. With no NATS URL or registry given (flags or JETSAGA_* variables) and
# nothing listening on 127.0.0.1:4222 / :5000, it embeds nats-server and docker-registry under
# the data dir. Extra arguments go to `jetsaga serve`; with none, it also deploys the sample
# app examples/node-hello and prints where it answers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -eq 0 ]; then set -- --deploy examples/node-hello; fi
exec node --import tsx src/cli/main.ts serve "$@"
