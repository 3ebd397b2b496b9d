/*
 * Routes RPC calls by method name, like the Rust rpc-router:
 *
 * - `echo`: answers with the call's data as it is;
 * - `whoami`: answers `{"user": <user id>, "client": <connection id>}`;
 * - `sum`: takes `{"numbers": [..]}` and answers `{"sum": <total>}`; anything
 *   else is refused with `107 bad request`;
 * - any other method is refused with `104 method not found`.
 *
 * Reads no config keys and imports nothing from the host. The JSON reader
 * below knows just enough JSON to find the numbers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rotor.h"

/* A cursor over JSON text. */
typedef struct reader {
    const uint8_t *at, *end;
} reader;

static void skip_space(reader *r) {
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r')) r->at++;
}

/* Consumes c (after spaces) if it comes next. */
static bool take(reader *r, char c) {
    skip_space(r);
    if (r->at < r->end && *r->at == (uint8_t) c) {
        r->at++;
        return true;
    }
    return false;
}

/* Reads a string; its raw text (escapes kept) is name, if not NULL. */
static bool read_string(reader *r, rotor_string_t *name) {
    if (!take(r, '"')) return false;
    const uint8_t *start = r->at;
    while (r->at < r->end && *r->at != '"') {
        if (*r->at == '\\') r->at++;
        r->at++;
    }
    if (r->at >= r->end) return false;
    if (name != NULL) {
        name->ptr = (uint8_t *) start;
        name->len = (size_t) (r->at - start);
    }
    r->at++;
    return true;
}

/* Reads a number into value. */
static bool read_number(reader *r, double *value) {
    skip_space(r);
    char text[64];
    size_t len = 0;
    while (r->at + len < r->end && len < sizeof text - 1 && strchr("+-0123456789.eE", r->at[len]) != NULL) {
        text[len] = (char) r->at[len];
        len++;
    }
    if (len == 0 || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9'))) return false;
    text[len] = '\0';
    char *end;
    *value = strtod(text, &end);
    if ((size_t) (end - text) != len) return false;
    r->at += len;
    return true;
}

static bool skip_value(reader *r, int depth);

/* Skips the members of an object or the items of an array, after its opening. */
static bool skip_items(reader *r, char close, bool keyed, int depth) {
    if (take(r, close)) return true;
    do {
        if (keyed && !(read_string(r, NULL) && take(r, ':'))) return false;
        if (!skip_value(r, depth + 1)) return false;
    } while (take(r, ','));
    return take(r, close);
}

static bool skip_value(reader *r, int depth) {
    if (depth > 64) return false;
    skip_space(r);
    if (r->at >= r->end) return false;
    double ignored;
    switch (*r->at) {
    case '"': return read_string(r, NULL);
    case '{': r->at++; return skip_items(r, '}', true, depth);
    case '[': r->at++; return skip_items(r, ']', false, depth);
    case 't': case 'f': case 'n':
        for (const char *word = *r->at == 't' ? "true" : *r->at == 'f' ? "false" : "null"; *word; word++) {
            if (r->at >= r->end || *r->at++ != (uint8_t) *word) return false;
        }
        return true;
    default: return read_number(r, &ignored);
    }
}

/* The total of `{"numbers": [..]}` in data. */
static bool sum(rotor_bytes_t data, double *total) {
    reader r = {data.ptr, data.ptr + data.len};
    bool found = false;
    *total = 0;
    if (!take(&r, '{')) return false;
    if (!take(&r, '}')) {
        do {
            rotor_string_t key;
            if (!read_string(&r, &key) || !take(&r, ':')) return false;
            if (rotor_str_eq(key, "numbers")) {
                if (!take(&r, '[')) return false;
                found = true;
                *total = 0;
                if (!take(&r, ']')) {
                    do {
                        double number;
                        if (!read_number(&r, &number)) return false;
                        *total += number;
                    } while (take(&r, ','));
                    if (!take(&r, ']')) return false;
                }
            } else if (!skip_value(&r, 0)) {
                return false;
            }
        } while (take(&r, ','));
        if (!take(&r, '}')) return false;
    }
    skip_space(&r);
    return found && r.at == r.end;
}

/* Appends s to out as a JSON string; out has room for 6 bytes per byte of s. */
static size_t quote(char *out, rotor_string_t s) {
    size_t len = 0;
    out[len++] = '"';
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c == '"' || c == '\\') {
            out[len++] = '\\';
            out[len++] = (char) c;
        } else if (c < 0x20) {
            len += (size_t) sprintf(out + len, "\\u%04x", c);
        } else {
            out[len++] = (char) c;
        }
    }
    out[len++] = '"';
    return len;
}

static rotor_status_t route(const rotor_rpc_request_t *request, rotor_rpc_result_t *result) {
    if (rotor_str_eq(request->method, "echo")) {
        result->data = rotor_bytes_dup(request->data.ptr, request->data.len);
        return ROTOR_OK;
    }
    if (rotor_str_eq(request->method, "whoami")) {
        char *text = malloc(32 + 6 * (request->user.len + request->conn.client.len));
        if (text == NULL) return rotor_internal_error();
        size_t len = (size_t) sprintf(text, "{\"user\":");
        len += quote(text + len, request->user);
        len += (size_t) sprintf(text + len, ",\"client\":");
        len += quote(text + len, request->conn.client);
        text[len++] = '}';
        result->data.ptr = (uint8_t *) text;
        result->data.len = len;
        return ROTOR_OK;
    }
    if (rotor_str_eq(request->method, "sum")) {
        double total;
        if (!sum(request->data, &total)) return rotor_bad_request("expected {\"numbers\": [<number>, ...]}");
        if (!isfinite(total)) return rotor_bad_request("sum overflows");
        char text[64];
        int len = snprintf(text, sizeof text, "{\"sum\":%.17g}", total);
        result->data = rotor_bytes_dup(text, (size_t) len);
        return ROTOR_OK;
    }
    return rotor_method_not_found();
}

ROTOR_RPC(route)
