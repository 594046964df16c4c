"""Adapters of the backplane and presence ports: in this process, or shared through Redis."""
