"""What ``make up`` prints once the stack answers: where to point ChatGPT, and with which key.

Strategy: the manifest and the OpenAPI document are served with ``CONFERENCE_PUBLIC_URL`` as
their base (the backend writes it into both), so the banner prints the URLs a client must use
from that same value, next to the local gateway URL. GPT Actions and ChatGPT connectors only
accept public ``https`` URLs (OpenAI's production notes for actions), so a public URL that is
not https gets a warning that says what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from stack.supervisor import Settings


def public_url(settings: Settings, env: Mapping[str, str]) -> str:
    """The base URL the backend writes into the manifest and the OpenAPI document."""
    return (env.get("CONFERENCE_PUBLIC_URL") or settings.gateway_url).rstrip("/")


def https_warning(url: str) -> str | None:
    """Why ChatGPT cannot use ``url``, or None when it is https."""
    if urlsplit(url).scheme == "https":
        return None
    return (
        f"WARNING: the public URL {url} is not https. GPT Actions and ChatGPT connectors need a "
        "public https URL: set CONFERENCE_PUBLIC_URL=https://... (a TLS proxy or a tunnel to "
        "this gateway) and restart. Plain http only works for local tools and the legacy "
        "plugin dev mode on localhost."
    )


def render(settings: Settings, env: Mapping[str, str], *, docker: bool, detached: bool) -> str:
    """The banner text (``detached``: the stack runs in the background, this shell is free)."""
    url = settings.gateway_url
    public = public_url(settings, env)
    if docker:
        kind = "Docker stack: Apache APISIX with the runner inside its image"
        logs, stop = "`make logs`", "`make down`"
    else:
        kind = "local stack; the gateway is a development stand-in for APISIX"
        logs = f"{settings.log_dir}/{{backend,runner,gateway}}.log"
        stop = (
            "`make down`"
            if detached
            else "Ctrl-C here, or `make down` from a second terminal (this one is held; "
            "`make up DETACH=1` runs in the background)"
        )
    lines = [
        "",
        f"Conference gateway is up ({kind}).",
        f"  Gateway URL:            {url}",
    ]
    if public != url:
        lines.append(f"  Public URL:             {public}   (CONFERENCE_PUBLIC_URL)")
    lines += [
        f"  API key for ChatGPT:    {env['CHATGPT_API_KEY']}",
        "                          (send it in the 'apikey' header; GPT Action: "
        "Authentication > API Key > Custom, header name 'apikey')",
        f"  Read-only API key:      {env['READONLY_API_KEY']}",
        f"  Plugin manifest (ChatGPT plugin dev mode): {public}/.well-known/ai-plugin.json",
        f"  OpenAPI (GPT Action import):               {public}/openapi.yaml",
        f"  MCP server (ChatGPT developer mode, Claude, MCP Inspector): {public}/mcp",
        "                          (Streamable HTTP, 'apikey' header or OAuth; docs/mcp.md)",
        f"  OAuth sign-in (MCP connectors, GPT Actions OAuth): "
        f"{public}/.well-known/oauth-authorization-server",
        "                          (GPT Actions: client id 'gpt-actions', secret "
        "CONFERENCE_OAUTH_GPT_ACTIONS_SECRET in .env; docs/oauth.md)",
    ]
    warning = https_warning(public)
    if warning is not None:
        lines.append(f"  {warning}")
    lines += [f"  Logs: {logs}", f"  Stop: {stop}.", ""]
    return "\n".join(lines)
