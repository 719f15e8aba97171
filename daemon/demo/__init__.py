"""The embedded demo: a simulated shop on a local Prometheus, watched by the daemon."""
