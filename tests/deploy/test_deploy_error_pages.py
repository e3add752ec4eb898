"""nginx's bare status pages become JSON in real APISIX, identical to the stand-in's.

APISIX answers a bare status (ext-plugin runner unreachable -> 503, upstream 502/504, request
limits 400/408/413/414/494, limit-count without a message -> 429, a Lua error -> 500) with nginx's
HTML page; APISIX 3.x's nginx template declares no error_page of its own (apisix/cli/ngx_tpl.lua;
removed after 2.15, apache/apisix#11855). config.yaml adds ``error_page`` directives to the
gateway's server block that return JSON instead; the local gateway answers those statuses with
``gateway.errors.status_exit``. These checks keep both sides byte-identical, so the integration
suite sees the same bodies on either gateway, and keep the targets usable when nginx has no
request URI yet (a bad request line): a named location (``@name``) fails there with "empty URI
in redirect to named location" and nginx's HTML 500, so those statuses must use URI targets.
"""

from __future__ import annotations

import json
import re

import pytest

from gateway.errors import ERROR_PAGE_PREFIX, ERROR_PAGE_STATUSES, is_error_page_uri, status_exit
from tests.deploy.deploy_files import CONFIG_YAML, yaml_file

_ERROR_PAGE = re.compile(r"^error_page\s+(\d{3})(?:\s+=(\d{3}))?\s+(@\w+|/\S+);$")
_LOCATION = re.compile(
    r"^location\s+(?:=\s+(/\S+)|(@\w+))\s*\{\s*(internal;\s*)?default_type\s+application/json;\s*"
    r"return\s+(\d{3})\s+'([^']*)';\s*\}$"
)
# Statuses the stand-in answers as bare pages, by the nginx code that produces them.
BARE = {
    400: 400,
    404: 404,
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
# Statuses nginx can raise while reading the request line or headers, i.e. possibly before the
# request URI is parsed (bad request line 400, request line too long 414, header timeout 408,
# headers too large 494): never a named-location target for these.
BEFORE_THE_URI = frozenset({400, 408, 414, 494})


class Location:
    def __init__(self, status: int, body: str, internal: bool) -> None:
        self.status, self.body, self.internal = status, body, internal


def _snippet(text: str | None = None) -> tuple[dict[int, tuple[int, str]], dict[str, Location]]:
    if text is None:
        text = yaml_file(CONFIG_YAML)["nginx_config"]["http_server_configuration_snippet"]
    pages: dict[int, tuple[int, str]] = {}
    locations: dict[str, Location] = {}
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        if match := _ERROR_PAGE.match(line):
            code, override, target = match.groups()
            pages[int(code)] = (int(override or code), target)
        elif match := _LOCATION.match(line):
            uri, name, internal, status, body = match.groups()
            locations[uri or name] = Location(int(status), body, internal is not None)
        else:
            pytest.fail(f"unexpected line in http_server_configuration_snippet: {line!r}")
    return pages, locations


def early_named_targets(text: str) -> list[int]:
    """The statuses raised before the URI exists whose error_page target is a named location."""
    pages, _ = _snippet(text)
    return sorted(code for code, (_, target) in pages.items() if code in BEFORE_THE_URI
                  and target.startswith("@"))  # fmt: skip


def test_every_bare_status_has_a_json_error_page() -> None:
    pages, locations = _snippet()
    assert set(pages) == set(BARE)
    for code, (sent_as, target) in pages.items():
        assert sent_as == BARE[code]
        location = locations[target]
        assert location.status == sent_as
        doc = json.loads(location.body)
        assert list(doc) == ["error_msg"] and doc["error_msg"].startswith(f"{sent_as} ")


def test_no_named_location_for_statuses_raised_before_the_uri_exists() -> None:
    snippet = yaml_file(CONFIG_YAML)["nginx_config"]["http_server_configuration_snippet"]
    assert early_named_targets(snippet) == []


def test_the_check_refuses_a_named_target_for_a_bad_request_line() -> None:
    # What config.yaml had before: it answered GET /topic/%00 with nginx's HTML 500.
    old = (
        "error_page 400 @json_400;\n"
        "error_page 414 @json_414;\n"
        "error_page 502 @json_502;\n"
        "location @json_400 { default_type application/json; return 400 '{}'; }\n"
    )
    assert early_named_targets(old) == [400, 414]


def test_uri_targets_are_internal_and_known_to_the_stand_in() -> None:
    pages, locations = _snippet()
    targets = {target for _, target in pages.values()}
    assert all(target.startswith(ERROR_PAGE_PREFIX) for target in targets)
    for target in targets:
        # internal: a client asking for it gets a 404, as the stand-in answers.
        assert locations[target].internal, target
        assert is_error_page_uri(target)
    assert {int(t.removeprefix(ERROR_PAGE_PREFIX)) for t in targets} == ERROR_PAGE_STATUSES


@pytest.mark.parametrize("nginx_code", sorted(BARE))
def test_json_page_is_byte_identical_to_the_stand_in(nginx_code: int) -> None:
    pages, locations = _snippet()
    location = locations[pages[nginx_code][1]]
    standin = status_exit(BARE[nginx_code])
    assert location.status == standin.status
    assert location.body.encode() == standin.body


def test_a_lua_error_500_is_json_too() -> None:
    # APISIX 2.x had "error_page 500 @50x.html" (HTML); 3.x has none, so a runtime error in a
    # plugin is nginx's HTML 500 unless the snippet covers it. The stand-in answers JSON 500.
    pages, locations = _snippet()
    location = locations[pages[500][1]]
    assert (location.status, location.body) == (500, '{"error_msg":"500 Internal Server Error"}')
