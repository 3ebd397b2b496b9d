/*
 * rotor.h: Rotor plugins in C.
 *
 * A plugin is one .c file that defines handler functions and registers each
 * with a macro; `rotor-build plugin.c -o plugin.wasm` builds the component:
 *
 *     #include "rotor.h"
 *
 *     static rotor_status_t acl(const rotor_subscribe_request_t *request,
 *                               rotor_subscribe_result_t *result) {
 *         (void) result;
 *         if (rotor_str_has_prefix(request->channel, "public:")) return ROTOR_OK;
 *         return rotor_permission_denied();
 *     }
 *     ROTOR_SUBSCRIBE(acl)
 *
 * A handler gets the request (owned by the SDK, freed after the handler
 * returns) and a zeroed result to fill, and returns ROTOR_OK or a refusal
 * (rotor_reject, rotor_disconnect, a built-in error such as
 * rotor_permission_denied; for refresh and sub-refresh any refusal
 * expires). Memory put into a result must come from malloc (rotor_str_dup,
 * rotor_bytes_dup): the bindings free it once the host has read the reply.
 *
 * Requests and results are the records of the WIT contract as `wit-bindgen
 * c` generates them into rotor_plugin.h (strings and byte lists are
 * pointer + length, not NUL-terminated). The helpers below cover strings,
 * headers, the log and the config; the generated functions
 * rotor_centrifugo_kv_* and rotor_centrifugo_centrifugo_api_* call the rest
 * of the host. The component imports only the host interfaces it calls.
 */
#ifndef ROTOR_H
#define ROTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef ROTOR_PROBE
#include "rotor_plugin.h"

/* Strings and byte lists: a pointer and a length. */
typedef rotor_plugin_string_t rotor_string_t;
typedef rotor_plugin_list_u8_t rotor_bytes_t;
typedef rotor_centrifugo_types_headers_t rotor_headers_t;

/* The requests and results of each kind. */
typedef rotor_centrifugo_types_connect_request_t rotor_connect_request_t;
typedef rotor_centrifugo_types_connect_result_t rotor_connect_result_t;
typedef rotor_centrifugo_types_refresh_request_t rotor_refresh_request_t;
typedef rotor_centrifugo_types_refresh_result_t rotor_refresh_result_t;
typedef rotor_centrifugo_types_subscribe_request_t rotor_subscribe_request_t;
typedef rotor_centrifugo_types_subscribe_result_t rotor_subscribe_result_t;
typedef rotor_centrifugo_types_publish_request_t rotor_publish_request_t;
typedef rotor_centrifugo_types_publish_result_t rotor_publish_result_t;
typedef rotor_centrifugo_types_rpc_request_t rotor_rpc_request_t;
typedef rotor_centrifugo_types_rpc_result_t rotor_rpc_result_t;
typedef rotor_centrifugo_types_sub_refresh_request_t rotor_sub_refresh_request_t;
typedef rotor_centrifugo_types_sub_refresh_result_t rotor_sub_refresh_result_t;
typedef rotor_centrifugo_types_map_publish_request_t rotor_map_publish_request_t;
typedef rotor_centrifugo_types_map_publish_result_t rotor_map_publish_result_t;
typedef rotor_centrifugo_types_map_remove_request_t rotor_map_remove_request_t;
typedef rotor_centrifugo_types_map_remove_result_t rotor_map_remove_result_t;

/* How a handler ends its call. */
typedef enum rotor_status_kind_t {
    ROTOR_STATUS_OK,
    ROTOR_STATUS_REJECT,
    ROTOR_STATUS_DISCONNECT,
} rotor_status_kind_t;

typedef struct rotor_status_t {
    rotor_status_kind_t kind;
    /* The error code (100–1999) or disconnect code (4000–4999). */
    uint32_t code;
    /* The error message or disconnect reason; copied into the reply. */
    const char *message;
    /* An error the client should retry. */
    bool temporary;
} rotor_status_t;

/* The call is accepted (or, for refresh and sub-refresh, extended). */
#define ROTOR_OK ((rotor_status_t){ROTOR_STATUS_OK, 0, NULL, false})

/* Refuses the call with an error for the client's command. */
rotor_status_t rotor_reject(uint32_t code, const char *message);
/* Refuses the call with an error the client retries. */
rotor_status_t rotor_reject_temporary(uint32_t code, const char *message);
/* Closes the connection: codes 4000–4499 reconnect, 4500–4999 are terminal. */
rotor_status_t rotor_disconnect(uint32_t code, const char *reason);

/* Centrifugo's built-in errors. */
rotor_status_t rotor_internal_error(void);      /* 100, temporary */
rotor_status_t rotor_unauthorized(void);        /* 101 */
rotor_status_t rotor_permission_denied(void);   /* 103 */
rotor_status_t rotor_method_not_found(void);    /* 104 */
rotor_status_t rotor_limit_exceeded(void);      /* 106 */
rotor_status_t rotor_bad_request(const char *message); /* 107; NULL: "bad request" */
rotor_status_t rotor_token_expired(void);       /* 109 */
rotor_status_t rotor_too_many_requests(void);   /* 111, temporary */

/* A view of a NUL-terminated text (not copied). */
rotor_string_t rotor_str(const char *text);
/* Whether s is text. */
bool rotor_str_eq(rotor_string_t s, const char *text);
/* Whether two strings are equal. */
bool rotor_str_equal(rotor_string_t a, rotor_string_t b);
/* Whether s starts with prefix. */
bool rotor_str_has_prefix(rotor_string_t s, const char *prefix);
/* The index of the first c in s, or -1. */
ptrdiff_t rotor_str_index(rotor_string_t s, char c);
/* The part of s from byte from to byte to (a view, not copied). */
rotor_string_t rotor_str_slice(rotor_string_t s, size_t from, size_t to);
/* s without leading and trailing spaces and tabs (a view). */
rotor_string_t rotor_str_trim(rotor_string_t s);
/* A malloc'd copy of text, for results. */
rotor_string_t rotor_str_dup(const char *text);
/* A malloc'd, NUL-terminated copy of s; free it. */
char *rotor_str_cstr(rotor_string_t s);
/* A malloc'd copy of len bytes, for results. */
rotor_bytes_t rotor_bytes_dup(const void *data, size_t len);

/* The first value of header name (ignoring case) in headers, as a view. */
bool rotor_header(const rotor_headers_t *headers, const char *name, rotor_string_t *value);

/* Writes a printf-style line to the host's log. */
void rotor_log(rotor_centrifugo_log_level_t level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
#define rotor_log_debug(...) rotor_log(ROTOR_CENTRIFUGO_LOG_LEVEL_DEBUG, __VA_ARGS__)
#define rotor_log_info(...) rotor_log(ROTOR_CENTRIFUGO_LOG_LEVEL_INFO, __VA_ARGS__)
#define rotor_log_warn(...) rotor_log(ROTOR_CENTRIFUGO_LOG_LEVEL_WARN, __VA_ARGS__)
#define rotor_log_error(...) rotor_log(ROTOR_CENTRIFUGO_LOG_LEVEL_ERROR, __VA_ARGS__)

/* The value of config key, malloc'd and NUL-terminated (free it), or NULL
 * when it is not set. */
char *rotor_config_get(const char *key);

/* Fill a reply from a handler's status and result (used by the macros). */
void rotor__connect_reply(rotor_centrifugo_types_connect_reply_t *ret, rotor_status_t status, rotor_connect_result_t *result);
void rotor__subscribe_reply(rotor_centrifugo_types_subscribe_reply_t *ret, rotor_status_t status, rotor_subscribe_result_t *result);
void rotor__publish_reply(rotor_centrifugo_types_publish_reply_t *ret, rotor_status_t status, rotor_publish_result_t *result);
void rotor__rpc_reply(rotor_centrifugo_types_rpc_reply_t *ret, rotor_status_t status, rotor_rpc_result_t *result);
void rotor__refresh_reply(rotor_centrifugo_types_refresh_reply_t *ret, rotor_status_t status, rotor_refresh_result_t *result);
void rotor__sub_refresh_reply(rotor_centrifugo_types_sub_refresh_reply_t *ret, rotor_status_t status, rotor_sub_refresh_result_t *result);
void rotor__map_publish_reply(rotor_centrifugo_types_map_publish_reply_t *ret, rotor_status_t status, rotor_map_publish_result_t *result);
void rotor__map_remove_reply(rotor_centrifugo_types_map_remove_reply_t *ret, rotor_status_t status, rotor_map_remove_result_t *result);

/* Defines the exported function of one kind around handler, a function
 * `rotor_status_t handler(const rotor_<kind>_request_t *, rotor_<kind>_result_t *)`. */
#define ROTOR__EXPORT(K, iface)                                                            \
    void exports_rotor_centrifugo_##iface##_handle(rotor_centrifugo_types_##K##_request_t *request, \
                                                   rotor_centrifugo_types_##K##_reply_t *ret)

#define ROTOR__DEFINE(K, iface, handler)                                                   \
    ROTOR__EXPORT(K, iface) {                                                              \
        rotor_centrifugo_types_##K##_result_t result = {0};                                \
        rotor_status_t status = handler(request, &result);                                    \
        rotor_centrifugo_types_##K##_request_free(request);                                \
        rotor__##K##_reply(ret, status, &result);                                          \
    }

#define ROTOR_CONNECT(handler) ROTOR__DEFINE(connect, connect_handler, handler)
#define ROTOR_REFRESH(handler) ROTOR__DEFINE(refresh, refresh_handler, handler)
#define ROTOR_SUBSCRIBE(handler) ROTOR__DEFINE(subscribe, subscribe_handler, handler)
#define ROTOR_PUBLISH(handler) ROTOR__DEFINE(publish, publish_handler, handler)
#define ROTOR_RPC(handler) ROTOR__DEFINE(rpc, rpc_handler, handler)
#define ROTOR_SUB_REFRESH(handler) ROTOR__DEFINE(sub_refresh, sub_refresh_handler, handler)
#define ROTOR_MAP_PUBLISH(handler) ROTOR__DEFINE(map_publish, map_publish_handler, handler)
#define ROTOR_MAP_REMOVE(handler) ROTOR__DEFINE(map_remove, map_remove_handler, handler)

#else /* ROTOR_PROBE: rotor-build preprocesses the plugin to see what it registers. */

#define ROTOR_CONNECT(handler) rotor_probe_export__connect_handler
#define ROTOR_REFRESH(handler) rotor_probe_export__refresh_handler
#define ROTOR_SUBSCRIBE(handler) rotor_probe_export__subscribe_handler
#define ROTOR_PUBLISH(handler) rotor_probe_export__publish_handler
#define ROTOR_RPC(handler) rotor_probe_export__rpc_handler
#define ROTOR_SUB_REFRESH(handler) rotor_probe_export__sub_refresh_handler
#define ROTOR_MAP_PUBLISH(handler) rotor_probe_export__map_publish_handler
#define ROTOR_MAP_REMOVE(handler) rotor_probe_export__map_remove_handler

#endif /* ROTOR_PROBE */

#endif /* ROTOR_H */
