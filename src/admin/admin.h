/*
 * admin.h
 *		The admin side: HTTP (libcurl), the NiceLogin API calls, the key store,
 *		the API secret and the refresh worker.
 */
#ifndef NL_ADMIN_H
#define NL_ADMIN_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "extension.h"

/* ---------- http.c ---------- */
/*
 * Sends one request to NiceLogin.  method is "GET", "POST" or "PATCH"; body
 * is a JSON text or NULL.  Returns the HTTP status and fills response with
 * the body; raises an ERROR when the request cannot be completed.
 */
extern long nl_http_request(const char *method, const char *url,
							const char *body, StringInfo response);

/* ---------- api.c ---------- */
/* The key set NiceLogin publishes for nicelogin.api_key (not empty), or an ERROR. */
extern Jsonb *nl_api_get_jwks(void);

/* ---------- keystore.c: the one path that stores keys ---------- */
/* Validates a JWKS and replaces the stored keys; returns the key count. */
extern int	nl_store_jwks(Jsonb *jwks, const NlExtension *ext);
/* Records a committed-with-the-keys fetch in nicelogin_jwks_fetch. */
extern void nl_record_fetch(const NlExtension *ext, const char *by, int keys);
/*
 * The name of a logical replication subscription (of this database) that
 * receives nicelogin_keys, or NULL; nl_refuse_replicated_keys() raises when
 * there is one: keys written here would conflict with the replicated rows.
 */
extern char *nl_keys_subscription(const NlExtension *ext);
extern void nl_refuse_replicated_keys(const NlExtension *ext);
/*
 * Fetches the JWKS from NiceLogin, stores it with nl_store_jwks() and records
 * the fetch (by: who fetched) with nl_record_fetch(); returns the key count,
 * raises on failure (stored keys unchanged).
 */
extern int	nl_refresh_jwks(const NlExtension *ext, const char *by);

/* ---------- worker.c ---------- */
/* Registers the refresh worker (preloaded, not in a binary upgrade). */
extern void nl_worker_register(void);

/* ---------- secret.c ---------- */
/* nicelogin.api_secret's hooks: where it may come from, who may see it. */
extern bool nl_api_secret_check_hook(char **newval, void **extra, GucSource source);
extern const char *nl_api_secret_show_hook(void);
/* Tells the server log about stored or ignored copies of the API secret (the worker, at start). */
extern void nl_log_secret_problems(void);
/*
 * The API secret, or an ERROR saying why there is none usable (not set,
 * dropped because nicelogin is not preloaded, or equal to a copy stored in a
 * catalog); never shows the value.
 */
extern const char *nl_require_api_secret(void);
/* text with every form of every secret replaced by a mask; text is wiped. */
extern char *nl_mask_secrets(char *text, const char *const *secrets, int nsecrets);

#endif							/* NL_ADMIN_H */
