#!/usr/bin/env bash
# Issue 16 interop: requests-oauthlib (BackendApplicationClient) gets a token by the
# client credentials grant, and PyJWT verifies that JWT access token (RFC 9068) from
# the server's JWKS alone, against the real binary (tests/tests/grants.rs,
# third_party_libraries_get_a_token_and_verify_the_jwt, driving
# scripts/grants_interop.py).
#
# Installs python3-venv if missing; the venv lives in GRANTS_VENV (default
# /tmp/authgate-grants-venv) and is reused. A few seconds once the packages are cached.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${GRANTS_VENV:-/tmp/authgate-grants-venv}"

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import jwt, requests_oauthlib, cryptography' 2>/dev/null ||
    "$venv/bin/pip" install -q 'requests-oauthlib>=2' 'PyJWT[crypto]>=2.8'
cd "$root"
GRANTS_PYTHON="$venv/bin/python" AUTHGATE_REQUIRE_GRANTS_PYTHON=1 \
    cargo test -q -p authgate-tests --test grants third_party_libraries_get_a_token_and_verify_the_jwt
