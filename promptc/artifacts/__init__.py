"""What compile writes: artifact contents, the store, the registry and aliases."""
