"""Lumbung: village data warehouse."""
