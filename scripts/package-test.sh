#!/usr/bin/env bash
# Tests AuthGate's packages (scripts/package.sh builds them):
#  - the x86_64 and aarch64 binaries are static (musl);
#  - `--version` names the release, the commit and the build date, and build.rs
#    says `unknown` for the commit when git is absent;
#  - the amd64 .deb installs with dpkg into a throwaway root (dpkg --root, the
#    maintainer scripts run chrootless with DPKG_ROOT): system user, data directory,
#    configuration group and modes, enabled unit; then a first start of the installed
#    binary with the installed configuration, as the authgate user inside that root
#    (chroot): /health answers 200, SIGTERM exits 0; an edited conffile survives a
#    reinstall; remove keeps configuration and data, purge deletes them;
#  - the aarch64 binary from the arm64 .deb runs a whole device flow under qemu-user
#    (scripts/aarch64-e2e.sh);
#  - the Dockerfile (FROM scratch) is carried out by hand, as no container engine
#    runs here: its files in an otherwise empty root, its ENV, USER, ENTRYPOINT and
#    CMD; the server starts there and /health answers 200.
# Needs root (dpkg --root, chroot).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "package-test: $*" >&2; exit 1; }
# `grep -q` for a pipe: reads all its input, so the writer never dies of SIGPIPE
# (which pipefail would report as a failure).
has() { grep "$@" >/dev/null; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
command -v curl >/dev/null || { as_root apt-get update -qq; as_root apt-get install -y -qq curl; }

T0=$SECONDS
WORK=$(mktemp -d)
chmod 0755 "$WORK"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

step "build.rs: the commit from this repository, else \`unknown\`"
rustc --edition 2024 -o "$WORK/build-script" server/build.rs 2>&1
commit_of() { grep '^cargo:rustc-env=AUTHGATE_GIT_COMMIT=' | cut -d= -f3; }
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
  [ "$(CARGO_MANIFEST_DIR="$PWD/server" "$WORK/build-script" | commit_of)" = "$(git rev-parse --short=12 HEAD)" ] \
    || fail "build.rs does not name HEAD"
fi
# No git at all, in this repository.
env -i PATH=/nonexistent CARGO_MANIFEST_DIR="$PWD/server" "$WORK/build-script" >"$WORK/stamp"
grep -qx 'cargo:rustc-env=AUTHGATE_GIT_COMMIT=unknown' "$WORK/stamp" || { cat "$WORK/stamp"; fail "commit not unknown without git"; }
# A source tarball unpacked inside another repository.
if command -v git >/dev/null; then
  mkdir -p "$WORK/outer/authgate-src/server"
  git -C "$WORK/outer" init -q && git -C "$WORK/outer" -c user.name=t -c user.email=t@t.invalid commit -q --allow-empty -m x
  [ "$(CARGO_MANIFEST_DIR="$WORK/outer/authgate-src/server" "$WORK/build-script" | commit_of)" = unknown ] \
    || fail "build.rs took a foreign repository's commit"
  rm -rf "$WORK/outer"
fi
grep -Eqx 'cargo:rustc-env=AUTHGATE_BUILD_DATE=[0-9]{4}-[0-9]{2}-[0-9]{2}' "$WORK/stamp" || fail "no build date"
(cd "$WORK" && SOURCE_DATE_EPOCH=1700000000 "$WORK/build-script") | has -x 'cargo:rustc-env=AUTHGATE_BUILD_DATE=2023-11-14' \
  || fail "SOURCE_DATE_EPOCH not honoured"
rm -f "$WORK/build-script" "$WORK/stamp"
echo "ok"

step "scripts/package.sh"
t=$SECONDS
scripts/package.sh
echo "package.sh took $((SECONDS - t)) s"

PKG="$PWD/target/package"
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
DEB_AMD64="$PKG/authgate_${VERSION}-1_amd64.deb"
DEB_ARM64="$PKG/authgate_${VERSION}-1_arm64.deb"

step "static binaries"
for b in "$PKG/authgate-$VERSION-x86_64-linux-musl" "$PKG/authgate-$VERSION-aarch64-linux-musl"; do
  file "$b"
  file "$b" | has -E 'statically linked|static-pie linked' || fail "$b is not static"
done
file "$PKG/authgate-$VERSION-aarch64-linux-musl" | has 'ARM aarch64' || fail "not aarch64"
ldd "$PKG/authgate-$VERSION-x86_64-linux-musl" 2>&1 | has -E 'statically linked|not a dynamic executable' \
  || fail "ldd finds shared libraries"
V=$("$PKG/authgate-$VERSION-x86_64-linux-musl" --version)
echo "$V"
echo "$V" | has -Ex "authgate $VERSION \(commit ([0-9a-f]{7,}|unknown), built [0-9]{4}-[0-9]{2}-[0-9]{2}\)" \
  || fail "--version: $V"

# Starts "$@" in the background (stdout $WORK/out, stderr $WORK/err) and sets B to
# the address it prints on its `listening on` line.
start_server() {
  # Truncated before the background start, so no earlier run's line is read.
  : >"$WORK/out"
  : >"$WORK/err"
  "$@" >>"$WORK/out" 2>>"$WORK/err" &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    grep -q '^listening on ' "$WORK/out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/err"; fail "server exited: $*"; }
    sleep 0.1
  done
  B=$(sed -n 's/^listening on //p' "$WORK/out" | head -1)
  [ -n "$B" ] || { cat "$WORK/err"; fail "no listening line"; }
}
# SIGTERM; the server must exit 0.
stop_server() {
  kill -TERM "$SERVER_PID"
  local status=0
  wait "$SERVER_PID" || status=$?
  SERVER_PID=""
  [ "$status" -eq 0 ] || { cat "$WORK/err"; fail "exit status $status"; }
}
health_ok() {
  [ "$(curl -sS -o "$WORK/health" -w '%{http_code}' "$B/health")" = 200 ] || fail "/health not 200"
  grep -q '"status"' "$WORK/health" || { cat "$WORK/health"; fail "/health body"; }
}

step "amd64 .deb: contents"
dpkg-deb --info "$DEB_AMD64" | sed -n '/Package:/,$p'
for f in Package=authgate Architecture=amd64 Version="$VERSION-1"; do
  [ "$(dpkg-deb --field "$DEB_AMD64" "${f%%=*}")" = "${f#*=}" ] || fail "control field $f"
done
[ "$(dpkg-deb --field "$DEB_ARM64" Architecture)" = arm64 ] || fail "arm64 package architecture"
dpkg-deb --contents "$DEB_AMD64" | awk '{print $1, $2, $NF}' >"$WORK/contents"
for want in '-rwxr-xr-x root/root ./usr/bin/authgate' \
  '-rw-r--r-- root/root ./usr/lib/systemd/system/authgate.service' \
  '-rw-r--r-- root/root ./usr/lib/sysusers.d/authgate.conf' \
  '-rw-r--r-- root/root ./etc/authgate/authgate.toml' \
  '-rw-r--r-- root/root ./usr/share/doc/authgate/changelog.Debian.gz'; do
  grep -qxF -- "$want" "$WORK/contents" || { cat "$WORK/contents"; fail "missing: $want"; }
done
dpkg-deb --ctrl-tarfile "$DEB_AMD64" | tar -xO ./conffiles | has -x /etc/authgate/authgate.toml || fail "conffile"
# Both packages hold the same files.
diff <(dpkg-deb --contents "$DEB_AMD64" | awk '{print $NF}') <(dpkg-deb --contents "$DEB_ARM64" | awk '{print $NF}') \
  || fail "amd64 and arm64 packages differ in files"

# Debian's policy checker, when this machine has it (128 packages: not installed
# for this test alone).
if command -v lintian >/dev/null; then
  for deb in "$DEB_AMD64" "$DEB_ARM64"; do
    lintian --fail-on error,warning --tag-display-limit 0 "$deb" >"$WORK/lintian" 2>&1 \
      || { cat "$WORK/lintian"; fail "lintian: $deb"; }
  done
  echo "lintian: no errors or warnings"
fi

step "amd64 .deb: install into a throwaway root"
R="$WORK/root"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/log" "$R/etc"
: >"$R/var/lib/dpkg/status"
D=(dpkg --root="$R" --force-script-chrootless)
"${D[@]}" --install "$DEB_AMD64"
"${D[@]}" --status authgate | has -x 'Status: install ok installed' || fail "not installed"
uid=$(awk -F: '$1 == "authgate" { print $3 }' "$R/etc/passwd")
gid=$(awk -F: '$1 == "authgate" { print $3 }' "$R/etc/group")
[ -n "$uid" ] && [ -n "$gid" ] && [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "no system user authgate ($uid:$gid)"
grep -qx "authgate:x:$uid:$gid:[^:]*:/var/lib/authgate:/usr/sbin/nologin" "$R/etc/passwd" || fail "user entry"
[ "$(stat -c '%a %u %g' "$R/var/lib/authgate")" = "700 $uid $gid" ] || fail "data dir: $(stat -c '%a %u %g' "$R/var/lib/authgate")"
[ "$(stat -c '%a %u %g' "$R/etc/authgate")" = "750 0 $gid" ] || fail "/etc/authgate mode"
[ "$(stat -c '%a %u %g' "$R/etc/authgate/authgate.toml")" = "640 0 $gid" ] || fail "config mode"
grep -qx 'ExecStart=/usr/bin/authgate serve --config /etc/authgate/authgate.toml' \
  "$R/usr/lib/systemd/system/authgate.service" || fail "unit ExecStart"
[ "$(readlink "$R/etc/systemd/system/multi-user.target.wants/authgate.service")" = /usr/lib/systemd/system/authgate.service ] \
  || fail "unit not enabled"
echo "installed: user authgate ($uid:$gid), /var/lib/authgate 0700, config 0640 root:authgate, unit enabled"

step "amd64 .deb: first start, as the service runs it (user authgate, packaged config)"
# Inside the root: the static binary needs nothing else there.
AS_SERVICE=(chroot --userspec="$uid:$gid" "$R")
"${AS_SERVICE[@]}" /usr/bin/authgate --version | has "^authgate $VERSION (commit " || fail "installed --version"
"${AS_SERVICE[@]}" /usr/bin/authgate config --config /etc/authgate/authgate.toml >"$WORK/config"
grep -q '^data_dir = "/var/lib/authgate"  # file' "$WORK/config" || { cat "$WORK/config"; fail "packaged config"; }
# The packaged config listens on 127.0.0.1:8080; a free port here.
start_server "${AS_SERVICE[@]}" /usr/bin/authgate serve --config /etc/authgate/authgate.toml --listen 127.0.0.1:0
case "$B" in http://127.0.0.1:*) ;; *) fail "not on loopback: $B" ;; esac
health_ok
grep -q 'admin password (shown once): ' "$WORK/out" || fail "no first-run admin password"
grep -q '^{"timestamp"' "$WORK/err" || fail "packaged config's JSON logs"
stop_server
[ "$(stat -c %u "$R/var/lib/authgate/authgate.redb")" = "$uid" ] || fail "database not the service user's"
"${AS_SERVICE[@]}" /usr/bin/authgate --config /etc/authgate/authgate.toml user list | has '^admin' || fail "admin CLI"
echo "first start OK at $B"

step "amd64 .deb: an edited conffile survives a reinstall; remove, purge"
echo '# edited by the administrator' >>"$R/etc/authgate/authgate.toml"
"${D[@]}" --install "$DEB_AMD64"
grep -qx '# edited by the administrator' "$R/etc/authgate/authgate.toml" || fail "conffile edit lost"
"${D[@]}" --remove authgate
[ ! -e "$R/usr/bin/authgate" ] || fail "binary left after remove"
[ -f "$R/etc/authgate/authgate.toml" ] && [ -f "$R/var/lib/authgate/authgate.redb" ] || fail "remove deleted config or data"
"${D[@]}" --status authgate | has -x 'Status: deinstall ok config-files' || fail "status after remove"
"${D[@]}" --purge authgate
[ ! -e "$R/etc/authgate" ] && [ ! -e "$R/var/lib/authgate" ] || fail "purge left config or data"
! "${D[@]}" --status authgate >/dev/null 2>&1 || fail "still known after purge"
echo "remove kept config and data; purge deleted them"

step "arm64 .deb: its static aarch64 binary runs a device flow under qemu-user"
mkdir "$WORK/arm64"
dpkg-deb --extract "$DEB_ARM64" "$WORK/arm64"
file "$WORK/arm64/usr/bin/authgate" | has 'ARM aarch64, .*statically linked' || fail "arm64 package binary"
t=$SECONDS
AUTHGATE_AARCH64_BIN="$WORK/arm64/usr/bin/authgate" scripts/aarch64-e2e.sh
echo "aarch64 device flow took $((SECONDS - t)) s"

step "Dockerfile (FROM scratch), carried out without a container engine"
[ "$(grep -c '^FROM ' Dockerfile)" = 1 ] && grep -qx 'FROM scratch' Dockerfile || fail "Dockerfile must be FROM scratch only"
IMG="$WORK/image"
mkdir "$IMG"
arch=amd64
envs=(); user=""; entry=(); cmd=()
while read -r op rest; do
  rest=${rest//\$\{TARGETARCH\}/$arch}
  case "$op" in
    COPY)
      chown_to=""
      case "$rest" in --chown=*) chown_to=${rest%% *}; chown_to=${chown_to#--chown=}; rest=${rest#* } ;; esac
      src=${rest% *}; dst=${rest##* }
      [ -e "$src" ] || fail "Dockerfile COPY source missing: $src (scripts/package.sh stages it)"
      case "$src" in target/package/docker/*) ;; *) fail "$src: .dockerignore admits only target/package/docker/" ;; esac
      mkdir -p "$IMG$(dirname "$dst")"
      if [ -d "$src" ]; then mkdir -p "$IMG$dst" && cp -a "$src/." "$IMG$dst"; else cp -a "$src" "$IMG$dst"; fi
      [ -z "$chown_to" ] || chown -R "$chown_to" "$IMG$dst"
      ;;
    ENV) envs+=("$rest") ;;
    USER) user=$rest ;;
    ENTRYPOINT) mapfile -t entry < <(printf '%s' "$rest" | tr -d '[]' | tr ',' '\n' | sed 's/^ *"//; s/" *$//') ;;
    CMD) mapfile -t cmd < <(printf '%s' "$rest" | tr -d '[]' | tr ',' '\n' | sed 's/^ *"//; s/" *$//') ;;
  esac
done < <(grep -E '^(COPY|ENV|USER|ENTRYPOINT|CMD) ' Dockerfile)
[ -n "$user" ] && [ "${user%%:*}" != 0 ] || fail "the image must not run as root"
echo "image files:"; (cd "$IMG" && find . -mindepth 1 | sort | xargs ls -lnd | awk '{print "  " $1, $3 ":" $4, $NF}')
# `docker run -e AUTHGATE_LISTEN=...` on a free loopback port instead of 0.0.0.0:8080.
start_server env -i "${envs[@]}" AUTHGATE_LISTEN=127.0.0.1:0 AUTHGATE_ADMIN_PASSWORD=container-admin-pw \
  "$(command -v chroot)" --userspec="$user" "$IMG" "${entry[@]}" "${cmd[@]}"
health_ok
grep -q '^{"timestamp"' "$WORK/err" || fail "image's JSON logs"
stop_server
[ -f "$IMG/var/lib/authgate/authgate.redb" ] || fail "no database in the image's data volume"
echo "image ran as $user in an empty root: /health 200, SIGTERM exit 0"

step "package tests passed in $((SECONDS - T0)) s"
ls -l "$PKG"/authgate*
