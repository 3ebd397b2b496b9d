"""The plugin's settings, from the host's configuration file
(``[settings."<plugin>.wasm"]``, or an interceptor entry's ``settings``)."""

from typing import List, Optional

from wit_world.imports import config as _host

__all__ = ["get", "get_list"]


def get(key: str, default: Optional[str] = None) -> Optional[str]:
    """The value of ``key``, or ``default`` if it is not set."""
    value = _host.get(key)
    return default if value is None else value


def get_list(key: str, default: str = "") -> List[str]:
    """The comma-separated list at ``key`` (``default`` if unset), trimmed, empty items dropped."""
    value = get(key, default) or ""
    return [item.strip() for item in value.split(",") if item.strip()]
