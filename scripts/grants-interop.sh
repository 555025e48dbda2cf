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

# shellcheck source=scripts/python-venv.sh
. "$root/scripts/python-venv.sh"
python_venv "$venv" "jwt, requests_oauthlib, cryptography" 'requests-oauthlib>=2' 'PyJWT[crypto]>=2.8'
cd "$root"
GRANTS_PYTHON="$PYTHON" AUTHGATE_REQUIRE_GRANTS_PYTHON=1 \
    cargo test -q -p authgate-tests --test grants third_party_libraries_get_a_token_and_verify_the_jwt
