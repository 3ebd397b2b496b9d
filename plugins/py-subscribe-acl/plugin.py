"""A channel access list for subscribe, with the rules of the Rust subscribe-acl:

- ``user:<id>``, the personal channel, is open to user ``<id>`` only: exactly
  that channel, not ``user:<id>:more`` and not other users' channels;
- channels in a public namespace (``<namespace>:<rest>``) are open to
  everyone, anonymous users (empty user id) included;
- everything else, channels without a namespace included, is refused with
  ``103 permission denied``.

Config keys: ``public_namespaces`` (optional), comma-separated namespace
names, default ``public,news``; an empty value makes no namespace public.
"""

from typing import List, Optional

import rotor
from rotor import SubscribeRequest, config

#: Public unless configured otherwise: what a typical app opens to visitors.
DEFAULT_PUBLIC_NAMESPACES = "public,news"

#: The namespace of personal channels; never public, whatever the config says.
PERSONAL_NAMESPACE = "user"


def public_namespaces(value: Optional[str]) -> List[str]:
    """The public namespaces from the config value, or the default when unset."""
    text = DEFAULT_PUBLIC_NAMESPACES if value is None else value
    return [name.strip() for name in text.split(",") if name.strip()]


def allowed(user: str, channel: str, public: List[str]) -> bool:
    """Whether ``user`` (empty when anonymous) may subscribe to ``channel``."""
    namespace, colon, rest = channel.partition(":")
    if not colon:
        return False
    if namespace == PERSONAL_NAMESPACE:
        return user != "" and rest == user
    return namespace in public


@rotor.subscribe
def acl(request: SubscribeRequest):
    """Opens the channel or refuses with ``103 permission denied``."""
    public = public_namespaces(config.get("public_namespaces"))
    if allowed(request.user, request.channel, public):
        return rotor.allow()
    raise rotor.permission_denied()
