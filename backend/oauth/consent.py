"""The sign-in and consent page: plain HTML and CSS, no JavaScript, readable on a phone.

Strategy: the page shows which client asks for which scopes and where the answer will be sent,
and asks for the consumer's API key (a password field, never echoed back, never in a URL: the
form POSTs). Every OAuth parameter travels in hidden fields, so the POST is validated by Authlib
exactly like the GET. CSRF protection is a double submit bound to the request: a random nonce
in an HttpOnly, SameSite=Strict cookie scoped to the page, and in the form an HMAC of that nonce
and the OAuth parameters, so a form forged on another site (or replayed with other parameters)
does not verify. The page may not be framed (clickjacking) and is never cached.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from flask import Response, render_template_string

#: The OAuth parameters the form carries from the GET to the POST.
PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
)
COOKIE = "conference_consent"

SCOPE_TEXT = {
    "conference:read": "Read speakers, sessions, topics and speaker context",
    "conference:feedback": "Post session feedback on your behalf",
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to the Conference API</title>
<style>
  :root { color-scheme: light dark; }
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
         background: #f3f4f6; color: #111827; }
  main { max-width: 28rem; margin: 0 auto; padding: 1.25rem; }
  .card { background: #fff; border-radius: 12px; padding: 1.25rem 1.25rem 1.5rem;
          box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  h1 { font-size: 1.3rem; margin: 0 0 .75rem; }
  .client { font-weight: 600; word-break: break-word; }
  .muted { color: #4b5563; font-size: .9rem; overflow-wrap: anywhere; }
  ul { padding-left: 1.2rem; margin: .5rem 0 1rem; }
  li.refused { color: #9ca3af; text-decoration: line-through; }
  label { display: block; font-weight: 600; margin: 1rem 0 .35rem; }
  input[type=password] { width: 100%; box-sizing: border-box; font-size: 1rem;
         padding: .7rem; border: 1px solid #9ca3af; border-radius: 8px; }
  .error { background: #fee2e2; color: #991b1b; border-radius: 8px; padding: .6rem .8rem; }
  .buttons { display: flex; gap: .75rem; margin-top: 1.25rem; }
  button { flex: 1; font-size: 1rem; padding: .8rem; border-radius: 8px; border: 0;
           cursor: pointer; min-height: 44px; }
  .allow { background: #1d4ed8; color: #fff; }
  .deny { background: #e5e7eb; color: #111827; }
  @media (prefers-color-scheme: dark) {
    body { background: #111827; color: #f9fafb; }
    .card { background: #1f2937; }
    .muted { color: #d1d5db; }
    .deny { background: #374151; color: #f9fafb; }
  }
</style>
</head>
<body>
<main>
<div class="card">
  <h1>Sign in to the Conference API</h1>
  <p><span class="client">{{ client_name }}</span> asks for access:</p>
  <ul>
  {% for scope, text in scopes %}<li>{{ text }} <span class="muted">({{ scope }})</span></li>
  {% endfor %}
  </ul>
  <p class="muted">Client: {{ client_id }}<br>Answer goes to: {{ redirect_host }}</p>
  {% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
  <form method="post" action="{{ action }}" autocomplete="off">
    {% for name, value in hidden %}<input type="hidden" name="{{ name }}" value="{{ value }}">
    {% endfor %}
    <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
    <label for="api_key">Your API key</label>
    <input type="password" id="api_key" name="api_key" required
           autocomplete="current-password" spellcheck="false">
    <p class="muted">The key the operator gave you. Tokens issued here act for its consumer;
    a read-only key grants reading only.</p>
    <div class="buttons">
      <button class="deny" type="submit" name="decision" value="deny" formnovalidate>Deny</button>
      <button class="allow" type="submit" name="decision" value="allow">Allow</button>
    </div>
  </form>
</div>
</main>
</body>
</html>
"""


def _mac(key: bytes, nonce: str, params: Sequence[tuple[str, str]]) -> str:
    message = nonce + "\x00" + "\x00".join(f"{k}={v}" for k, v in params)
    return hmac.new(key, message.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


def carried(values: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(name, values[name]) for name in PARAMETERS if values.get(name) is not None]


def csrf_valid(key: bytes, nonce: str | None, token: str | None, values: Mapping[str, str]) -> bool:
    if not nonce or not token:
        return False
    return hmac.compare_digest(_mac(key, nonce, carried(values)), token)


def render(
    *,
    key: bytes,
    secure: bool,
    values: Mapping[str, str],
    client_id: str,
    client_name: str,
    scopes: Sequence[str],
    action: str,
    error: str | None = None,
    status: int = 200,
) -> Response:
    nonce = secrets.token_urlsafe(24)
    hidden = carried(values)
    redirect = urlsplit(values.get("redirect_uri", ""))
    body = render_template_string(
        _PAGE,
        client_name=client_name,
        client_id=client_id,
        redirect_host=f"{redirect.scheme}://{redirect.netloc}",
        scopes=[(s, SCOPE_TEXT.get(s, s)) for s in scopes],
        hidden=hidden,
        csrf_token=_mac(key, nonce, hidden),
        action=action,
        error=error,
    )
    response = Response(body, status=status, mimetype="text/html")
    response.set_cookie(
        COOKIE, nonce, max_age=600, path=action, secure=secure, httponly=True, samesite="Strict"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
