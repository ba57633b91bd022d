"""Changing hosts: plans, apply with its gate, rolling order, rollback, health checks, import."""
