"""An asyncio runner for Apache APISIX external plugins (ext-plugin protocol v0.6.1).

APISIX's ``ext-plugin-pre-req`` / ``ext-plugin-post-req`` / ``ext-plugin-post-resp``
talk to this process over a Unix socket. Layers, from the wire inwards:

* ``protocol``   sans-IO framing (type byte + 24-bit length) and the RPC/error enums;
* ``codec``      the only module that knows FlatBuffers: lazy request views, reply encoding;
* ``server``     the asyncio Unix-socket server, one protocol object per APISIX connection;
* ``dispatch``   the RPC table: PrepareConf, HTTPReqCall, HTTPRespCall, error mapping;
* ``conf_cache`` token -> parsed plugin chain, TTL and size bounds, injectable clock;
* ``registry``   explicit plugin registration from named modules;
* ``plugin``     the typed plugin contract plugins are written against;
* ``client``     the APISIX side of the protocol, for tests, benchmarks and the local gateway.
"""
