#!/usr/bin/env bash
# kafka-run-class.sh of the lab's Kafka distribution (test support): run a Kafka class with
# the distribution's jars, honouring the environment variables of Apache Kafka's own script
# (JAVA_HOME, KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS, KAFKA_OPTS).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "USAGE: $0 classname [opts]" >&2
  exit 1
fi
base_dir=$(cd "$(dirname "$0")/.." && pwd)
java=java
if [ -n "${JAVA_HOME:-}" ]; then java="$JAVA_HOME/bin/java"; fi
# word splitting of the *_OPTS variables is wanted: each holds several JVM options
# shellcheck disable=SC2086
exec "$java" ${KAFKA_HEAP_OPTS:--Xmx256M} ${KAFKA_JVM_PERFORMANCE_OPTS:-} \
  ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.properties} \
  ${KAFKA_OPTS:-} -cp "$base_dir/libs/*" "$@"
