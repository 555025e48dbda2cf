"""The authorization code grant with PKCE (issue 16) from a third-party client
library: Authlib's OAuth2Session, with code_challenge_method='S256', as its
documentation shows. Driven by tests/tests/authorization_code_browser.rs, which
approves in Chromium and hands the redirect back.

Protocol on stdin/stdout, one line each:
  -> AUTHORIZE <url>            the URL Authlib built (state and challenge in it)
  <- CALLBACK <url>             the redirect the browser landed on
  -> TOKEN <json>               the token response Authlib parsed
  <- AGAIN                      present the same code again
  -> REUSE <error>              the error Authlib got presenting the code again

Usage: authcode_interop.py BASE_URL CLIENT_ID REDIRECT_URI
"""

import json
import sys

import requests

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError


def main():
    base, client_id, redirect_uri = sys.argv[1:4]
    meta_url = base + "/.well-known/oauth-authorization-server"
    session = OAuth2Session(
        client_id,
        redirect_uri=redirect_uri,
        scope="read",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    meta = requests.get(meta_url, timeout=10).json()
    assert "S256" in meta["code_challenge_methods_supported"], meta
    verifier = generate_token(64)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier
    )
    print("AUTHORIZE " + url, flush=True)
    line = sys.stdin.readline().strip()
    assert line.startswith("CALLBACK "), line
    callback = line[len("CALLBACK "):]
    # Authlib checks `state` against the one it made (CSRF, RFC 6749 §10.12).
    token = session.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback,
        code_verifier=verifier,
        state=state,
    )
    print("TOKEN " + json.dumps(dict(token)), flush=True)
    # The test checks the token is live before the code comes back.
    line = sys.stdin.readline().strip()
    assert line == "AGAIN", line
    again = OAuth2Session(
        client_id,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    try:
        again.fetch_token(
            meta["token_endpoint"],
            authorization_response=callback,
            code_verifier=verifier,
        )
        print("REUSE accepted", flush=True)
    except OAuthError as e:
        print("REUSE " + e.error, flush=True)


if __name__ == "__main__":
    main()
