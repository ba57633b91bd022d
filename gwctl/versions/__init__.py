"""XProtect releases, the feature table and its boundary releases, site version state, what
a configuration needs, discovery and upgrade plans."""
