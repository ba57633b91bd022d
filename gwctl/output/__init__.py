"""Presenting results: problem reporters and secret redaction."""
