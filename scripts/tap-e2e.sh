#!/usr/bin/env bash
# End-to-end over a real embedded network stack: the firmware's embassy transport
# (authgate_device::embassy over embassy-net, in firmware-examples/tap-runner) talks
# to the real `authgate` server through a TAP device inside a network namespace this
# script creates and always deletes.
#
#   1. device flow: the runner prints a user code; the admin logs in through the
#      pages with a cookie jar and approves it; the runner gets tokens, saves them,
#      and refreshes them at once;
#   2. "reboot": a second run resumes from the saved tokens and refreshes again
#      without a new code;
#   3. lost answers (issue 15): a new device whose runner cuts off answers after the
#      server sent them (--drop-response, firmware-examples/tap-runner/src/lossy.rs):
#      the device authorization, the redeeming poll and its retry, the refresh. It
#      must end signed in, and a "reboot" after it refreshes the one live family.
#
# Needs root and /dev/net/tun. Installs iproute2 and curl if missing.
# Env: TAP_E2E_TIMEOUT (seconds per phase, default 120), CARGO_TARGET_DIR (the
# workspace's, for the server build), TAP_E2E_KEEP=1 keeps the work directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
phase_timeout="${TAP_E2E_TIMEOUT:-120}"
ns="authgate-e2e-$$"
net=192.168.69
password="tap-e2e-$$-$RANDOM"

log() { printf 'tap-e2e: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TAP devices)"
[ -c /dev/net/tun ] || die "needs /dev/net/tun"

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work="$(mktemp -d -t tap-e2e.XXXXXX)"
server_pid=""
runner_pid=""
cleanup() {
    local status=$?
    [ -n "$runner_pid" ] && kill "$runner_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    # Background jobs started through a shell function are subshells: kill whatever
    # still runs inside the namespace itself, so no server outlives the test.
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    if [ "$status" -ne 0 ]; then
        for f in "$work"/*.log; do
            [ -f "$f" ] && { log "---- $(basename "$f")"; tail -n 40 "$f" >&2; }
        done
    fi
    if [ "${TAP_E2E_KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building authgate (workspace) and the TAP runner"
server_target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build -p authgate-server --locked 2>&1 || cargo build -p authgate-server 2>&1) | tail -n 3 >&2
server_bin="$server_target/debug/authgate"
[ -x "$server_bin" ] || die "no server binary at $server_bin"
runner_dir="$root/firmware-examples/tap-runner"
(cd "$runner_dir" && env -u CARGO_TARGET_DIR cargo build --release --locked 2>&1 \
    || env -u CARGO_TARGET_DIR cargo build --release 2>&1) | tail -n 3 >&2
runner_bin="$runner_dir/target/release/authgate-tap-runner"
[ -x "$runner_bin" ] || die "no runner binary at $runner_bin"

log "namespace $ns: tap0 with $net.1/24 on the kernel side"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" addr add "$net.1/24" dev tap0
ip -n "$ns" link set tap0 up
in_ns() { ip netns exec "$ns" "$@"; }

# wait_for FILE REGEX PID: prints the first line of FILE matching REGEX, within the
# phase timeout; fails early if PID has exited.
wait_for() {
    local file=$1 regex=$2 pid=$3 deadline=$((SECONDS + phase_timeout)) line
    while [ $SECONDS -lt $deadline ]; do
        line="$(grep -m1 -E "$regex" "$file" 2>/dev/null || true)"
        if [ -n "$line" ]; then printf '%s\n' "$line"; return 0; fi
        kill -0 "$pid" 2>/dev/null || die "process $pid exited before printing /$regex/ in $(basename "$file")"
        sleep 0.2
    done
    die "timed out after ${phase_timeout}s waiting for /$regex/ in $(basename "$file")"
}

log "starting authgate inside the namespace"
AUTHGATE_ADMIN_PASSWORD="$password" in_ns "$server_bin" serve --listen "$net.1:0" \
    --data-dir "$work/data" --poll-interval 1 >"$work/server.log" 2>&1 &
server_pid=$!
url="$(wait_for "$work/server.log" '^listening on http://' "$server_pid" | sed 's/^listening on //')"
log "server at $url"

run_runner() { # LOGFILE: starts the runner in the background, sets runner_pid
    in_ns timeout "$phase_timeout" "$runner_bin" --tap tap0 --address "$net.2/24" --gateway "$net.1" \
        --server "$url" --client-id authgate-cli --state "$work/tokens.bin" \
        --timeout "$phase_timeout" >"$1" 2>&1 &
    runner_pid=$!
}
finish_runner() { # LOGFILE
    local status=0
    wait "$runner_pid" || status=$?
    runner_pid=""
    [ "$status" -eq 0 ] || die "runner exited with $status (see $(basename "$1"))"
}

log "phase 1: device flow over the TAP device"
run_runner "$work/runner1.log"
code="$(wait_for "$work/runner1.log" '^user_code=' "$runner_pid" | cut -d= -f2)"
log "device shows user code $code"

jar="$work/cookies.txt"
page() { in_ns curl -sS --max-time 10 -c "$jar" -b "$jar" "$@"; }
csrf_of() { field_of "$1" csrf_token; }
# The value of the hidden input NAME in a page (askama writes `=` as `&#x3D;`).
field_of() { grep -o "name=\"$2\" value=\"[^\"]*\"" "$1" | head -n1 | sed 's/.*value="\([^"]*\)"/\1/; s/&#x3D;/=/g'; }

page -o "$work/login.html" "$url/login?next=/device"
csrf="$(csrf_of "$work/login.html")"
[ -n "$csrf" ] || die "login page has no csrf_token"
status="$(page -o "$work/login-post.html" -w '%{http_code}' \
    --data-urlencode username=admin --data-urlencode "password=$password" \
    --data-urlencode "csrf_token=$csrf" --data-urlencode next=/device "$url/login")"
[ "$status" = 303 ] || die "POST /login answered $status, expected 303"

status="$(page -o "$work/consent.html" -w '%{http_code}' -G --data-urlencode "user_code=$code" "$url/device")"
[ "$status" = 200 ] || die "GET /device?user_code= answered $status, expected 200"
grep -q 'name="decision"' "$work/consent.html" || die "no consent form for $code"
csrf="$(csrf_of "$work/consent.html")"
# The Approve button sends back the binding the consent page carries.
status="$(page -o "$work/consent-post.html" -w '%{http_code}' \
    --data-urlencode "user_code=$(field_of "$work/consent.html" user_code)" \
    --data-urlencode "request=$(field_of "$work/consent.html" request)" \
    --data-urlencode "consent=$(field_of "$work/consent.html" consent)" \
    --data-urlencode decision=approve --data-urlencode "csrf_token=$csrf" "$url/device/consent")"
[ "$status" = 200 ] || die "POST /device/consent answered $status, expected 200"
log "approved $code as admin"

authorized="$(wait_for "$work/runner1.log" '^authorized token_tail=' "$runner_pid")"
refreshed="$(wait_for "$work/runner1.log" '^refreshed token_tail=' "$runner_pid")"
finish_runner "$work/runner1.log"
tail1="$(sed 's/.*token_tail=\([^ ]*\).*/\1/' <<<"$authorized")"
tail2="$(sed 's/.*token_tail=\([^ ]*\).*/\1/' <<<"$refreshed")"
[ "$tail1" != "$tail2" ] || die "refresh returned the same access token"
[ -s "$work/tokens.bin" ] || die "runner saved no tokens"
log "phase 1 ok: authorized, then refreshed to a new access token"

log "phase 2: reboot: resume from saved tokens and refresh"
run_runner "$work/runner2.log"
wait_for "$work/runner2.log" '^refreshed token_tail=' "$runner_pid" >/dev/null
finish_runner "$work/runner2.log"
grep -q '^resuming from' "$work/runner2.log" || die "second run did not resume from the saved tokens"
if grep -q '^user_code=' "$work/runner2.log"; then die "second run asked for a new code"; fi
log "phase 2 ok: resumed and refreshed without a new code"

log "phase 3: lost answers: device authorization, redeeming poll (twice), refresh"
# 200 answers in order: 1 device authorization (lost), 2 its retry, 3 the redeeming
# poll (lost), 4 its retry (lost), 5 the next retry, 6 the refresh (lost), 7 its retry.
lossy_runner() { # LOGFILE DROP: like run_runner, new state file, cutting DROP answers
    in_ns timeout "$phase_timeout" "$runner_bin" --tap tap0 --address "$net.2/24" --gateway "$net.1" \
        --server "$url" --client-id authgate-cli --state "$work/tokens3.bin" \
        --timeout "$phase_timeout" --drop-response "$2" >"$1" 2>&1 &
    runner_pid=$!
}
lossy_runner "$work/runner3.log" 1,3,4,6
code="$(wait_for "$work/runner3.log" '^user_code=' "$runner_pid" | cut -d= -f2)"
approve_code() { # USER_CODE: the admin approves it through the consent page
    status="$(page -o "$work/consent.html" -w '%{http_code}' -G --data-urlencode "user_code=$1" "$url/device")"
    [ "$status" = 200 ] || die "GET /device?user_code= answered $status, expected 200"
    csrf="$(csrf_of "$work/consent.html")"
    status="$(page -o "$work/consent-post.html" -w '%{http_code}' \
        --data-urlencode "user_code=$(field_of "$work/consent.html" user_code)" \
        --data-urlencode "request=$(field_of "$work/consent.html" request)" \
        --data-urlencode "consent=$(field_of "$work/consent.html" consent)" \
        --data-urlencode decision=approve --data-urlencode "csrf_token=$csrf" "$url/device/consent")"
    [ "$status" = 200 ] || die "POST /device/consent answered $status, expected 200"
}
approve_code "$code"
log "approved $code; the runner loses the answers it is told to"
wait_for "$work/runner3.log" '^refreshed token_tail=' "$runner_pid" >/dev/null
finish_runner "$work/runner3.log"
dropped="$(grep -c '^lossy: dropped answer' "$work/runner3.log" || true)"
[ "$dropped" = 4 ] || die "expected 4 answers cut off, saw $dropped"
[ "$(grep -c '^user_code=' "$work/runner3.log")" = 1 ] || die "a lost answer made the device show a second code"
if grep -q '^tokens discarded' "$work/runner3.log"; then die "a lost answer cost the tokens"; fi
log "phase 3 ok: 4 answers lost, signed in with one approval and refreshed"

log "phase 4: reboot after the lost answers: the family is alive"
in_ns timeout "$phase_timeout" "$runner_bin" --tap tap0 --address "$net.2/24" --gateway "$net.1" \
    --server "$url" --client-id authgate-cli --state "$work/tokens3.bin" \
    --timeout "$phase_timeout" >"$work/runner4.log" 2>&1 &
runner_pid=$!
wait_for "$work/runner4.log" '^refreshed token_tail=' "$runner_pid" >/dev/null
finish_runner "$work/runner4.log"
audit="$("$server_bin" audit --json --data-dir "$work/data" 2>&1)" || die "audit: $audit"
grep -q '"device_code_retry"' <<<"$audit" || die "no device_code_retry in the audit log"
grep -q '"refresh_retry"' <<<"$audit" || die "no refresh_retry in the audit log"
if grep -q '"refresh_reuse"\|"device_code_replay"' <<<"$audit"; then die "a retry was taken for reuse"; fi
log "phase 4 ok: resumed and refreshed; the audit log shows the retries, no reuse"

log "PASS"
echo "1 passed, 0 failed"
