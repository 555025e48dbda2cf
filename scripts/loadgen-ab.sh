#!/usr/bin/env bash
# Interleaved A/B of two builds with the load generator: BASE and NEW name directories
# holding `authgate` and `loadgen` release binaries (each build's own load generator,
# since the flow scenario follows its server's pages). Three rounds, alternating, at
# high priority; prints each run's table. Not part of the test command (minutes long).
#   BASE=/tmp/base-bin NEW=target/release scripts/loadgen-ab.sh
set -euo pipefail
: "${BASE:?set BASE to a directory with authgate and loadgen}" "${NEW:?set NEW likewise}"
for r in 1 2 3; do
  for v in BASE NEW; do
    dir=${!v}
    echo "== round $r $v ($dir) $(date +%T)"
    nice -n -10 "$dir/loadgen" --server-bin "$dir/authgate" --connections 32 --duration 5 \
      --codes 100000 | grep -E '^\|'
  done
done
