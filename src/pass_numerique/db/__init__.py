"""Persistence: the Piccolo engine, tables and the write-transaction helper."""
