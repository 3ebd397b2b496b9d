/*
 * A channel access list for subscribe, with the rules of the Rust
 * subscribe-acl:
 *
 * - `user:<id>`, the personal channel, is open to user `<id>` only: exactly
 *   that channel, not `user:<id>:more` and not other users' channels;
 * - channels in a public namespace (`<namespace>:<rest>`) are open to
 *   everyone, anonymous users (empty user id) included;
 * - everything else, channels without a namespace included, is refused with
 *   `103 permission denied`.
 *
 * Config keys: `public_namespaces` (optional), comma-separated namespace
 * names, default `public,news`; an empty value makes no namespace public.
 */
#include <stdlib.h>

#include "rotor.h"

/* Public unless configured otherwise: what a typical app opens to visitors. */
static const char DEFAULT_PUBLIC_NAMESPACES[] = "public,news";

/* The namespace of personal channels; never public, whatever the config says. */
static const char PERSONAL_NAMESPACE[] = "user";

/* Whether namespace is one of the comma-separated names in list. */
static bool listed(rotor_string_t namespace, const char *list) {
    rotor_string_t rest = rotor_str(list);
    while (rest.len > 0) {
        ptrdiff_t comma = rotor_str_index(rest, ',');
        size_t end = comma < 0 ? rest.len : (size_t) comma;
        rotor_string_t name = rotor_str_trim(rotor_str_slice(rest, 0, end));
        if (name.len > 0 && rotor_str_equal(name, namespace)) return true;
        rest = rotor_str_slice(rest, comma < 0 ? rest.len : end + 1, rest.len);
    }
    return false;
}

/* Whether user (empty when anonymous) may subscribe to channel. */
static bool allowed(rotor_string_t user, rotor_string_t channel, const char *public_namespaces) {
    ptrdiff_t colon = rotor_str_index(channel, ':');
    if (colon < 0) return false;
    rotor_string_t namespace = rotor_str_slice(channel, 0, (size_t) colon);
    rotor_string_t rest = rotor_str_slice(channel, (size_t) colon + 1, channel.len);
    if (rotor_str_eq(namespace, PERSONAL_NAMESPACE)) return user.len > 0 && rotor_str_equal(rest, user);
    return listed(namespace, public_namespaces);
}

static rotor_status_t acl(const rotor_subscribe_request_t *request, rotor_subscribe_result_t *result) {
    (void) result;
    char *configured = rotor_config_get("public_namespaces");
    bool open = allowed(request->user, request->channel, configured != NULL ? configured : DEFAULT_PUBLIC_NAMESPACES);
    free(configured);
    return open ? ROTOR_OK : rotor_permission_denied();
}

ROTOR_SUBSCRIBE(acl)
