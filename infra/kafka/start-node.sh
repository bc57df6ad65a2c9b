#!/bin/sh
# Starts one Kafka node of compose.yaml: writes server.properties from its KAFKA_* variables (KAFKA_A_B
# -> a.b, __ -> _, ___ -> -, as the apache/kafka image maps them), formats its storage once with the
# admin's SCRAM credential (the brokers authenticate to each other as that principal, so it must exist
# before any broker starts), then runs the broker. KAFKA_OPTS and KAFKA_HEAP_OPTS are the JVM's.
set -eu
config=/tmp/server.properties
env | grep '^KAFKA_' | grep -v -e '^KAFKA_OPTS=' -e '^KAFKA_HEAP_OPTS=' -e '^KAFKA_ADMIN_PASSWORD=' |
  while IFS='=' read -r name value; do
    key=$(printf '%s' "${name#KAFKA_}" | tr 'A-Z' 'a-z' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
    printf '%s=%s\n' "$key" "$value"
  done > "$config"
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t "$CLUSTER_ID" -c "$config" \
  --add-scram "SCRAM-SHA-512=[name=\"ipe-admin\",password=\"$KAFKA_ADMIN_PASSWORD\"]"
exec /opt/kafka/bin/kafka-server-start.sh "$config"
