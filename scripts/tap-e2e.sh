#!/usr/bin/env bash
# End-to-end over a real embedded network stack: the firmware's embassy transport
# (authgate_device::embassy over embassy-net, in firmware-examples/tap-runner) talks
# to the real `authgate` server through a TAP device inside a network namespace this
# script creates and always deletes. As on a board, the runner gets its address by
# DHCP and finds the server by a DNS name (`authgate.test`), both from a dnsmasq run
# inside the namespace on tap0 only; it signs DPoP proofs with a key kept in its
# state file (the boards' flash record). Phases:
#
#   plain HTTP (http://authgate.test:8080)
#   1. device flow, DPoP-bound: the runner prints its key's thumbprint and a user
#      code; the admin logs in through the pages with a cookie jar and approves it;
#      the runner gets tokens, saves them, and refreshes them at once; after each,
#      tokeninfo refuses the bare bearer token (401) and accepts the runner's DPoP
#      request (200) with `cnf.jkt` equal to the runner's thumbprint;
#   2. stolen tokens: a copy of the state file used with another key: the bound
#      refresh is refused (invalid_grant) and nothing is rotated;
#   3. "reboot": the runner resumes from the state file with the same key and
#      refreshes (still bound) without a new code;
#   6. lost answers (issue 15): a new device whose runner cuts off answers after the
#      server sent them (--drop-response, firmware-examples/tap-runner/src/lossy.rs):
#      the device authorization, the redeeming poll and its retry, the refresh. It
#      must end signed in with one code shown, through the server's retry window;
#   7. a "reboot" after it refreshes the one live family; the audit log shows the
#      retries and no reuse;
#   HTTPS (https://authgate.test:8443, the server with a certificate from a test CA)
#   6. pinned to another CA, the runner refuses the server's certificate and gets
#      no code;
#   7. device flow over TLS with the test CA pinned, DPoP-bound as in 1;
#   the limits of embedded-tls's certificate check, so a change shows up here (the
#   server swaps certificates on SIGHUP):
#   8. a certificate from the pinned CA naming the host only in its SAN (CN is
#      another name) is refused: the host name is compared with the CN only;
#   9. an expired certificate (valid 2020-01-01 to 2020-01-02) from the pinned CA is
#      accepted: validity dates are not checked;
#   10. a chain whose leaf (CN authgate.test) is signed by another host's end-entity
#      certificate (CA:FALSE, no keyCertSign) from the pinned CA is accepted (OpenSSL
#      refuses it): basicConstraints and key usage are not checked, so the pinned CA
#      must sign nothing but this server's certificates.
#
# Needs root and /dev/net/tun. Installs iproute2, curl, dnsmasq-base and openssl if
# missing. Env: TAP_E2E_TIMEOUT (seconds per phase, default 120), CARGO_TARGET_DIR
# (the workspace's, for the server build), TAP_E2E_KEEP=1 keeps the work directory,
# TAP_E2E_STATIC=1 gives the runner a static address (and dnsmasq as DNS server)
# instead of DHCP, for debugging.
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
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work="$(mktemp -d -t tap-e2e.XXXXXX)"
server_pid=""
runner_pid=""
dnsmasq_pid=""
cleanup() {
    local status=$?
    [ -n "$runner_pid" ] && kill "$runner_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    [ -n "$dnsmasq_pid" ] && kill "$dnsmasq_pid" 2>/dev/null || true
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

log "building authgate (workspace) and the TAP runner (feature tls: one build for http and https)"
server_target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build -p authgate-server --locked 2>&1 || cargo build -p authgate-server 2>&1) | tail -n 3 >&2
server_bin="$server_target/debug/authgate"
[ -x "$server_bin" ] || die "no server binary at $server_bin"
runner_dir="$root/firmware-examples/tap-runner"
(cd "$runner_dir" && env -u CARGO_TARGET_DIR cargo build --release --features tls --locked 2>&1 \
    || env -u CARGO_TARGET_DIR cargo build --release --features tls 2>&1) | tail -n 3 >&2
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

name=authgate.test
log "dnsmasq on tap0: DHCP $net.50-99, DNS $name -> $net.1"
ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --interface=tap0 --bind-interfaces --listen-address="$net.1" --user=root \
    --dhcp-range="$net.50,$net.99,255.255.255.0,10m" --dhcp-authoritative \
    --dhcp-option=option:router,"$net.1" --dhcp-option=option:dns-server,"$net.1" \
    --address="/$name/$net.1" --dhcp-leasefile="$work/dnsmasq.leases" \
    --pid-file="$work/dnsmasq.pid" --log-facility="$work/dnsmasq.log" --log-dhcp --log-queries \
    >"$work/dnsmasq-stdout.log" 2>&1 &
dnsmasq_pid=$!
wait_for "$work/dnsmasq.log" 'DHCP, IP range' "$dnsmasq_pid" >/dev/null

log "test CA, server certificate (CN and SAN $name), and another CA"
certs="$work/certs"
mkdir -p "$certs"
ossl() { openssl "$@" 2>>"$work/openssl.log" >&2 || die "openssl $1 failed (see openssl.log)"; }
for ca in ca rogue-ca; do
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$certs/$ca.key" -out "$certs/$ca.pem" -days 2 -subj "/CN=AuthGate tap-e2e $ca" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    ossl x509 -in "$certs/$ca.pem" -outform der -out "$certs/$ca.der"
done
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$certs/server.key" \
    -out "$certs/server.csr" -subj "/CN=$name"
printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
    "$name" >"$certs/server.ext"
ossl x509 -req -in "$certs/server.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" -CAcreateserial \
    -days 2 -extfile "$certs/server.ext" -out "$certs/server.pem"
# Same key, CN another name, SAN the host (phase 6).
ossl req -new -key "$certs/server.key" -subj "/CN=other.test" -out "$certs/san-only.csr"
ossl x509 -req -in "$certs/san-only.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" -CAcreateserial \
    -days 2 -extfile "$certs/server.ext" -out "$certs/san-only.pem"
# Same key and names, expired long ago (phase 7): `openssl ca` sets explicit dates.
printf '[ca]\ndefault_ca = test\n[test]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n' \
    "$certs" "$certs" "$certs" >"$certs/ca.cnf"
: >"$certs/index.txt"
echo 1000 >"$certs/serial"
ossl ca -batch -notext -config "$certs/ca.cnf" -cert "$certs/ca.pem" -keyfile "$certs/ca.key" \
    -in "$certs/server.csr" -startdate 20200101000000Z -enddate 20200102000000Z \
    -extfile "$certs/server.ext" -out "$certs/expired.pem"
# Another host's end-entity certificate from the CA, and a certificate for $name that
# it signs (phase 8); the server sends both.
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$certs/other.key" \
    -out "$certs/other.csr" -subj "/CN=other.test"
sed 's/^subjectAltName=.*/subjectAltName=DNS:other.test/' "$certs/server.ext" >"$certs/other.ext"
ossl x509 -req -in "$certs/other.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" -CAcreateserial \
    -days 2 -extfile "$certs/other.ext" -out "$certs/other.pem"
ossl x509 -req -in "$certs/server.csr" -CA "$certs/other.pem" -CAkey "$certs/other.key" \
    -CAcreateserial -days 2 -extfile "$certs/server.ext" -out "$certs/forged.pem"
cat "$certs/forged.pem" "$certs/other.pem" >"$certs/forged-chain.pem"
if openssl verify -CAfile "$certs/ca.pem" -untrusted "$certs/other.pem" "$certs/forged.pem" >/dev/null 2>&1; then
    die "OpenSSL accepts the forged chain: phase 8 would prove nothing"
fi
cp "$certs/server.pem" "$certs/live.pem"

# start_server PORT SCHEME [ARGS...]: the server inside the namespace on $net.1:PORT
# with the public URL SCHEME://$name:PORT and its own data directory; sets server_pid
# and url. `ip netns exec` execs the server, so server_pid is the server itself.
start_server() {
    local port=$1 scheme=$2; shift 2
    AUTHGATE_ADMIN_PASSWORD="$password" ip netns exec "$ns" "$server_bin" serve \
        --listen "$net.1:$port" --base-url "$scheme://$name:$port" \
        --data-dir "$work/data-$scheme" --poll-interval 1 "$@" >"$work/server-$scheme.log" 2>&1 &
    server_pid=$!
    wait_for "$work/server-$scheme.log" '^listening on ' "$server_pid" >/dev/null
    url="$scheme://$name:$port"
    curl_tls=(--resolve "$name:$port:$net.1")
    [ "$scheme" = https ] && curl_tls+=(--cacert "$certs/ca.pem")
    log "server at $url"
}
stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

if [ "${TAP_E2E_STATIC:-0}" = 1 ]; then
    net_args=(--address "$net.2/24" --gateway "$net.1" --dns "$net.1")
    expect_up='\(static\)'
else
    net_args=()
    expect_up="up as $net\.(5[0-9]|[6-9][0-9])/24 \\(dhcp\\), dns \\[$net\.1\\]"
fi
# run_runner LOGFILE STATEFILE [ARGS...]: starts the runner in the background, sets
# runner_pid (`ip netns exec` execs `timeout`, which passes a kill on to the runner).
run_runner() {
    local logfile=$1 statefile=$2; shift 2
    ip netns exec "$ns" timeout "$phase_timeout" "$runner_bin" --tap tap0 "${net_args[@]}" \
        --server "$url" --client-id authgate-cli --state "$statefile" \
        --timeout "$phase_timeout" "$@" >"$logfile" 2>&1 &
    runner_pid=$!
}
finish_runner() { # LOGFILE [EXPECTED_STATUS]
    local status=0
    wait "$runner_pid" || status=$?
    runner_pid=""
    [ "$status" -eq "${2:-0}" ] || die "runner exited with $status, expected ${2:-0} (see $(basename "$1"))"
}

jar="$work/cookies.txt"
page() { in_ns curl -sS --max-time 10 "${curl_tls[@]}" -c "$jar" -b "$jar" "$@"; }
csrf_of() { field_of "$1" csrf_token; }
# The value of the hidden input NAME in a page (askama writes `=` as `&#x3D;`).
field_of() { grep -o "name=\"$2\" value=\"[^\"]*\"" "$1" | head -n1 | sed 's/.*value="\([^"]*\)"/\1/; s/&#x3D;/=/g'; }

approve() { # CODE: logs in as admin through the pages and approves CODE
    local code=$1 status csrf
    rm -f "$jar"
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
}

tail_of() { sed 's/.*token_tail=\([^ ]*\).*/\1/' <<<"$1"; }
jkt_of() { grep -m1 '^dpop_jkt=' "$1" | cut -d= -f2; }
# check_bound LOGFILE JKT COUNT: COUNT tokens were checked at tokeninfo: the bare
# bearer token refused, the DPoP request accepted, token_type DPoP and bound to JKT.
check_bound() {
    local file=$1 jkt=$2 count=$3 n
    n="$(grep -c '^tokeninfo bearer -> 401$' "$file" || true)"
    [ "$n" = "$count" ] || die "tokeninfo refused the bare bearer token $n times, expected $count ($(basename "$file"))"
    n="$(grep '^tokeninfo dpop -> 200 ' "$file" | grep '"token_type":"DPoP"' \
        | grep -c "\"cnf\":{\"jkt\":\"$jkt\"}" || true)"
    [ "$n" = "$count" ] || die "tokeninfo showed cnf.jkt=$jkt for $n DPoP requests, expected $count ($(basename "$file"))"
}
# device_flow LOGFILE STATEFILE [ARGS...]: a whole DPoP-bound flow with approval and
# one refresh; sets flow_jkt to the runner's thumbprint.
device_flow() {
    local logfile=$1 statefile=$2; shift 2
    run_runner "$logfile" "$statefile" "$@"
    local code authorized refreshed
    code="$(wait_for "$logfile" '^user_code=' "$runner_pid" | cut -d= -f2)"
    log "device shows user code $code"
    approve "$code"
    authorized="$(wait_for "$logfile" '^authorized token_tail=' "$runner_pid")"
    refreshed="$(wait_for "$logfile" '^refreshed token_tail=' "$runner_pid")"
    finish_runner "$logfile"
    grep -qE "$expect_up" "$logfile" || die "runner did not come up as expected (/$expect_up/)"
    [ "$(tail_of "$authorized")" != "$(tail_of "$refreshed")" ] || die "refresh returned the same access token"
    [ -s "$statefile" ] || die "runner saved nothing"
    flow_jkt="$(jkt_of "$logfile")"
    [ ${#flow_jkt} = 43 ] || die "no dpop_jkt in $(basename "$logfile")"
    check_bound "$logfile" "$flow_jkt" 2
}

# use_cert PEM: the server serves PEM from its next handshake on (SIGHUP reload).
use_cert() {
    local before
    before="$(grep -c 'TLS certificate reloaded' "$work/server-https.log" || true)"
    cp "$1" "$certs/live.pem"
    kill -HUP "$server_pid"
    local deadline=$((SECONDS + 10))
    until [ "$(grep -c 'TLS certificate reloaded' "$work/server-https.log" || true)" -gt "$before" ]; do
        [ $SECONDS -lt $deadline ] || die "the server did not reload $(basename "$1")"
        sleep 0.1
    done
}
# stop_runner: ends a runner that is still waiting.
stop_runner() {
    kill "$runner_pid" 2>/dev/null || true
    wait "$runner_pid" 2>/dev/null || true
    runner_pid=""
}

start_server 8080 http

log "phase 1: DPoP-bound device flow over the TAP device (DHCP, $name by DNS)"
state="$work/state.bin"
device_flow "$work/runner1.log" "$state"
jkt=$flow_jkt
grep -q '^new DPoP key saved' "$work/runner1.log" || die "first run made no key"
log "phase 1 ok: key $jkt; authorized and refreshed; both tokens bound to it (bearer refused, DPoP accepted)"

log "phase 2: stolen tokens: the state file's tokens with another key"
cp "$state" "$work/stolen.bin"
run_runner "$work/runner2.log" "$work/stolen.bin" --new-key
finish_runner "$work/runner2.log" 4
grep -q '^Refresh -> 400 Some(Server(OAuthError { code: InvalidGrant' "$work/runner2.log" \
    || die "the bound refresh with another key was not refused with invalid_grant"
if grep -q '^refreshed' "$work/runner2.log"; then die "the thief got a refresh"; fi
[ "$(jkt_of "$work/runner2.log")" != "$jkt" ] || die "the thief signed with the device's key"
cmp -s "$state" "$work/stolen.bin" || die "--new-key wrote the state file"
log "phase 2 ok: refresh with another key refused (invalid_grant)"

log "phase 3: reboot: resume with the saved key and tokens, refresh"
run_runner "$work/runner3.log" "$state"
wait_for "$work/runner3.log" '^refreshed token_tail=' "$runner_pid" >/dev/null
finish_runner "$work/runner3.log"
grep -q '^resuming from' "$work/runner3.log" || die "third run did not resume from the saved tokens"
if grep -q '^user_code=' "$work/runner3.log"; then die "third run asked for a new code"; fi
if grep -q '^new DPoP key' "$work/runner3.log"; then die "third run made a new key"; fi
[ "$(jkt_of "$work/runner3.log")" = "$jkt" ] || die "third run signed with another key"
check_bound "$work/runner3.log" "$jkt" 1
log "phase 3 ok: resumed with key $jkt and refreshed (still bound) without a new code"

log "phase 4: lost answers: device authorization, redeeming poll (twice), refresh"
# The 200 answers in order: 1 device authorization (lost), 2 its retry, 3 the
# redeeming poll (lost), 4 its retry (lost), 5 the next retry, 6 tokeninfo with the
# DPoP proof, 7 the refresh (lost), 8 its retry, 9 tokeninfo. The first proof after a
# start is refused once for the device's clock (400) and pending polls are 400: not
# counted.
lossy_state="$work/state-lossy.bin"
run_runner "$work/runner-lossy.log" "$lossy_state" --drop-response 1,3,4,7
code="$(wait_for "$work/runner-lossy.log" '^user_code=' "$runner_pid" | cut -d= -f2)"
approve "$code"
wait_for "$work/runner-lossy.log" '^refreshed token_tail=' "$runner_pid" >/dev/null
finish_runner "$work/runner-lossy.log"
dropped="$(grep -c '^lossy: dropped answer' "$work/runner-lossy.log" || true)"
[ "$dropped" = 4 ] || die "expected 4 answers cut off, saw $dropped"
[ "$(grep -c '^user_code=' "$work/runner-lossy.log")" = 1 ] || die "a lost answer made the device show a second code"
if grep -q '^tokens discarded' "$work/runner-lossy.log"; then die "a lost answer cost the tokens"; fi
check_bound "$work/runner-lossy.log" "$(jkt_of "$work/runner-lossy.log")" 2
log "phase 4 ok: 4 answers lost, signed in with one approval and refreshed, still bound"

log "phase 5: reboot after the lost answers: the family is alive"
run_runner "$work/runner-lossy2.log" "$lossy_state"
wait_for "$work/runner-lossy2.log" '^refreshed token_tail=' "$runner_pid" >/dev/null
finish_runner "$work/runner-lossy2.log"
if grep -q '^user_code=' "$work/runner-lossy2.log"; then die "the reboot asked for a new code"; fi
check_bound "$work/runner-lossy2.log" "$(jkt_of "$work/runner-lossy.log")" 1
audit="$("$server_bin" audit --json --data-dir "$work/data-http" 2>&1)" || die "audit: $audit"
grep -q '"device_code_retry"' <<<"$audit" || die "no device_code_retry in the audit log"
grep -q '"refresh_retry"' <<<"$audit" || die "no refresh_retry in the audit log"
if grep -q '"refresh_reuse"\|"device_code_replay"' <<<"$audit"; then die "a retry was taken for reuse"; fi
log "phase 5 ok: resumed and refreshed; the audit log shows the retries, no reuse"
stop_server

start_server 8443 https --tls-cert "$certs/live.pem" --tls-key "$certs/server.key"

log "phase 6: TLS with another CA pinned: the server's certificate is refused"
run_runner "$work/runner4.log" "$work/rogue.bin" --ca "$certs/rogue-ca.der"
wait_for "$work/runner4.log" 'DeviceAuthorization: no answer \(Http\(Tls\(' "$runner_pid" >/dev/null
stop_runner
if grep -q '^user_code=' "$work/runner4.log"; then die "the runner accepted a certificate from another CA"; fi
log "phase 6 ok: $(grep -m1 -o 'no answer (Http(Tls([^)]*)))' "$work/runner4.log")"

log "phase 7: DPoP-bound device flow over TLS, test CA pinned"
device_flow "$work/runner5.log" "$work/state-tls.bin" --ca "$certs/ca.der"
log "phase 7 ok: over TLS, key $flow_jkt; authorized and refreshed; both tokens bound"

log "phase 8: a certificate naming $name only in its SAN (CN=other.test) is refused"
use_cert "$certs/san-only.pem"
run_runner "$work/runner6.log" "$work/state-san.bin" --ca "$certs/ca.der"
wait_for "$work/runner6.log" 'DeviceAuthorization: no answer \(Http\(Tls\(' "$runner_pid" >/dev/null
stop_runner
if grep -q '^user_code=' "$work/runner6.log"; then die "embedded-tls accepted a SAN-only certificate: update firmware-examples/README.md"; fi
log "phase 8 ok: $(grep -m1 -o 'no answer (Http(Tls([^)]*)))' "$work/runner6.log")"

log "phase 9: an expired certificate from the pinned CA is accepted (no clock on the device)"
use_cert "$certs/expired.pem"
run_runner "$work/runner7.log" "$work/state-expired.bin" --ca "$certs/ca.der"
wait_for "$work/runner7.log" '^user_code=' "$runner_pid" >/dev/null
stop_runner
log "phase 9 ok: got a code over TLS with a certificate that expired in 2020"

log "phase 10: a leaf signed by another host's end-entity certificate is accepted"
use_cert "$certs/forged-chain.pem"
run_runner "$work/runner8.log" "$work/state-forged.bin" --ca "$certs/ca.der"
wait_for "$work/runner8.log" '^user_code=' "$runner_pid" >/dev/null
stop_runner
log "phase 10 ok: got a code over TLS through a chain OpenSSL refuses (pin a dedicated CA)"

log "PASS"
echo "10 passed, 0 failed"
