/*
 * rotor.c: the helpers of rotor.h. rotor-build compiles it with each plugin;
 * the linker keeps only what the plugin calls, so a plugin that never logs
 * does not import the log.
 */
#include "rotor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rotor_status_t status(rotor_status_kind_t kind, uint32_t code, const char *message, bool temporary) {
    rotor_status_t made = {kind, code, message, temporary};
    return made;
}

rotor_status_t rotor_reject(uint32_t code, const char *message) {
    return status(ROTOR_STATUS_REJECT, code, message, false);
}

rotor_status_t rotor_reject_temporary(uint32_t code, const char *message) {
    return status(ROTOR_STATUS_REJECT, code, message, true);
}

rotor_status_t rotor_disconnect(uint32_t code, const char *reason) {
    return status(ROTOR_STATUS_DISCONNECT, code, reason, false);
}

rotor_status_t rotor_internal_error(void) { return rotor_reject_temporary(100, "internal server error"); }
rotor_status_t rotor_unauthorized(void) { return rotor_reject(101, "unauthorized"); }
rotor_status_t rotor_permission_denied(void) { return rotor_reject(103, "permission denied"); }
rotor_status_t rotor_method_not_found(void) { return rotor_reject(104, "method not found"); }
rotor_status_t rotor_limit_exceeded(void) { return rotor_reject(106, "limit exceeded"); }
rotor_status_t rotor_bad_request(const char *message) {
    return rotor_reject(107, message != NULL ? message : "bad request");
}
rotor_status_t rotor_token_expired(void) { return rotor_reject(109, "token expired"); }
rotor_status_t rotor_too_many_requests(void) { return rotor_reject_temporary(111, "too many requests"); }

rotor_string_t rotor_str(const char *text) {
    rotor_string_t view = {(uint8_t *) text, strlen(text)};
    return view;
}

bool rotor_str_equal(rotor_string_t a, rotor_string_t b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool rotor_str_eq(rotor_string_t s, const char *text) { return rotor_str_equal(s, rotor_str(text)); }

bool rotor_str_has_prefix(rotor_string_t s, const char *prefix) {
    size_t len = strlen(prefix);
    return s.len >= len && memcmp(s.ptr, prefix, len) == 0;
}

ptrdiff_t rotor_str_index(rotor_string_t s, char c) {
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == (uint8_t) c) return (ptrdiff_t) i;
    }
    return -1;
}

rotor_string_t rotor_str_slice(rotor_string_t s, size_t from, size_t to) {
    if (to > s.len) to = s.len;
    if (from > to) from = to;
    rotor_string_t view = {s.ptr + from, to - from};
    return view;
}

rotor_string_t rotor_str_trim(rotor_string_t s) {
    size_t from = 0, to = s.len;
    while (from < to && (s.ptr[from] == ' ' || s.ptr[from] == '\t')) from++;
    while (to > from && (s.ptr[to - 1] == ' ' || s.ptr[to - 1] == '\t')) to--;
    return rotor_str_slice(s, from, to);
}

/* A malloc'd copy of len bytes; aborts when memory is out, like the bindings. */
static uint8_t *copy(const void *data, size_t len) {
    if (len == 0) return NULL;
    uint8_t *bytes = malloc(len);
    if (bytes == NULL) abort();
    memcpy(bytes, data, len);
    return bytes;
}

rotor_string_t rotor_str_dup(const char *text) {
    size_t len = strlen(text);
    rotor_string_t made = {copy(text, len), len};
    return made;
}

char *rotor_str_cstr(rotor_string_t s) {
    char *text = malloc(s.len + 1);
    if (text == NULL) abort();
    if (s.len > 0) memcpy(text, s.ptr, s.len);
    text[s.len] = '\0';
    return text;
}

rotor_bytes_t rotor_bytes_dup(const void *data, size_t len) {
    rotor_bytes_t made = {copy(data, len), len};
    return made;
}

/* Whether s equals text, ignoring ASCII case. */
static bool equal_fold(rotor_string_t s, const char *text) {
    size_t len = strlen(text);
    if (s.len != len) return false;
    for (size_t i = 0; i < len; i++) {
        uint8_t a = s.ptr[i], b = (uint8_t) text[i];
        if (a >= 'A' && a <= 'Z') a += 'a' - 'A';
        if (b >= 'A' && b <= 'Z') b += 'a' - 'A';
        if (a != b) return false;
    }
    return true;
}

bool rotor_header(const rotor_headers_t *headers, const char *name, rotor_string_t *value) {
    for (size_t i = 0; i < headers->len; i++) {
        if (equal_fold(headers->ptr[i].f0, name)) {
            *value = headers->ptr[i].f1;
            return true;
        }
    }
    return false;
}

void rotor_log(rotor_centrifugo_log_level_t level, const char *format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    int len = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (len < 0) return;
    rotor_string_t message = {(uint8_t *) line, (size_t) len < sizeof line ? (size_t) len : sizeof line - 1};
    rotor_centrifugo_log_write(level, &message);
}

char *rotor_config_get(const char *key) {
    rotor_string_t name = rotor_str(key), value;
    if (!rotor_centrifugo_config_get(&name, &value)) return NULL;
    char *text = rotor_str_cstr(value);
    rotor_plugin_string_free(&value);
    return text;
}

/* The Centrifugo error or disconnect of a refusal. */
static rotor_centrifugo_types_centrifugo_error_t error_of(rotor_status_t refusal) {
    rotor_centrifugo_types_centrifugo_error_t error = {refusal.code, rotor_str_dup(refusal.message ? refusal.message : ""),
                                                      refusal.temporary};
    return error;
}

static rotor_centrifugo_types_disconnect_t disconnect_of(rotor_status_t refusal) {
    rotor_centrifugo_types_disconnect_t disconnect = {refusal.code, rotor_str_dup(refusal.message ? refusal.message : "")};
    return disconnect;
}

/* Fills the reply of a kind whose reply is accept, reject or disconnect. */
#define ANSWER(K, UK)                                                                              \
    void rotor__##K##_reply(rotor_centrifugo_types_##K##_reply_t *ret, rotor_status_t status,      \
                               rotor_centrifugo_types_##K##_result_t *result) {                       \
        switch (status.kind) {                                                                          \
        case ROTOR_STATUS_OK:                                                                           \
            ret->tag = ROTOR_CENTRIFUGO_TYPES_##UK##_REPLY_ACCEPT;                                    \
            ret->val.accept = *result;                                                                  \
            return;                                                                                     \
        case ROTOR_STATUS_REJECT:                                                                       \
            ret->tag = ROTOR_CENTRIFUGO_TYPES_##UK##_REPLY_REJECT;                                    \
            ret->val.reject = error_of(status);                                                         \
            break;                                                                                      \
        case ROTOR_STATUS_DISCONNECT:                                                                   \
            ret->tag = ROTOR_CENTRIFUGO_TYPES_##UK##_REPLY_DISCONNECT;                                \
            ret->val.disconnect = disconnect_of(status);                                                \
            break;                                                                                      \
        }                                                                                               \
        rotor_centrifugo_types_##K##_result_free(result);                                            \
    }

ANSWER(connect, CONNECT)
ANSWER(subscribe, SUBSCRIBE)
ANSWER(publish, PUBLISH)
ANSWER(rpc, RPC)
ANSWER(map_publish, MAP_PUBLISH)
ANSWER(map_remove, MAP_REMOVE)

/* Fills the reply of a kind whose reply is extend or expire: any refusal
 * expires, since Centrifugo ignores errors there. */
#define EXTEND(K, UK)                                                                              \
    void rotor__##K##_reply(rotor_centrifugo_types_##K##_reply_t *ret, rotor_status_t status,      \
                               rotor_centrifugo_types_##K##_result_t *result) {                       \
        if (status.kind == ROTOR_STATUS_OK) {                                                           \
            ret->tag = ROTOR_CENTRIFUGO_TYPES_##UK##_REPLY_EXTEND;                                    \
            ret->val.extend = *result;                                                                  \
            return;                                                                                     \
        }                                                                                               \
        ret->tag = ROTOR_CENTRIFUGO_TYPES_##UK##_REPLY_EXPIRE;                                        \
        rotor_centrifugo_types_##K##_result_free(result);                                            \
    }

EXTEND(refresh, REFRESH)
EXTEND(sub_refresh, SUB_REFRESH)
