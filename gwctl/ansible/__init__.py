"""The Ansible front end: what the role's action plugin calls."""
