#!/usr/bin/env bash
# DPoP interop (issue 14): an independent JOSE library, Python's jwcrypto (on
# pyca/cryptography), verifies the proof authgate-device signs
# (device-client/fixtures/14-dpop-proof.txt, byte-equal on the host and on the
# emulated Cortex-M3). The other direction, proofs jwcrypto signed checked by the
# server's verifier, is a unit test (server/src/dpop/fixtures/14-jwcrypto-proofs.txt)
# and, against the real binary, a whole bound device flow whose every proof jwcrypto
# signs (tests/tests/dpop.rs, a_third_party_jwcrypto_client_completes_a_bound_flow).
#
# Installs python3-venv if missing; the venv lives in DPOP_VENV (default
# /tmp/authgate-dpop-venv) and is reused. About 5 s once jwcrypto is cached.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DPOP_VENV:-/tmp/authgate-dpop-venv}"

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import jwcrypto' 2>/dev/null || "$venv/bin/pip" install -q 'jwcrypto>=1.5'
"$venv/bin/python" "$root/scripts/dpop_interop.py" verify
cd "$root"
DPOP_PYTHON="$venv/bin/python" AUTHGATE_REQUIRE_JWCRYPTO=1 \
    cargo test -q -p authgate-tests --test dpop a_third_party_jwcrypto_client_completes_a_bound_flow
