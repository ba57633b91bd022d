"""Renderers: the files gwctl writes on a gateway host, from a gateway's merged settings."""
