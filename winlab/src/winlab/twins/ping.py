"""Twin of ansible.windows.win_ping."""

from . import ModuleFail, twin


@twin("ansible.windows.win_ping")
def win_ping(host, params, check_mode, diff):
    if params["data"] == "crash":
        raise ModuleFail("boom")
    return {"changed": False, "ping": params["data"]}
