"""ASGI plumbing shared by every function: request parsing, routing, the one error path."""
