"""HTTP API routers of the daemon; the application mounts them (and adds authentication)."""
