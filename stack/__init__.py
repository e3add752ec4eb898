"""The local stack: backend, runner and the development gateway as processes (make up)."""
