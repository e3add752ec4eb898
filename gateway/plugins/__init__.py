"""The APISIX plugins the local gateway implements, with APISIX's priorities, phases and replies.

Strategy: each plugin is a small class built once from its YAML conf by ``gateway.build``
(``catalog.build_plugin`` picks the class, ``GatewayPlugin.from_conf`` validates the conf). A
plugin has a phase (``rewrite`` / ``access``; ``before_proxy`` for ext-plugin-post-resp), a
priority (APISIX's numbers: the pipeline sorts by them), ``run`` for its phase, and
``header_filter`` for the response. Replies copy APISIX 3.x: statuses, JSON
bodies and header names are those of ``apisix/plugins/*.lua`` as observed (see
docs/local-stack.md). One module per family:

* ``base``       :class:`GatewayPlugin` (conf validation included), the shared schema pieces;
* ``auth``       key-auth (and its consumer credential), consumer-restriction;
* ``jwt``        jwt-auth (and its consumer credential), multi-auth (OAuth bearer tokens);
* ``traffic``    limit-count;
* ``transform``  request-id, cors, proxy-rewrite;
* ``external``   ext-plugin-pre-req / post-req / post-resp and the runner conversation;
* ``catalog``    which plugins routes and consumers may use, the ``_meta.error_response`` body.

The project's own ``conference-errors`` plugin is ``conference_errors.py``.
"""

from __future__ import annotations

from gateway.plugins.auth import ConsumerRestriction, KeyAuth, KeyAuthCredential
from gateway.plugins.base import GatewayPlugin
from gateway.plugins.catalog import build_plugin, error_response_body
from gateway.plugins.external import (
    ExtPlugin,
    ExtPluginPostReq,
    ExtPluginPostResp,
    ExtPluginPreReq,
)
from gateway.plugins.traffic import LimitCount
from gateway.plugins.transform import Cors, ProxyRewrite, RequestId

__all__ = [
    "ConsumerRestriction",
    "Cors",
    "ExtPlugin",
    "ExtPluginPostReq",
    "ExtPluginPostResp",
    "ExtPluginPreReq",
    "GatewayPlugin",
    "KeyAuth",
    "KeyAuthCredential",
    "LimitCount",
    "ProxyRewrite",
    "RequestId",
    "build_plugin",
    "error_response_body",
]
