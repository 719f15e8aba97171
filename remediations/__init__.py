"""remediations: guarded runbooks executed through the Kubernetes API."""
