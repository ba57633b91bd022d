"""Jinja2 templates for rendered files."""
