#!/usr/bin/env bash
# Property-based API fuzzing against the OpenAPI document: starts the real
# `authgate` binary on a free loopback port with a throwaway data directory and
# runs schemathesis (pinned below, installed in a venv under target/) over every
# operation of server/openapi.json. Fails on any 5xx, any response that doesn't
# match its documented status, content type, headers or schema, any request that
# violates the schema and is still accepted, auth that is ignored, or a wrong 405.
# Builds nothing: uses $AUTHGATE_BIN (set by test-all.sh) or target/debug/authgate.
# About 25 s warm on 2 cores; the first run also installs schemathesis (~30 s).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
# Generated cases per operation; the generation is deterministic (a fixed
# derandomized seed), so two runs send the same requests.
MAX_EXAMPLES="${API_FUZZ_MAX_EXAMPLES:-50}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

tdir="$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$PWD/target")"
bin="${AUTHGATE_BIN:-$tdir/debug/authgate}"
if [ ! -x "$bin" ]; then
  echo "api-fuzz: no authgate binary at $bin (cargo build -p authgate-server --bins)" >&2
  exit 1
fi

venv="$tdir/api-fuzz-venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-venv python3-pip
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A confidential client, so introspection is fuzzed past client authentication.
secret="$(AUTHGATE_ADMIN_PASSWORD="api-fuzz-admin-password" "$bin" client add api-fuzz-rs --confidential \
  --name "API fuzz" --scopes read --data-dir "$work/data" | sed -n 's/^ *client_secret: *//p')"
[ -n "$secret" ] || { echo "api-fuzz: could not add the confidential client" >&2; exit 1; }
# Introspection authenticates as that client; the other operations fuzz their
# own credentials.
cat >"$work/schemathesis.toml" <<TOML
[[operations]]
include-operation-id = "introspect"
auth.basic = { username = "api-fuzz-rs", password = "$secret" }
TOML
# The stateful run starts flows as the real public client, so the link from a
# device code to polling the token endpoint is followed.
cat >"$work/stateful.toml" <<TOML
[[operations]]
include-operation-id = "deviceAuthorization"
parameters = { "body.client_id" = "authgate-cli" }
TOML

AUTHGATE_ADMIN_PASSWORD="api-fuzz-admin-password" "$bin" serve --listen 127.0.0.1:0 \
  --data-dir "$work/data" --log-level warn >"$work/stdout" 2>"$work/stderr" &
pid=$!
url=""
for _ in $(seq 1 600); do
  url="$(sed -n 's/^listening on //p' "$work/stdout" | head -n1)"
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/stderr" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "api-fuzz: the server did not start" >&2; exit 1; }
echo "api-fuzz: schemathesis $SCHEMATHESIS_VERSION against $url, $MAX_EXAMPLES cases per operation"

start=$(date +%s)
status=0
# The document is read as the server serves it, so what is fuzzed is what ships.
# Every check but positive_data_acceptance: a schema-valid token request with a
# made-up device code is rightly refused, and no schema can say which codes exist.
checks="--checks all --exclude-checks positive_data_acceptance"
fuzz() { # CONFIG PHASES
  # Run from the temp dir: schemathesis keeps its state where it runs.
  (cd "$work" && "$venv/bin/schemathesis" --config-file "$1" run "$url/openapi.json" \
    --phases "$2" $checks --max-examples "$MAX_EXAMPLES" \
    --generation-deterministic --workers 1 --request-timeout 10 --no-color)
}
fuzz "$work/schemathesis.toml" examples,coverage,fuzzing || status=$?
fuzz "$work/stateful.toml" stateful || status=$?
echo "api-fuzz: $(( $(date +%s) - start )) s"
if ! kill -0 "$pid" 2>/dev/null; then
  echo "api-fuzz: the server died" >&2
  cat "$work/stderr" >&2
  exit 1
fi
if grep -q 'panicked' "$work/stderr"; then
  echo "api-fuzz: the server panicked" >&2
  cat "$work/stderr" >&2
  exit 1
fi
exit "$status"
