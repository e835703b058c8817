"""Secretariat overview, trends, CSV exports and partner aggregates."""
