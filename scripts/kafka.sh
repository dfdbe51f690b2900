#!/usr/bin/env bash
# A private single-node KRaft Kafka broker on 127.0.0.1 with free ports.
#   scripts/kafka.sh start STATE_DIR   start (formats the storage on first use); prints the bootstrap address
#   scripts/kafka.sh stop STATE_DIR    stop it (data stays; start again to restart on the same ports)
#   scripts/kafka.sh kill STATE_DIR    SIGKILL, for crash tests
#   scripts/kafka.sh address STATE_DIR
# STATE_DIR holds server.properties, the log dirs, kafka.log, kafka.pid and 'address'.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd="${1:-}"; state="${2:-}"
[[ -n "$cmd" && -n "$state" ]] || die "usage: kafka.sh start|stop|kill|address STATE_DIR"
libs="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"

running() { [[ -f "$state/kafka.pid" ]] && kill -0 "$(cat "$state/kafka.pid")" 2>/dev/null; }

start() {
  [[ -d "$libs" ]] || die "Kafka is not installed; run scripts/install-deps.sh"
  mkdir -p "$state"
  state="$(cd "$state" && pwd)"
  if running; then cat "$state/address"; return 0; fi
  if [[ ! -f "$state/server.properties" ]]; then
    local port cport
    port=$(free_port); cport=$(free_port)
    while [[ "$cport" == "$port" ]]; do cport=$(free_port); done
    cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$state/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
    cat > "$state/log4j2.properties" <<'L4J'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka.server.KafkaServer
logger.kafka.level = INFO
L4J
    echo "127.0.0.1:$port" > "$state/address"
    local cluster_id
    cluster_id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    java -cp "$libs/*" -Dlog4j2.configurationFile="$state/log4j2.properties" -Dkafka.logs.dir="$state" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" >"$state/format.log" 2>&1 \
      || { cat "$state/format.log" >&2; die "kafka storage format failed"; }
  fi
  port="$(cut -d: -f2 < "$state/address")"
  # setsid: the broker must not die with the shell or test that started it.
  setsid java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$state/log4j2.properties" -Dkafka.logs.dir="$state" \
    -cp "$libs/*" kafka.Kafka "$state/server.properties" >"$state/kafka.log" 2>&1 < /dev/null &
  echo $! > "$state/kafka.pid"
  if ! wait_for_port "$port" 90; then
    tail -30 "$state/kafka.log" "$state/server.log" >&2 || true
    die "kafka did not start on port $port"
  fi
  # The port opens before the broker has joined its own quorum; wait until it serves metadata.
  local i
  for ((i = 0; i < 120; i++)); do
    if kcat -b "$(cat "$state/address")" -L -m 2 >/dev/null 2>&1; then break; fi
    sleep 0.5
  done
  cat "$state/address"
}

stop_with() {
  local sig="$1"
  running || return 0
  local pid; pid="$(cat "$state/kafka.pid")"
  kill "-$sig" "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$state/kafka.pid"
}

case "$cmd" in
  start) start ;;
  stop) stop_with TERM ;;
  kill) stop_with KILL ;;
  address) cat "$state/address" ;;
  *) die "unknown command $cmd" ;;
esac
