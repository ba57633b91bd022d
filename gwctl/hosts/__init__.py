"""Reaching hosts: the Ansible inventory, pairing gateways with hosts, fan-out, and facts
(read-only)."""
