"""The domain events the service emits: a versioned contract the access fan-out consumes."""
