"""msgspec Structs: the wire contract."""
