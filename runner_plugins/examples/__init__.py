"""Example plugins: ``static_stop`` (the benchmark's trivial plugin) and ``api_version``
(the "Write your own plugin" walkthrough in docs/plugins.md)."""
