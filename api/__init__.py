"""Caravan: the HTTP API, its services and command line."""
