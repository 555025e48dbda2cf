#!/usr/bin/env bash
# Builds AuthGate's release artifacts into ./target/package/:
#   authgate-<version>-x86_64-linux-musl, authgate-<version>-aarch64-linux-musl
#       static binaries (musl; they run on any Linux of their architecture),
#   authgate_<version>-1_amd64.deb, authgate_<version>-1_arm64.deb
#       Debian packages: the static binary, the systemd unit, the system user,
#       /etc/authgate/authgate.toml as a conffile and /var/lib/authgate,
#   docker/  the context files the Dockerfile (FROM scratch) copies.
# Installs what it needs on Debian (musl-tools, the aarch64 cross linker, the rustup
# targets). The packages are assembled with dpkg-deb from deploy/debian/, so nothing
# has to be compiled beyond the two binaries. scripts/package-test.sh tests the result.
# ARCHES="amd64" (or "arm64") builds one architecture only.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
step() { printf '\n==> %s\n' "$*"; }
ARCHES="${ARCHES:-amd64 arm64}"
TDIR="$(mkdir -p "${CARGO_TARGET_DIR:-target}" && cd "${CARGO_TARGET_DIR:-target}" && pwd)"
# Always ./target/package: the Dockerfile's context paths start there.
OUT="$PWD/target/package"

# Debian architecture -> Rust target.
triple() { case "$1" in amd64) echo x86_64-unknown-linux-musl ;; arm64) echo aarch64-unknown-linux-musl ;; esac; }

step "toolchain for static builds"
need=()
command -v musl-gcc >/dev/null || need+=(musl-tools)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v file >/dev/null || need+=(file)
if [ ${#need[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
for arch in $ARCHES; do rustup target add "$(triple "$arch")" >/dev/null; done

# ring compiles C: musl-gcc for x86_64; for aarch64 Debian's cross gcc compiles it and
# links, against the musl libc and start files that Rust's target ships (self-contained).
export CC_x86_64_unknown_linux_musl=musl-gcc
export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc

for arch in $ARCHES; do
  step "static build for $arch (release)"
  start=$SECONDS
  cargo build --locked --release -p authgate-server --bin authgate --target "$(triple "$arch")"
  echo "built in $((SECONDS - start)) s"
done

# The version as the binary reports it (the x86_64 one runs here; else Cargo.toml's).
BIN_AMD64="$TDIR/x86_64-unknown-linux-musl/release/authgate"
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
[ -n "$VERSION" ] || { echo "no version in Cargo.toml" >&2; exit 1; }
DEB_VERSION="$VERSION-1"
MAINTAINER=$(sed -n 's/^Maintainer: //p' deploy/debian/control.in)
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# The commit's date (the build's without git), so the changelog is reproducible.
CHANGELOG_DATE=$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")

rm -rf "$OUT"
mkdir -p "$OUT/docker/data"
chmod 0700 "$OUT/docker/data"
for arch in $ARCHES; do
  bin="$TDIR/$(triple "$arch")/release/authgate"
  file "$bin" | grep -Eq 'statically linked|static-pie linked' || { file "$bin"; echo "$bin is not static" >&2; exit 1; }
  cp "$bin" "$OUT/authgate-$VERSION-$(triple "$arch" | sed 's/-unknown//')"
  cp "$bin" "$OUT/docker/authgate-$arch"

  step "authgate_${DEB_VERSION}_$arch.deb"
  root="$OUT/deb-$arch"
  install -D -m 0755 "$bin" "$root/usr/bin/authgate"
  # The repository's hardened unit, with the packaged binary's path.
  install -d "$root/usr/lib/systemd/system"
  sed 's#/usr/local/bin/authgate#/usr/bin/authgate#' deploy/authgate.service \
    >"$root/usr/lib/systemd/system/authgate.service"
  chmod 0644 "$root/usr/lib/systemd/system/authgate.service"
  install -D -m 0644 deploy/debian/sysusers.conf "$root/usr/lib/sysusers.d/authgate.conf"
  # 0644 as Debian ships conffiles; postinst makes it 0640 root:authgate on install.
  install -D -m 0644 deploy/debian/authgate.toml "$root/etc/authgate/authgate.toml"
  install -D -m 0644 README.md "$root/usr/share/doc/authgate/README.md"
  install -D -m 0644 deploy/debian/copyright "$root/usr/share/doc/authgate/copyright"
  install -D -m 0644 deploy/authgate.toml "$root/usr/share/doc/authgate/examples/authgate-tls.toml"
  install -D -m 0644 deploy/debian/lintian-overrides "$root/usr/share/lintian/overrides/authgate"
  printf 'authgate (%s) unstable; urgency=medium\n\n  * Release %s, commit %s.\n\n -- %s  %s\n' \
    "$DEB_VERSION" "$VERSION" "$COMMIT" "$MAINTAINER" "$CHANGELOG_DATE" \
    | gzip -9n >"$root/usr/share/doc/authgate/changelog.Debian.gz"
  chmod 0644 "$root/usr/share/doc/authgate/changelog.Debian.gz"
  install -d "$root/DEBIAN"
  install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$root/DEBIAN/"
  install -m 0644 deploy/debian/conffiles "$root/DEBIAN/"
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  sed -e "s/@VERSION@/$DEB_VERSION/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    deploy/debian/control.in >"$root/DEBIAN/control"
  # Directories 0755 and files as installed above, whatever the umask.
  find "$root" -type d -exec chmod 0755 {} +
  dpkg-deb --root-owner-group -Zxz --build "$root" "$OUT/authgate_${DEB_VERSION}_$arch.deb" >/dev/null
  rm -rf "$root"
done

[ -x "$BIN_AMD64" ] && "$BIN_AMD64" --version
step "artifacts in $OUT"
(cd "$OUT" && ls -l authgate* && du -b docker/authgate-* | sed 's/^/docker: /')
