"""Twin of ansible.windows.async_status: reads the result file an async job wrote (psrun._async_module)."""

import json

from . import ModuleFail, file_bytes, twin, win_join


@twin("ansible.windows.async_status", private=("_async_dir",))
def async_status(host, params, check_mode, diff):
    jid, folder = params["jid"], params.get("_async_dir") or ""
    path = win_join(folder.replace("%USERPROFILE%", f"C:\\Users\\{host.state['username']}"), jid)
    entry = host.file(path)
    if entry is None:
        raise ModuleFail(f"could not find job at '{folder}'", ansible_job_id=jid, started=1, finished=1)
    if params["mode"] == "cleanup":
        host.delete_file(path)
        return {"changed": False, "ansible_job_id": jid, "erased": path}
    data = json.loads(file_bytes(host, entry).decode("utf-8-sig"))
    if "started" not in data:
        data.update(finished=1, ansible_job_id=jid)
    data.setdefault("finished", 0)
    data.setdefault("changed", False)
    return data
