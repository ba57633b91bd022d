"""Action ``xprotect_api_gateway``: gwctl's engine, run over the task's Ansible connection.

The implementation and its documentation are in ``gwctl.ansible.action`` (gwctl must be
importable by the controller's Python); this file only makes Ansible find it.
"""

from gwctl.ansible.action import ActionModule

__all__ = ["ActionModule"]
