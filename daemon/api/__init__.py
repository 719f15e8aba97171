"""The daemon's HTTP surface: health, metrics and the API routers of each capability."""
