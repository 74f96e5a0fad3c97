"""SQL, one module per resource."""
