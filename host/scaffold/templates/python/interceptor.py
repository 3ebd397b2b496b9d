"""An interceptor: refuses publish and RPC calls of anonymous users (an empty
user id) with ``103 permission denied``, and passes every other call on to
the next step."""

import rotor


@rotor.before
def guard(context, request):
    if rotor.kind_of(request) in ("publish", "rpc") and request.value.user == "":
        raise rotor.permission_denied()
    return None  # pass the call on
