#!/usr/bin/env bash
# A real Apache Kafka 4.x broker (single node, KRaft) from Maven Central jars.
#   infra/kafka/kafka.sh up     fetch jars once, format a fresh data dir, start, wait until it answers, print address
#   infra/kafka/kafka.sh down   stop it cleanly; no java process is left behind
#   infra/kafka/kafka.sh restart  stop and start again on the same data (broker-loss tests)
#   infra/kafka/kafka.sh start    start again on the data of the last up (after a down; broker-loss tests)
#   infra/kafka/kafka.sh status
# Environment: KAFKA_PORT (default 9092), KAFKA_CONTROLLER_PORT (default KAFKA_PORT+1),
#              KAFKA_HOME_DIR (state dir, default infra/kafka/run), KAFKA_START_TIMEOUT (s, default 120).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
STATE="${KAFKA_HOME_DIR:-$HERE/run}"
LIBS="$HERE/libs"
PIDFILE="$STATE/kafka.pid"
LOG="$STATE/server.out"
TIMEOUT="${KAFKA_START_TIMEOUT:-120}"

running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# One kafka.sh at a time per state dir (and one jar download at a time): two concurrent `up`s on the same
# dir would format it under each other. The lock files sit next to the dir, which `up` recreates.
lock_state() {
  mkdir -p "$(dirname "$STATE")"
  exec 9>"$STATE.lock"
  flock -w "$TIMEOUT" 9 || { echo "kafka: another kafka.sh is working on $STATE (lock $STATE.lock)" >&2; exit 1; }
}

fetch_jars() {
  if [[ -f "$LIBS/.complete" ]]; then return 0; fi
  exec 8>"$HERE/.fetch.lock"
  flock -w 900 8 || { echo "kafka: another jar download did not finish in 15 min" >&2; exit 1; }
  if [[ -f "$LIBS/.complete" ]]; then return 0; fi
  echo "kafka: fetching broker jars from Maven Central (once) ..." >&2
  mvn -B -q -f "$HERE/pom.xml" dependency:copy-dependencies >&2
  ls "$LIBS" | grep -q '^kafka_2.13-' || { echo "kafka: jar download incomplete" >&2; exit 1; }
  touch "$LIBS/.complete"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

up() {
  local pid
  if pid="$(running_pid)"; then
    echo "kafka: already running (pid $pid) at $(cat "$STATE/bootstrap"); nothing changed" >&2
    cat "$STATE/bootstrap"; return 0
  fi
  if port_open "$PORT"; then
    echo "kafka: port $PORT on 127.0.0.1 is taken by another process; set KAFKA_PORT" >&2; exit 1
  fi
  fetch_jars
  rm -rf "$STATE"; mkdir -p "$STATE/data"
  sed -e "s#@PORT@#$PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" -e "s#@DATA@#$STATE/data#g" \
    "$HERE/server.properties.template" > "$STATE/server.properties"
  local tools=(java -Xmx256m -Dlog4j2.configurationFile="$HERE/tools-log4j2.properties" -cp "$LIBS/*" kafka.tools.StorageTool)
  local cluster_id; cluster_id="$("${tools[@]}" random-uuid)"
  "${tools[@]}" format --standalone -t "$cluster_id" -c "$STATE/server.properties" > "$STATE/format.out" 2>&1 \
    || { echo "kafka: format failed" >&2; cat "$STATE/format.out" >&2; exit 1; }
  start_broker
}

# Start the broker on the state dir as it is (formatted already) and wait until it answers.
start_broker() {
  local pid
  # setsid: the broker gets its own session, so a Ctrl-C of the caller does not kill it half-way.
  # 8>&- 9>&-: the broker must not inherit (and so hold for its whole life) the script's locks.
  setsid java -Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$STATE" \
    -cp "$LIBS/*" kafka.Kafka "$STATE/server.properties" > "$LOG" 2>&1 < /dev/null 8>&- 9>&- &
  pid=$!
  echo "$pid" > "$PIDFILE"
  local deadline=$((SECONDS + TIMEOUT))
  until port_open "$PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "kafka: broker exited during start; last lines of $LOG:" >&2; tail -n 40 "$LOG" >&2; rm -f "$PIDFILE"; exit 1
    fi
    if (( SECONDS > deadline )); then
      echo "kafka: broker did not answer within ${TIMEOUT}s; last lines of $LOG:" >&2; tail -n 40 "$LOG" >&2
      down >/dev/null 2>&1 || true; exit 1
    fi
    sleep 0.3
  done
  # The socket opens only once the broker is unfenced (SocketServer defers the bind); confirm it logged so.
  until grep -q "Kafka Server started" "$LOG"; do
    (( SECONDS > deadline )) && { echo "kafka: no 'Kafka Server started' in log" >&2; tail -n 40 "$LOG" >&2; down; exit 1; }
    sleep 0.2
  done
  echo "127.0.0.1:$PORT" > "$STATE/bootstrap"
  echo "kafka: broker up (pid $pid)" >&2
  echo "127.0.0.1:$PORT"
}

down() {
  local pid
  if ! pid="$(running_pid)"; then echo "kafka: not running" >&2; rm -f "$PIDFILE"; return 0; fi
  kill -TERM "$pid"
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then echo "kafka: no clean stop after 30s; killing" >&2; kill -KILL "$pid"; fi
  rm -f "$PIDFILE"
  echo "kafka: stopped" >&2
}

restart() {
  [[ -f "$STATE/server.properties" ]] || { echo "kafka: nothing to restart; use up" >&2; exit 1; }
  down
  start_broker
}

start_existing() {
  [[ -f "$STATE/server.properties" ]] || { echo "kafka: nothing to start; use up" >&2; exit 1; }
  if pid="$(running_pid)"; then echo "kafka: already running (pid $pid)" >&2; cat "$STATE/bootstrap"; return 0; fi
  start_broker
}

case "${1:-}" in
  up) lock_state; up ;;
  start) lock_state; start_existing ;;
  restart) lock_state; restart ;;
  down) lock_state; down ;;
  status) if pid="$(running_pid)"; then echo "running pid $pid $(cat "$STATE/bootstrap" 2>/dev/null)"; else echo "stopped"; exit 3; fi ;;
  fetch) fetch_jars ;;
  *) echo "usage: $0 up|down|start|restart|status|fetch" >&2; exit 2 ;;
esac
