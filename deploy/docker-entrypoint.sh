#!/usr/bin/env bash
# Runs the qlora4j command line with the JVM flags the build recorded (pom.xml's qlora4j.jvm.flags).
# Extra JVM options: QLORA4J_JAVA_OPTS (e.g. -XX:MaxRAMPercentage=75).
set -euo pipefail
# shellcheck disable=SC2046
exec java $(cat /opt/qlora4j/jvm.flags) ${QLORA4J_JAVA_OPTS:-} -jar /opt/qlora4j/qlora4j-cli.jar "$@"
