#!/usr/bin/env bash
# Authorization code + PKCE interop (issue 16): a third-party client library,
# Python's Authlib (OAuth2Session with code_challenge_method='S256'), builds the
# request and redeems the code a real Chromium approved on AuthGate's pages
# (tests/tests/authorization_code_browser.rs, scripts/authcode_interop.py).
#
# Installs python3-venv if missing; the venv lives in AUTHCODE_VENV (default
# /tmp/authgate-authcode-venv) and is reused. Needs the binaries built
# (`cargo build -p authgate-server --bins`) and Chromium with chromedriver.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${AUTHCODE_VENV:-/tmp/authgate-authcode-venv}"

# shellcheck source=scripts/python-venv.sh
. "$root/scripts/python-venv.sh"
python_venv "$venv" "authlib, requests" 'authlib>=1.3' 'requests>=2.31'
cd "$root"
AUTHCODE_PYTHON="$PYTHON" AUTHGATE_REQUIRE_AUTHLIB=1 \
    cargo test -q -p authgate-tests --test authorization_code_browser
