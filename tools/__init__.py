"""Development tools of the voicescount repository (not installed with the package)."""
