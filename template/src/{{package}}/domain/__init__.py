"""Entities, their invariants and the errors the domain raises. Imports nothing of ours."""
