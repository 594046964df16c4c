"""Adapters for the repository port: SQL through SQLAlchemy, and in memory for tests."""
