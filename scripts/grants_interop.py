"""Issue 16 interop: well-known third-party libraries against the running server.

cc BASE_URL CLIENT_ID CLIENT_SECRET AUDIENCE
    requests-oauthlib's BackendApplicationClient (the client credentials grant, RFC 6749
    §4.4, as its documentation shows it) fetches a token from the token endpoint found
    in the server's RFC 8414 metadata. The client is set to the JWT format, so PyJWT
    then verifies that access token from the server's JWKS alone (PyJWKClient on
    `jwks_uri`): EdDSA signature, `typ: at+jwt` (RFC 9068 §2.1), `iss`, `aud`, `exp`,
    `iat`, `sub` = the client id (§2.2), and that a tampered token fails. Prints
    `OK <access_token>` for the Rust test (tests/tests/grants.rs) to introspect.
"""
import json
import os
import sys
import urllib.request

import jwt
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session


def metadata(base: str) -> dict:
    url = base + "/.well-known/oauth-authorization-server"
    with urllib.request.urlopen(url) as r:
        return json.load(r)


def cc(base: str, client_id: str, secret: str, audience: str) -> None:
    # Plain http to 127.0.0.1 in the test; oauthlib refuses it otherwise.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    meta = metadata(base)
    assert "client_credentials" in meta["grant_types_supported"], meta
    session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
    token = session.fetch_token(
        token_url=meta["token_endpoint"],
        client_id=client_id,
        client_secret=secret,
        scope=["read"],
    )
    assert token["token_type"] == "Bearer", token
    assert "refresh_token" not in token, token
    assert token["scope"] == ["read"], token
    access = token["access_token"]

    header = jwt.get_unverified_header(access)
    assert header["typ"] == "at+jwt", header
    assert header["alg"] == "EdDSA", header
    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(access)
    claims = jwt.decode(
        access,
        signing_key.key,
        algorithms=["EdDSA"],
        audience=audience,
        issuer=meta["issuer"],
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )
    assert claims["sub"] == client_id, claims
    assert claims["client_id"] == client_id, claims
    assert claims["scope"] == "read", claims
    assert claims["exp"] > claims["iat"], claims

    h, p, s = access.split(".")
    tampered = f"{h}.{p[:-2]}AA.{s}"
    try:
        jwt.decode(tampered, signing_key.key, algorithms=["EdDSA"], audience=audience)
    except jwt.InvalidTokenError:
        pass
    else:
        raise AssertionError("a tampered token verified")
    try:
        jwt.decode(access, signing_key.key, algorithms=["EdDSA"], audience="https://other.example")
    except jwt.InvalidAudienceError:
        pass
    else:
        raise AssertionError("a token for another audience verified")
    print("OK", access, flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "cc":
        cc(*sys.argv[2:])
    else:
        sys.exit(f"usage: {sys.argv[0]} cc BASE_URL CLIENT_ID CLIENT_SECRET AUDIENCE")
