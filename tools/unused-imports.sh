#!/usr/bin/env bash
# Lists imports whose simple name is never used in the file (javac does not warn about them).
# Usage: tools/unused-imports.sh [dir...]   (default: every module)
set -euo pipefail
cd "$(dirname "$0")/.."
find ${@:-kernels memory model actors sim cli} -name '*.java' -not -path '*/target/*' | while read -r f; do
  { grep -E '^import (static )?[a-zA-Z0-9_.]+;' "$f" || true; } | sed -E 's/^import (static )?//; s/;$//' | while read -r imp; do
    name="${imp##*.}"
    if [ "$(grep -v '^import' "$f" | grep -c -w "$name")" = 0 ]; then echo "$f: $imp"; fi
  done
done
