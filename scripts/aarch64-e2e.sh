#!/usr/bin/env bash
# Cross-builds `authgate` for aarch64-unknown-linux-gnu (Raspberry Pi 4/5) with
# Debian's cross compiler, then proves the binary works under Debian's qemu-user:
# starts it, runs a device flow with curl (approval through the pages, as
# docs/contract.md describes), stops it with SIGTERM and checks it exits 0.
# AUTHGATE_AARCH64_BIN=path tests that binary instead of building one
# (scripts/package-test.sh: the static one from the arm64 .deb).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
step() { printf '\n==> %s\n' "$*"; }
# `grep -q` for a pipe: reads all its input, so the writer never dies of SIGPIPE
# (which pipefail would report as a failure).
has() { grep "$@" >/dev/null; }

step "cross toolchain"
need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[ -d /usr/aarch64-linux-gnu/lib ] && [ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || need+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
[ -n "${AUTHGATE_AARCH64_BIN:-}" ] || rustup target add "$TARGET" >/dev/null

if [ -n "${AUTHGATE_AARCH64_BIN:-}" ]; then
  BIN="$AUTHGATE_AARCH64_BIN"
else
  step "cross build (release)"
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
  export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
  cargo build --locked --release -p authgate-server --bin authgate --target "$TARGET"
  BIN="${CARGO_TARGET_DIR:-target}/$TARGET/release/authgate"
fi
file "$BIN" 2>/dev/null || true

step "run under qemu-aarch64"
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
run() { qemu-aarch64 -L /usr/aarch64-linux-gnu "$BIN" "$@"; }
run --version
AUTHGATE_ADMIN_PASSWORD="pi-admin-password" \
  qemu-aarch64 -L /usr/aarch64-linux-gnu "$BIN" serve --listen 127.0.0.1:0 \
  --data-dir "$WORK/data" --poll-interval 1 >"$WORK/out" 2>"$WORK/err" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  grep -q '^listening on ' "$WORK/out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/err"; echo "server exited"; exit 1; }
  sleep 0.2
done
B=$(sed -n 's/^listening on //p' "$WORK/out" | head -1)
[ -n "$B" ] || { cat "$WORK/err"; echo "no listening line"; exit 1; }
echo "server at $B"
json() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
csrf() { field csrf_token; }
# The value of the hidden input NAME on stdin's page (askama writes `=` as `&#x3D;`).
field() { sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" | head -1 | sed 's/&#x3D;/=/g'; }

# 1. The device asks for a code.
CODE=$(curl -sS -d client_id=authgate-cli -d scope=read "$B/oauth/device/code")
DEVICE=$(printf '%s' "$CODE" | json device_code)
USER_CODE=$(printf '%s' "$CODE" | json user_code)
[ -n "$DEVICE" ] && [ -n "$USER_CODE" ] || { echo "bad device code answer: $CODE"; exit 1; }
POLL=(-sS -d client_id=authgate-cli -d "device_code=$DEVICE" -d grant_type=urn:ietf:params:oauth:grant-type:device_code)
curl "${POLL[@]}" "$B/oauth/token" | has authorization_pending

# 2. The owner signs in and approves in a browser (a cookie jar here).
JAR="$WORK/jar"
T=$(curl -sS -c "$JAR" -b "$JAR" "$B/login?next=/device" | csrf)
curl -sS -o /dev/null -w '%{http_code}\n' -c "$JAR" -b "$JAR" \
  --data-urlencode username=admin --data-urlencode password=pi-admin-password \
  --data-urlencode "csrf_token=$T" --data-urlencode next=/device "$B/login" | has 303
T=$(curl -sS -c "$JAR" -b "$JAR" "$B/device" | csrf)
curl -sS -c "$JAR" -b "$JAR" --data-urlencode "user_code=$USER_CODE" \
  --data-urlencode "csrf_token=$T" "$B/device" >"$WORK/consent"
T=$(csrf <"$WORK/consent")
# The Approve button sends back the binding the consent page carries.
curl -sS -o /dev/null -w '%{http_code}\n' -c "$JAR" -b "$JAR" \
  --data-urlencode "user_code=$(field user_code <"$WORK/consent")" \
  --data-urlencode "request=$(field request <"$WORK/consent")" \
  --data-urlencode "consent=$(field consent <"$WORK/consent")" \
  --data-urlencode decision=approve --data-urlencode "csrf_token=$T" "$B/device/consent" | has 200

# 3. The device's next poll gets its tokens; the access token checks out.
sleep 1.2
TOKENS=$(curl "${POLL[@]}" "$B/oauth/token")
ACCESS=$(printf '%s' "$TOKENS" | json access_token)
case "$ACCESS" in v4.public.*) ;; *) echo "no token: $TOKENS"; exit 1;; esac
curl -sS -H "Authorization: Bearer $ACCESS" "$B/oauth/tokeninfo" | has '"active":true'
run token verify "$ACCESS" --data-dir "$WORK/data" | has 'valid: signature ok'
run user list --data-dir "$WORK/data" | has '^admin'
curl -sS "$B/metrics" | has 'authgate_tokens_total{kind="issued"} 1'
echo "device flow OK on aarch64"

# 4. SIGTERM: drains and exits 0.
kill -TERM "$SERVER_PID"
set +e
wait "$SERVER_PID"
STATUS=$?
set -e
SERVER_PID=""
[ "$STATUS" -eq 0 ] || { cat "$WORK/err"; echo "exit status $STATUS"; exit 1; }
echo "aarch64 binary: started, served a device flow, stopped cleanly (exit 0)"
