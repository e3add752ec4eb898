"""A local, development-only stand-in for Apache APISIX.

It reads the same ``apisix/apisix.yaml`` as the real gateway and implements the subset of APISIX
that file uses (routing, upstreams, consumers, key-auth, consumer-restriction, limit-count, cors,
request-id, proxy-rewrite, ext-plugin-*), with APISIX's statuses, bodies and headers, so the whole
client -> gateway -> runner -> backend path runs and is tested without Docker. It is never the
production path. See docs/local-stack.md.
"""
