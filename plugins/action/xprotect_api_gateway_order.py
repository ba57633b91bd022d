"""Action ``xprotect_api_gateway_order``: the hosts of a playbook run in rollout order,
site by site, with the ``serial`` batch sizes that keep each wave apart.

The implementation and its documentation are in ``gwctl.ansible.order_action`` (gwctl
must be importable by the controller's Python); this file only makes Ansible find it.
"""

from gwctl.ansible.order_action import ActionModule

__all__ = ["ActionModule"]
