"""The performance benchmark: the service against a bare `websockets` baseline.

Run `python -m bench --help` from the project's root; docs/performance.md says what it measures.
"""
