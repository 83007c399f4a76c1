"""Twin of ansible.windows.setup: the facts a Windows 2000 site server would give."""

import time

from ..host import filetime
from . import twin


@twin("ansible.windows.setup")
def setup(host, params, check_mode, diff):
    name = host.computer_name
    boot = host.state["boot_time"]
    facts = {
        "ansible_hostname": name, "ansible_fqdn": f"{name.lower()}.lab.invalid", "ansible_domain": "lab.invalid",
        "ansible_os_family": "Windows", "ansible_system": "Win32NT", "ansible_os_name": "Microsoft Windows 2000 Server",
        "ansible_distribution": "Microsoft Windows 2000 Server", "ansible_distribution_version": "5.0.2195.0",
        "ansible_distribution_major_version": "5", "ansible_kernel": "5.0.2195.0",
        "ansible_architecture": "32-bit" if host.state.get("platform") == "i386" else "64-bit",
        "ansible_env": {"COMPUTERNAME": name, "PROCESSOR_ARCHITECTURE": "x86" if host.state.get("platform") == "i386" else "ALPHA"},
        "ansible_lastboot": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(boot)),
        "ansible_uptime_seconds": int(time.time() - boot),
        "ansible_windows_boot_filetime": filetime(boot),
        "ansible_user_id": host.state["username"], "ansible_powershell_version": 5,
        "ansible_interfaces": [{"interface_name": "Local Area Connection", "ipv4": {"address": host.state["address"]}}],
        "ansible_ip_addresses": [host.state["address"]],
        "module_setup": True,
    }
    return {"changed": False, "ansible_facts": facts}
