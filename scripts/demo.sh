#!/usr/bin/env bash
# The main job: builds Skiff and runs the demo, example services calling each other over an embedded
# AMQP broker. Needs only a JDK (17+) and Maven. Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=examples/demo/target/demo.jar
if [ ! -f "$jar" ] || [ -n "$(find . -path ./examples/demo/target -prune -o \( -name '*.java' -o -name '*.proto' -o -name pom.xml \) -newer "$jar" -print -quit)" ]; then
  echo "[skiff] building (first run takes a few minutes while Maven downloads dependencies)..." >&2
  mvn -q -B -ntp -DskipTests install
fi
exec java -jar "$jar" "$@"
