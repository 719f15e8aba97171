"""aiopsd: the daemon that composes detectors, remediations and the change advisor."""
