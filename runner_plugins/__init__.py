"""An asyncio runner for Apache APISIX external plugins (ext-plugin protocol v0.6.1).

APISIX's ``ext-plugin-pre-req`` / ``ext-plugin-post-req`` / ``ext-plugin-post-resp``
talk to this process over a Unix socket. Layers, from the wire inwards:

* ``protocol``     sans-IO framing (type byte + 24-bit length), RPC/error enums, schema enums;
* ``flatbuffer``   FlatBuffers table reader and typed builder, no message knowledge;
* ``codec``        the runner-side messages: PrepareConf in, reply frames out;
* ``views``        lazy request/response views for plugins, ExtraInfo through an injected port;
* ``connection``   one connection's protocol state, sans-IO (bytes in, events out);
* ``server``       the asyncio Unix-socket server driving one ``ConnectionState`` per connection;
* ``dispatch``     the RPC table: PrepareConf, HTTPReqCall, HTTPRespCall, error mapping;
* ``service``      the process: open-file limit, signals, ``run()``;
* ``conf_cache``   token -> parsed plugin chain, TTL and size bounds, injectable clock;
* ``registry``     explicit plugin registration from named modules;
* ``plugin``       the typed plugin contract plugins are written against;
* ``context``, ``mcp``  the conference plugins; ``conference`` registers both around one
                   context plugin (the default ``RUNNER_PLUGINS`` module);
* ``client``       the APISIX side of the protocol (subpackage), for tests, benchmarks and the
                   local gateway; the runner never imports it.
"""
