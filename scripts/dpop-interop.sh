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

# shellcheck source=scripts/python-venv.sh
. "$root/scripts/python-venv.sh"
python_venv "$venv" "jwcrypto" 'jwcrypto>=1.5'
"$PYTHON" "$root/scripts/dpop_interop.py" verify
cd "$root"
DPOP_PYTHON="$PYTHON" AUTHGATE_REQUIRE_JWCRYPTO=1 \
    cargo test -q -p authgate-tests --test dpop a_third_party_jwcrypto_client_completes_a_bound_flow
