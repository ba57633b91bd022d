"""Transports: how gwctl reaches a gateway host (WinRM, local directory, Ansible connection)."""
