"""DPoP interop with an independent JOSE library (jwcrypto, on pyca/cryptography).

verify: checks the proof authgate-device signed (device-client/fixtures/14-dpop-proof.txt,
        also signed on an emulated Cortex-M3) with the jwk in its own header: signature,
        typ, alg, public-only jwk, RFC 7638 thumbprint, claims.
sign:   prints proofs jwcrypto makes (EdDSA and ES256) for the server's verifier test
        (server/src/dpop/fixtures/14-jwcrypto-proofs.txt); run once, the output is committed.
"""
import json
import sys
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


if __name__ == "__main__":
    {"verify": verify, "sign": sign}[sys.argv[1] if len(sys.argv) > 1 else "verify"]()
