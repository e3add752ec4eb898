"""The shared bearer rule: every way a token can be wrong is refused, with RFC 6750's answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from bearer import (
    FEEDBACK_SCOPE,
    READ_SCOPE,
    BearerError,
    BearerVerifier,
    challenge,
    token_scopes,
)

ISSUER = "https://conference.example"
AUDIENCE = "https://conference.example"
NOW = 1_800_000_000


def _key() -> ECKey:
    return ECKey.generate_key("P-256")


SIGNING = _key()


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "chatgpt",
        "client_id": "dyn-1",
        "scope": f"{READ_SCOPE} {FEEDBACK_SCOPE}",
        "iat": NOW,
        "exp": NOW + 300,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: Any = SIGNING, header: dict[str, Any] | None = None, **changes: Any) -> str:
    head = header or {"alg": "ES256", "typ": "at+jwt"}
    return jwt.encode(head, _claims(**changes), key, algorithms=[head["alg"]])


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(clock: Clock) -> BearerVerifier:
    public = SIGNING.as_pem(private=False).decode()
    return BearerVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=public, clock=clock)


def _refused(verifier: BearerVerifier, token: str, scope: str = READ_SCOPE) -> BearerError:
    with pytest.raises(BearerError) as caught:
        verifier.verify(f"Bearer {token}", scope)
    return caught.value


def test_a_good_token_grants_its_consumer_and_scopes(verifier: BearerVerifier) -> None:
    grant = verifier.verify(f"Bearer {_token()}", FEEDBACK_SCOPE)
    assert grant.consumer == "chatgpt"
    assert grant.client_id == "dyn-1"
    assert grant.scopes == {READ_SCOPE, FEEDBACK_SCOPE}
    assert grant.expires_at == NOW + 300


def test_scheme_is_case_insensitive(verifier: BearerVerifier) -> None:
    assert verifier.verify(f"bearer {_token()}", READ_SCOPE).consumer == "chatgpt"


def test_no_token_is_401_without_error_code(verifier: BearerVerifier) -> None:
    for header in (None, "", "Basic dXNlcjpwYXNz", "Bearer "):
        with pytest.raises(BearerError) as caught:
            verifier.verify(header, READ_SCOPE)
        assert caught.value.status == 401
        assert caught.value.error is None


def _segment(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused(verifier: BearerVerifier) -> None:
    forged = f"{_segment({'alg': 'none', 'typ': 'at+jwt'})}.{_segment(_claims())}."
    error = _refused(verifier, forged)
    assert (error.status, error.error) == (401, "invalid_token")


def test_hs256_signed_with_the_public_key_is_refused(verifier: BearerVerifier) -> None:
    # The classic algorithm-confusion forgery: HMAC keyed with the (public) verification key.
    public_pem = SIGNING.as_pem(private=False)
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'at+jwt'})}.{_segment(_claims())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert _refused(verifier, forged).error == "invalid_token"


def test_token_signed_by_another_key_is_refused(verifier: BearerVerifier) -> None:
    assert _refused(verifier, _token(_key())).error == "invalid_token"


def test_wrong_audience_is_refused(verifier: BearerVerifier) -> None:
    error = _refused(verifier, _token(aud="https://conference.example/mcp"))
    assert (error.status, error.error) == (401, "invalid_token")
    assert "another resource" in error.description


def test_audience_list_containing_ours_is_accepted(verifier: BearerVerifier) -> None:
    token = _token(aud=["https://other.example", AUDIENCE])
    assert verifier.verify(f"Bearer {token}", READ_SCOPE).consumer == "chatgpt"


def test_wrong_issuer_is_refused(verifier: BearerVerifier) -> None:
    assert "issuer" in _refused(verifier, _token(iss="https://evil.example")).description


def test_expired_token_is_refused_by_the_clock(verifier: BearerVerifier, clock: Clock) -> None:
    token = _token()
    assert verifier.verify(f"Bearer {token}", READ_SCOPE)
    clock.now = NOW + 300  # exactly exp: no longer valid
    error = _refused(verifier, token)
    assert (error.status, error.error) == (401, "invalid_token")
    assert "expired" in error.description


def test_token_without_exp_is_refused(verifier: BearerVerifier) -> None:
    assert _refused(verifier, _token(exp=None)).error == "invalid_token"


def test_not_yet_valid_token_is_refused(verifier: BearerVerifier) -> None:
    assert "not valid yet" in _refused(verifier, _token(nbf=NOW + 60)).description


def test_other_jwt_types_are_not_access_tokens(verifier: BearerVerifier) -> None:
    token = _token(header={"alg": "ES256", "typ": "JWT"})
    assert "not an access token" in _refused(verifier, token).description


def test_missing_scope_is_403_insufficient_scope(verifier: BearerVerifier) -> None:
    error = _refused(verifier, _token(scope=READ_SCOPE), FEEDBACK_SCOPE)
    assert (error.status, error.error, error.scope) == (403, "insufficient_scope", FEEDBACK_SCOPE)
    header = error.www_authenticate(
        "https://conference.example/.well-known/oauth-protected-resource"
    )
    assert header.startswith("Bearer resource_metadata=")
    assert 'error="insufficient_scope"' in header
    assert f'scope="{FEEDBACK_SCOPE}"' in header


def test_garbage_and_oversized_tokens_are_refused(verifier: BearerVerifier) -> None:
    assert _refused(verifier, "not-a-jwt").error == "invalid_token"
    assert "too long" in _refused(verifier, "a" * 5000).description


def test_a_cached_token_still_expires(clock: Clock) -> None:
    calls = 0
    public = SIGNING.as_pem(private=False).decode()

    def counting_clock() -> float:
        nonlocal calls
        calls += 1
        return clock()

    verifier = BearerVerifier(
        issuer=ISSUER, audience=AUDIENCE, public_key_pem=public, clock=counting_clock
    )
    token = _token()
    verifier.verify(f"Bearer {token}", READ_SCOPE)
    verifier.verify(f"Bearer {token}", READ_SCOPE)
    assert calls == 2  # the time checks run on every call, cache or not
    clock.now = NOW + 301
    assert _refused(verifier, token).error == "invalid_token"


def test_the_private_key_is_refused_as_verification_key() -> None:
    with pytest.raises(ValueError, match="PUBLIC"):
        BearerVerifier(
            issuer=ISSUER, audience=AUDIENCE, public_key_pem=SIGNING.as_pem(private=True).decode()
        )


def test_challenge_without_error_only_names_the_metadata() -> None:
    assert challenge("https://h/.well-known/oauth-protected-resource") == (
        'Bearer resource_metadata="https://h/.well-known/oauth-protected-resource"'
    )


def test_real_clock_default_accepts_a_fresh_token() -> None:
    public = SIGNING.as_pem(private=False).decode()
    verifier = BearerVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=public)
    now = int(time.time())
    token = _token(iat=now, exp=now + 120)
    assert verifier.verify(f"Bearer {token}", READ_SCOPE).consumer == "chatgpt"


def test_token_scopes_reads_the_scope_of_a_bearer_header() -> None:
    assert token_scopes(None) is None
    assert token_scopes("Basic abc") is None
    assert token_scopes(f"Bearer {_token(scope=READ_SCOPE)}") == frozenset({READ_SCOPE})
    # Unreadable: grants nothing rather than everything.
    assert token_scopes("Bearer not.a-jwt.x") == frozenset()
    assert token_scopes(f"Bearer {_token(scope=None)}") == frozenset()
