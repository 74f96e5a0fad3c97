"""Demo data for `make run` and `caravan demo`: organizations, events and a trip to explore."""
