"""nginx's bare status pages become JSON in real APISIX, identical to the stand-in's.

APISIX answers a bare status (ext-plugin runner unreachable -> 503, upstream 502/504, request
limits 400/408/413/414/494, limit-count without a message -> 429, a Lua error -> 500) with nginx's
HTML page (apisix-behaviour.md); APISIX 3.x's nginx template declares no error_page of its own
(apisix/cli/ngx_tpl.lua; removed after 2.15, apache/apisix#11855). config.yaml adds
``error_page`` directives to the gateway's server block that return JSON instead; the local
gateway answers those statuses with ``gateway.errors.status_exit``. These checks keep both sides
byte-identical, so the integration suite sees the same bodies on either gateway.
"""

from __future__ import annotations

import json
import re

import pytest
from deploy_files import CONFIG_YAML, yaml_file

from gateway.errors import status_exit

_ERROR_PAGE = re.compile(r"^error_page\s+(\d{3})(?:\s+=(\d{3}))?\s+@(\w+);$")
_LOCATION = re.compile(
    r"^location\s+@(\w+)\s*\{\s*default_type\s+application/json;\s*"
    r"return\s+(\d{3})\s+'([^']*)';\s*\}$"
)
# Statuses the stand-in answers as bare pages, by the nginx code that produces them.
BARE = {
    400: 400,
    408: 408,
    413: 413,
    414: 414,
    429: 429,
    494: 431,
    500: 500,
    502: 502,
    503: 503,
    504: 504,
}


def _snippet() -> tuple[dict[int, tuple[int, str]], dict[str, tuple[int, str]]]:
    snippet = yaml_file(CONFIG_YAML)["nginx_config"]["http_server_configuration_snippet"]
    pages: dict[int, tuple[int, str]] = {}
    locations: dict[str, tuple[int, str]] = {}
    for line in (raw.strip() for raw in snippet.splitlines()):
        if not line:
            continue
        if match := _ERROR_PAGE.match(line):
            code, override, name = match.groups()
            pages[int(code)] = (int(override or code), name)
        elif match := _LOCATION.match(line):
            name, status, body = match.groups()
            locations[name] = (int(status), body)
        else:
            pytest.fail(f"unexpected line in http_server_configuration_snippet: {line!r}")
    return pages, locations


def test_every_bare_status_has_a_json_error_page() -> None:
    pages, locations = _snippet()
    assert set(pages) == set(BARE)
    for code, (sent_as, name) in pages.items():
        assert sent_as == BARE[code]
        status, body = locations[name]
        assert status == sent_as
        doc = json.loads(body)
        assert list(doc) == ["error_msg"] and doc["error_msg"].startswith(f"{status} ")


@pytest.mark.parametrize("nginx_code", sorted(BARE))
def test_json_page_is_byte_identical_to_the_stand_in(nginx_code: int) -> None:
    pages, locations = _snippet()
    status, body = locations[pages[nginx_code][1]]
    standin = status_exit(BARE[nginx_code])
    assert status == standin.status
    assert body.encode() == standin.body


def test_a_lua_error_500_is_json_too() -> None:
    # APISIX 2.x had "error_page 500 @50x.html" (HTML); 3.x has none, so a runtime error in a
    # plugin is nginx's HTML 500 unless the snippet covers it. The stand-in answers JSON 500.
    pages, locations = _snippet()
    assert locations[pages[500][1]] == (500, '{"error_msg":"500 Internal Server Error"}')
