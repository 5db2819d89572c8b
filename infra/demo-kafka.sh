#!/usr/bin/env bash
# `make demo-kafka`: the demo on a real Kafka broker of its own (private port and state dir), always stopped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KAFKA_HOME_DIR="${KAFKA_HOME_DIR:-$ROOT/.demo/kafka}"
export KAFKA_PORT="${KAFKA_PORT:-19192}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19193}"
trap '"$ROOT/infra/kafka/kafka.sh" down || true' EXIT INT TERM
bootstrap="$("$ROOT/infra/kafka/kafka.sh" up)"
"$ROOT/.venv/bin/mallbridge" demo --log "kafka://$bootstrap" "$@"
