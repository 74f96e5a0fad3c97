"""Rules that span several queries, one module per resource."""
