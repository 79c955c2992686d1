/*
 * nicelogin.h
 *		Every nicelogin.* setting (defined in nicelogin.c, with the hooks of
 *		the layer that owns the behaviour) and the generations that tell
 *		caches a setting changed.
 */
#ifndef NICELOGIN_H
#define NICELOGIN_H

#include "postgres.h"

#include "compat.h"

/* ---------- settings (nicelogin.c) ---------- */
/* verification policy */
extern bool nl_require_exp;
extern int	nl_leeway;
extern char *nl_issuer;
extern char *nl_audience;
extern int	nl_max_token_length;
/* caches */
extern int	nl_token_cache_size;
extern int	nl_shared_token_cache_size;	/* defined only when preloaded */
/* the request's token */
extern char *nl_token;
extern char *nl_request_headers;	/* PostgREST's request.headers */
/* the NiceLogin API */
extern char *nl_base_url;
extern char *nl_api_key;
extern char *nl_api_secret;
extern int	nl_http_timeout;
/* PostgREST */
extern char *nl_postgrest_channel;	/* empty: no reload notification */
/* the refresh worker */
extern char *nl_database;
extern char *nl_worker_role;
extern int	nl_refresh_interval;
extern int	nl_min_refresh_interval;
/* operations */
extern bool nl_track_stats;
extern bool nl_log_failures;

/*
 * Bumped whenever a setting that changes verification results is assigned
 * (issuer, audience, leeway, require_exp, max_token_length, and
 * token_cache_size); caches of verification results compare it.
 */
extern uint64 nl_policy_generation;
/* Bumped by the nicelogin.token and request.headers assign hooks. */
extern uint64 nl_token_generation;
extern uint64 nl_headers_generation;

#endif							/* NICELOGIN_H */
