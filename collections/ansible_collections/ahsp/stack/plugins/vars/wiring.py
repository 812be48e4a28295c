from __future__ import annotations

DOCUMENTATION = """
    name: wiring
    short_description: How the AHSP tiers find each other, as the lowest inventory value
    requirements:
        - Enabled in configuration, listed before host_group_vars (see ansible.cfg)
    description:
        - Loads the collection's C(data/wiring.yml) as variables of the C(all) group of every inventory
          source (the address each host is reached on, the Redis URL and PostgreSQL settings the app hosts
          use, what Redis and PostgreSQL bind and whom pg_hba.conf admits).
        - Listed before C(host_group_vars), it sits below every value an inventory sets (C(group_vars/all),
          other groups' C(group_vars), C(host_vars)) and above every role default, so an inventory
          overrides any wiring value and the roles' own defaults never shadow it.
        - Values are Jinja templates, evaluated for each host when used. C(ahsp_app_source_dir) is the repository's
          C(app/) directory, whose Redis ACL rules the wiring reads.
        - It runs once, when the inventory is parsed (stage C(inventory)), and fills only the names the
          inventory source itself did not set for C(all) (for example under C(all.vars) in C(hosts.yml)).
    options:
      stage:
        default: inventory
        ini:
          - key: stage
            section: vars_ahsp_stack_wiring
        env:
          - name: ANSIBLE_VARS_PLUGIN_STAGE
    extends_documentation_fragment:
      - vars_plugin_staging
"""

from pathlib import Path

from ansible.inventory.group import Group
from ansible.plugins.vars import BaseVarsPlugin

# Outside plugins/vars/, where a YAML file would be taken for plugin documentation.
WIRING_FILE = Path(__file__).parents[2] / "data" / "wiring.yml"
# The app the wiring reads its Redis ACL rules from: the repository's app/
# (this file is collections/ansible_collections/ahsp/stack/plugins/vars/ in it).
APP_DIR = Path(__file__).resolve().parents[6] / "app"


class VarsModule(BaseVarsPlugin):
    is_stateless = True

    def get_vars(self, loader, path, entities, cache=True):
        super().get_vars(loader, path, entities)
        data = {}
        for entity in entities:
            if isinstance(entity, Group) and entity.name == "all":
                wiring = loader.load_from_file(
                    str(WIRING_FILE), cache="all", unsafe=True, trusted_as_template=True
                )
                wiring = {"ahsp_app_source_dir": str(APP_DIR), **(wiring or {})}
                data = {name: value for name, value in wiring.items() if name not in entity.vars}
        return data
