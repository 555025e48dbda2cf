"""DPoP interop with an independent JOSE library (jwcrypto, on pyca/cryptography).

verify: checks the proof authgate-device signed (device-client/fixtures/14-dpop-proof.txt,
        also signed on an emulated Cortex-M3) with the jwk in its own header: signature,
        typ, alg, public-only jwk, RFC 7638 thumbprint, claims.
sign:   prints proofs jwcrypto makes (EdDSA and ES256) for the server's verifier test
        (server/src/dpop/fixtures/14-jwcrypto-proofs.txt); run once, the output is committed.
flow BASE_URL CLIENT_ID:
        a third-party DPoP client against the running server: every proof is made by
        jwcrypto (ES256, the key type most libraries default to). Asks for a device code
        with a proof (binding it), prints `USER_CODE <code>`, waits for a line on stdin
        (someone approved), then redeems with a proof, checks the token is DPoP-bound,
        calls tokeninfo with `Authorization: DPoP` and an `ath` proof, checks the bare
        token is refused, and refreshes with a proof. Driven by tests/tests/dpop.rs.
"""
import base64
import hashlib
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

ROOT = Path(__file__).resolve().parent.parent


def verify() -> None:
    proof = (ROOT / "device-client/fixtures/14-dpop-proof.txt").read_text().strip()
    token = jws.JWS()
    token.deserialize(proof)
    header = token.jose_header
    assert header["typ"] == "dpop+jwt", header
    assert header["alg"] == "EdDSA", header
    key = jwk.JWK(**header["jwk"])
    assert not key.has_private, "private key material in the proof"
    token.verify(key, alg="EdDSA")
    claims = json.loads(token.payload)
    assert claims["htm"] == "POST", claims
    assert claims["htu"] == "https://auth.example.com/oauth/device/code", claims
    assert claims["iat"] == 1_795_990_860, claims
    assert len(claims["jti"]) >= 16, claims
    assert key.thumbprint() == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", key.thumbprint()
    # A tampered payload must fail.
    h, p, s = proof.split(".")
    bad = jws.JWS()
    bad.deserialize(f"{h}.{p[:-2]}AA.{s}")
    try:
        bad.verify(key, alg="EdDSA")
    except jws.InvalidJWSSignature:
        pass
    else:
        raise AssertionError("tampered proof verified")
    print("dpop-interop: jwcrypto verified the authgate-device proof")


def sign() -> None:
    for alg, params in (("EdDSA", {"kty": "OKP", "crv": "Ed25519"}), ("ES256", {"kty": "EC", "crv": "P-256"})):
        key = jwk.JWK.generate(**params)
        claims = {
            "jti": f"jwcrypto-{alg}-0001",
            "htm": "POST",
            "htu": "https://auth.example.com/oauth/token",
            "iat": 1_795_990_860,
            "nonce": "n-42",
            "ath": None,
        }
        del claims["ath"]
        token = jws.JWS(json_encode(claims))
        token.add_signature(
            key,
            alg=alg,
            protected=json_encode({"typ": "dpop+jwt", "alg": alg, "jwk": key.export_public(as_dict=True)}),
        )
        print(alg, token.serialize(compact=True), key.thumbprint())


def _proof(key: "jwk.JWK", htm: str, htu: str, access_token: str = None) -> str:
    claims = {"jti": str(uuid.uuid4()), "htm": htm, "htu": htu, "iat": int(time.time())}
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode()).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    token = jws.JWS(json_encode(claims))
    token.add_signature(
        key,
        alg="ES256",
        protected=json_encode({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.export_public(as_dict=True)}),
    )
    return token.serialize(compact=True)


def _call(method: str, url: str, form: dict = None, headers: dict = None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, _lower(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, _lower(e.headers), json.loads(e.read() or b"null")


def _lower(headers) -> dict:
    return {k.lower(): v for k, v in headers.items()}


def flow(base: str, client_id: str) -> None:
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    meta = _call("GET", f"{base}/.well-known/oauth-authorization-server")[2]
    assert "ES256" in meta["dpop_signing_alg_values_supported"], meta
    device_url, token_url = meta["device_authorization_endpoint"], meta["token_endpoint"]
    info_url = meta["tokeninfo_endpoint"]

    status, headers, body = _call(
        "POST", device_url, {"client_id": client_id}, {"DPoP": _proof(key, "POST", device_url)}
    )
    assert status == 200, (status, body)
    assert headers.get("dpop-nonce"), headers
    print(f"USER_CODE {body['user_code']}", flush=True)
    sys.stdin.readline()

    grant = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
             "device_code": body["device_code"], "client_id": client_id}
    status, _, stolen = _call("POST", token_url, grant)
    assert (status, stolen["error"]) == (400, "invalid_grant"), (status, stolen)
    status, _, tokens = _call("POST", token_url, grant, {"DPoP": _proof(key, "POST", token_url)})
    assert status == 200, (status, tokens)
    assert tokens["token_type"] == "DPoP", tokens
    access = tokens["access_token"]

    status, _, info = _call("GET", info_url, headers={
        "Authorization": f"DPoP {access}", "DPoP": _proof(key, "GET", info_url, access)})
    assert status == 200, (status, info)
    assert info["cnf"]["jkt"] == key.thumbprint(), (info, key.thumbprint())
    status, headers, _ = _call("GET", info_url, headers={"Authorization": f"Bearer {access}"})
    assert status == 401 and headers["www-authenticate"].startswith("DPoP "), (status, headers)

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
               "client_id": client_id}
    status, _, body = _call("POST", token_url, refresh)
    assert (status, body["error"]) == (400, "invalid_grant"), (status, body)
    status, _, again = _call("POST", token_url, refresh, {"DPoP": _proof(key, "POST", token_url)})
    assert status == 200 and again["token_type"] == "DPoP", (status, again)
    print("dpop-interop: jwcrypto completed a bound flow (ES256 proofs)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "flow":
        flow(sys.argv[2], sys.argv[3])
        sys.exit(0)
    {"verify": verify, "sign": sign}[sys.argv[1] if len(sys.argv) > 1 else "verify"]()
