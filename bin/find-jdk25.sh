# Sourced by ./qlora4j and .ci/run: sets JAVA_HOME and JAVA to a JDK >= 25.
# Order: $JAVA_HOME, java on PATH, then the usual install folders (/usr/lib/jvm/*25*, /opt/*jdk*25*).
_qlora4j_java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'; }
_qlora4j_pick() {
  local home
  for home in "${JAVA_HOME:-}" "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")" \
              /usr/lib/jvm/*25* /usr/lib/jvm/*2[6-9]* /opt/*jdk*25* ; do
    [[ -n "$home" && -x "$home/bin/java" && -x "$home/bin/javac" ]] || continue
    local major; major="$(_qlora4j_java_major "$home/bin/java")"
    if [[ -n "$major" && "$major" -ge 25 ]]; then echo "$home"; return 0; fi
  done
  return 1
}
if ! JAVA_HOME="$(_qlora4j_pick)"; then
  echo "qlora4j needs a JDK 25 (Vector API, java.lang.foreign) and found none: set JAVA_HOME to a JDK 25 install." >&2
  exit 1
fi
export JAVA_HOME
JAVA="$JAVA_HOME/bin/java"
