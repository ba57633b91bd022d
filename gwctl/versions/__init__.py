"""XProtect releases, the feature table, site version state, discovery and upgrade plans."""
