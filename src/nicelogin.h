/*
 * nicelogin.h
 *		Declarations shared by the files of the nicelogin extension.
 *
 * The verification core (base64url, jwk, jws, claims) works on plain bytes
 * and returns result codes; it never raises for a bad token.  The caches and
 * SQL entry points sit on top of it.
 */
#ifndef NICELOGIN_H
#define NICELOGIN_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "storage/lockdefs.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/*
 * Marks a function that never returns; it goes before the declaration.
 * PostgreSQL 18 replaced pg_attribute_noreturn() (up to 17: after the
 * declarator, though GCC and MSVC take it in front too) by pg_noreturn.
 */
#if PG_VERSION_NUM >= 180000
#define nl_noreturn pg_noreturn
#else
#define nl_noreturn pg_attribute_noreturn()
#endif

/*
 * The OID of a table's primary key index (utils/relcache.h).  PostgreSQL 18
 * added an argument, deferrable_ok; nicelogin's primary keys are not
 * deferrable.
 */
#if PG_VERSION_NUM >= 180000
#define nl_primary_key_index(rel) RelationGetPrimaryKeyIndex((rel), false)
#else
#define nl_primary_key_index(rel) RelationGetPrimaryKeyIndex(rel)
#endif

/*
 * Start a sequential scan (access/tableam.h).  PostgreSQL 19 added a fifth
 * argument, flags (ScanOptions) on top of the scan's own; nicelogin's scans
 * ask for none.
 */
#if PG_VERSION_NUM >= 190000
#define nl_table_beginscan(rel, snap) table_beginscan((rel), (snap), 0, NULL, SO_NONE)
#else
#define nl_table_beginscan(rel, snap) table_beginscan((rel), (snap), 0, NULL)
#endif

/*
 * Building a jsonb value with pushJsonbValue() (utils/jsonb.h).  PostgreSQL
 * 19 made its state a JsonbInState (zeroed to start; the finished value in
 * its result member) instead of a JsonbParseState pointer, and made it
 * return nothing.  Both read the same way with these: declare
 * "NlJsonbState ps = NL_JSONB_STATE_INIT;", push with pushJsonbValue(&ps, ...)
 * and close the outermost container with nl_jsonb_finish(&ps, WJB_END_...),
 * which returns the finished value.
 */
#if PG_VERSION_NUM >= 190000
typedef JsonbInState NlJsonbState;
#define NL_JSONB_STATE_INIT {0}
static inline JsonbValue *
nl_jsonb_finish(NlJsonbState *ps, JsonbIteratorToken end)
{
	pushJsonbValue(ps, end, NULL);
	return ps->result;
}
#else
typedef JsonbParseState *NlJsonbState;
#define NL_JSONB_STATE_INIT NULL
static inline JsonbValue *
nl_jsonb_finish(NlJsonbState *ps, JsonbIteratorToken end)
{
	return pushJsonbValue(ps, end, NULL);
}
#endif

/* ---------- settings (nicelogin.c) ---------- */
extern bool nl_require_exp;
extern int	nl_leeway;
extern char *nl_issuer;
extern char *nl_audience;
extern int	nl_max_token_length;
extern int	nl_token_cache_size;
extern int	nl_shared_token_cache_size;
extern char *nl_token;
extern char *nl_request_headers;	/* PostgREST's request.headers */
extern char *nl_base_url;
extern char *nl_api_key;
extern char *nl_api_secret;
extern char *nl_postgrest_channel;	/* empty: no reload notification */
extern int	nl_http_timeout;

/*
 * Bumped whenever a setting that changes verification results is assigned
 * (issuer, audience, leeway, require_exp, max_token_length); caches of
 * verification results compare it.
 */
extern uint64 nl_policy_generation;
/* Bumped by the nicelogin.token and request.headers assign hooks. */
extern uint64 nl_token_generation;
extern uint64 nl_headers_generation;

/* ---------- result codes ---------- */
typedef enum NlResult
{
	NL_VALID = 0,
	NL_MALFORMED,
	NL_TOO_LONG,
	NL_UNSUPPORTED_ALG,
	NL_UNKNOWN_KEY,
	NL_BAD_SIGNATURE,
	NL_MISSING_EXP,
	NL_EXPIRED,
	NL_NOT_YET_VALID,
	NL_WRONG_ISSUER,
	NL_WRONG_AUDIENCE,
	NL_USER_DEACTIVATED,
	NL_REVOKED,
	NL_NO_KEYS,					/* no key stored (or none usable): every token */
	NL_NRESULTS					/* the number of result codes (for arrays
								 * indexed by NlResult): keep it last */
} NlResult;

extern const char *nl_result_name(NlResult r);

/* ---------- base64url.c ---------- */
/*
 * Strict base64url (RFC 7515 section 2): alphabet A-Z a-z 0-9 - _, no
 * padding, no whitespace, and unused trailing bits must be zero.  Returns the
 * decoded length, or -1 when the input is not canonical base64url.  dst must
 * hold nl_b64url_dec_len(srclen) bytes.
 */
extern int	nl_b64url_decode(const char *src, int srclen, unsigned char *dst);
#define nl_b64url_dec_len(n) (((n) * 3) / 4 + 3)
/* Appends the canonical base64url encoding of src (no padding) to dst. */
extern void nl_b64url_encode(const unsigned char *src, int srclen, StringInfo dst);

/* ---------- algorithms ---------- */
typedef enum NlAlg
{
	NL_ALG_NONE = 0,			/* not a supported JWS algorithm */
	NL_ALG_RS256, NL_ALG_RS384, NL_ALG_RS512,
	NL_ALG_PS256, NL_ALG_PS384, NL_ALG_PS512,
	NL_ALG_ES256, NL_ALG_ES384, NL_ALG_ES512,
	NL_ALG_EDDSA,
	NL_ALG_HS256, NL_ALG_HS384, NL_ALG_HS512
} NlAlg;

extern NlAlg nl_alg_from_name(const char *name, int len);
extern const char *nl_alg_name(NlAlg alg);

/* ---------- jwk.c: key sets ---------- */
typedef enum NlKty
{
	NL_KTY_RSA = 1,
	NL_KTY_EC,
	NL_KTY_OKP,
	NL_KTY_OCT
} NlKty;

typedef struct NlKey
{
	char	   *kid;			/* NULL when the JWK has none */
	NlKty		kty;
	int			curve_nid;		/* EC / OKP: OpenSSL NID of the curve */
	NlAlg		alg;			/* NL_ALG_NONE when the JWK names none */
	bool		alg_present;	/* JWK has an "alg" member */
	bool		for_signing;	/* use/key_ops/alg allow verifying JWS */
	void	   *pkey;			/* EVP_PKEY * for asymmetric keys */
	unsigned char *secret;		/* oct keys */
	int			secret_len;
	/* EVP_MD_CTX * set up to verify with alg verify_ctx_alg; made on first use */
	void	   *verify_ctx;
	NlAlg		verify_ctx_alg;
} NlKey;

/*
 * Bounds on key sets, so that a key set from anyone (nicelogin_jws_verify is
 * open to PUBLIC) costs bounded work to parse and to use.  Fixed, not
 * settings: they guard the server, and no real key set comes near them.
 *
 * NL_MAX_KEYS: NiceLogin publishes a handful of keys (current, next,
 * previous); 64 leaves room for sets merged by hand.  Checked on the array's
 * size before any key is parsed.
 */
#define NL_MAX_KEYS 64
/*
 * Half OpenSSL's own bound (16384).  The one step no cancel can interrupt is
 * OpenSSL's check of a key being stored (a Miller-Rabin round on n, a full
 * exponentiation): about 0.1 s at 8192 bits, 0.8 s at 16384.
 */
#define NL_MAX_RSA_BITS 8192
/*
 * A verification is one exponentiation by e; 65537 (17 bits) is universal,
 * and a huge e (n - 2) makes every check cost a private-key operation.
 */
#define NL_MAX_RSA_EXPONENT_BITS 32
/* HMAC hashes a key longer than its block; HS512 needs 64 bytes */
#define NL_MAX_HMAC_KEY_BYTES 1024

typedef struct NlKeySet
{
	MemoryContext cxt;			/* holds the set; deleting it frees the keys */
	int			nkeys;
	int			maxkeys;
	bool		symmetric;		/* holds oct keys (then no asymmetric ones) */
	NlKey	   *keys;
} NlKeySet;

/*
 * Parses a JWKS ({"keys": [...]}) or, when allow_single_jwk, a single JWK.
 * The set and its OpenSSL objects live in a new memory context under
 * parent; deleting it frees everything.  On a bad set, returns NULL and sets
 * *errmsg / *errdetail (palloc'd in the caller's context); never raises for
 * bad input.  With ignore_private, private members (d, p, ...) are ignored;
 * otherwise they are an error.  full_checks adds OpenSSL's RSA public key
 * check (a primality test of the modulus, milliseconds per key): done when
 * keys are stored, not when a backend loads them or for nicelogin_jws_verify.
 */
extern NlKeySet *nl_keyset_parse(Jsonb *jwks, MemoryContext parent,
								 bool allow_single_jwk, bool ignore_private,
								 bool full_checks, char **errmsg, char **errdetail);
/*
 * The public members of a JWK (kty, kid, alg, use, key_ops and the key's
 * public numbers), or NULL for an oct key, an unknown kty, a non-object or a
 * "use" other than "sig".
 */
extern Jsonb *nl_jwk_public(JsonbContainer *jwk);

/* ---------- jws.c: compact JWS ---------- */
typedef struct NlJws
{
	/* decoded payload (palloc'd, NUL-terminated for convenience) */
	char	   *payload;
	int			payload_len;
	NlAlg		alg;
	int			key_index;		/* the key that verified */
	bool		kid_not_stored; /* unknown_key because no key has this kid */
} NlJws;

/*
 * A token without kid is tried against the compatible keys in set order, at
 * most this many: bad_signature beyond.  NiceLogin's tokens carry a kid;
 * a kid-less token rarely meets more than two candidates (the current and
 * the next key), and each try may cost an RSA-8192 check.
 */
#define NL_MAX_KIDLESS_TRIES 4

/*
 * Checks the header and signature of a compact JWS against a key set.
 * Returns NL_VALID and fills *out, or the reason the JWS is refused.  Never
 * raises for bad input.
 */
extern NlResult nl_jws_verify(const char *token, int len, const NlKeySet *keys,
							  NlJws *out);
/* Decodes the payload segment without any check; NULL when malformed. */
extern char *nl_jws_unverified_payload(const char *token, int len, int *payload_len);
/* The same for the header segment. */
extern char *nl_jws_unverified_header(const char *token, int len, int *header_len);

/* SHA-256 of data (OpenSSL); false when OpenSSL fails.  Never raises. */
#define NL_SHA256_LEN 32
extern bool nl_sha256(const void *data, size_t len, uint8 *out);

/* ---------- claims.c: JSON checks and payload rules ---------- */

/* Claims pulled out of a payload that passed nl_json_check(). */
typedef struct NlClaims
{
	double		exp;
	double		nbf;
	double		iat;
	bool		has_exp;
	bool		has_nbf;
	bool		has_iat;
	char	   *iss;
	char	   *sub;
	char	   *company_id;
	char	   *email;
	char	   *jti;
	char	   *sid;
	List	   *aud;			/* list of char * */
	bool		has_aud;
	bool		bad_types;		/* a registered claim has the wrong type */
} NlClaims;

/* Collected top-level members of a JWS header. */
typedef struct NlHeader
{
	char	   *alg;
	char	   *kid;
	bool		has_alg;
	bool		has_kid;
	bool		has_crit;
	bool		b64_false;		/* "b64": false (RFC 7797) */
	bool		bad_types;
} NlHeader;

/*
 * Checks that buf is a single JSON object, valid UTF-8, not nested too
 * deeply, without duplicate member names, with numbers jsonb can store, and
 * without \u0000.  Never raises.
 */
extern bool nl_json_object_ok(const char *buf, int len);
extern bool nl_header_parse(const char *buf, int len, NlHeader *hdr);
extern bool nl_claims_parse(const char *buf, int len, NlClaims *claims);
/* A top-level string member of a JSON object, name matched in any case. */
extern char *nl_json_find_string(const char *buf, int len, const char *name);
/* Applies the claims rules (exp, nbf, iss, aud) at time now. */
extern NlResult nl_claims_check(const NlClaims *claims, TimestampTz now);
/*
 * Seconds since 1970 as a timestamptz, clamped to [MIN_TIMESTAMP,
 * END_TIMESTAMP] (END_TIMESTAMP itself is past the type's range: fine for
 * comparisons, not for storing).
 */
extern TimestampTz nl_unix_to_timestamptz(double secs);
/* exp + leeway, for a token with an exp claim */
extern TimestampTz nl_exp_deadline(const NlClaims *claims);
/* nbf as a timestamptz, for a token with an nbf claim */
extern TimestampTz nl_nbf_time(const NlClaims *claims);
/* Is a token with this nbf not yet valid at now (with the leeway)? */
extern bool nl_nbf_pending(TimestampTz nbf, TimestampTz now);
/* Builds a jsonb from a JSON text that passed nl_json_object_ok(). */
extern Jsonb *nl_json_to_jsonb(const char *buf, int len);

/* ---------- extension.c ---------- */
/* The extension's row in pg_extension, in the current database. */
typedef struct NlExtension
{
	Oid			oid;
	Oid			schema;
	Oid			owner;
	char	   *version;		/* extversion, as installed */
} NlExtension;

/* Fills ext; false when nicelogin is not installed in this database. */
extern bool nl_extension_find(NlExtension *ext);
/* Fills ext, or raises when nicelogin is not installed in this database. */
extern void nl_extension_get(NlExtension *ext);
/* Is the installed version at least since ("1.1")? */
extern bool nl_extension_at_least(const NlExtension *ext, const char *since);
/* Raises (55000, "run ALTER EXTENSION nicelogin UPDATE") unless at least since. */
extern void nl_require_version(const NlExtension *ext, const char *since, const char *what);
/*
 * The only ways to find an object of the extension by name: a member of the
 * extension that comes with version since, or an ERROR.  qualified: see
 * extension.c (for a table named in SQL).
 */
extern Oid	nl_member_table(const NlExtension *ext, const char *name, const char *since,
							LOCKMODE lockmode, char **qualified);
extern Oid	nl_member_function(const NlExtension *ext, const char *name, int nargs,
							   const Oid *argtypes, const char *since);

/*
 * Runs an SQL statement of nicelogin's with parameters (SPI connected), so
 * that no value reaches the server log (auto_explain); returns the SPI code.
 */
extern int	nl_spi_execute(const char *sql, int nargs, const Oid *argtypes,
						   const Datum *values, const char *nulls, long tcount);

/* ---------- keycache.c ---------- */
/*
 * The stored key set, loaded on first use after a change to the key table
 * (found through pg_extension, a member of the extension; fn_oid, the
 * calling SQL function, is not needed for that any more).
 */
extern const NlKeySet *nl_keycache_get(Oid fn_oid);
/* Generation of the cached keys; changes whenever they are dropped. */
extern uint64 nl_keycache_generation(void);
/* SHA-256 of the text the cached keys were parsed from (NL_SHA256_LEN bytes), or NULL. */
extern const uint8 *nl_keycache_digest(void);
/* A fresh registered snapshot of the latest committed state, also in parallel mode. */
extern Snapshot nl_register_fresh_snapshot(void);
/* Processes pending invalidations, once per statement. */
extern void nl_accept_invalidations(void);
extern void nl_keycache_init(void);
/*
 * Pins search_path to "pg_catalog, pg_temp" until nl_unpin_search_path():
 * code that runs SQL with privilege (the worker, SECURITY DEFINER functions,
 * SPI from C, nicelogin_test's too) must not resolve a name through a schema
 * that a lesser role controls (a database owner's ALTER DATABASE ... SET
 * search_path, a role setting, the caller's SET).  pg_temp is last, where it
 * is never searched for functions or operators.  Returns the GUC nest level
 * to pass back.  On an error the transaction's abort undoes it.  Inline, so
 * that nicelogin_test.so, which links none of keycache.c, has it too.
 */
static inline int
nl_pin_search_path(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

static inline void
nl_unpin_search_path(int level)
{
	AtEOXact_GUC(true, level);
}

/* ---------- revocation.c ---------- */
/*
 * Looks the token's user (sub, when a uuid), jti and sid up in the
 * deactivated users and revocations: NL_USER_DEACTIVATED, NL_REVOKED or
 * NL_VALID.  Index probes with the latest snapshot, in a transaction.
 */
extern NlResult nl_lists_check(Oid fn_oid, const pg_uuid_t *sub, const char *jti,
							   const char *sid);
/* Generation of the answers about those tables; bumped by any change to them. */
extern uint64 nl_lists_generation(void);
/*
 * Looks the tables' OIDs up if they are not known, so that this backend
 * recognizes every invalidation of them (before a shared cache lookup).
 */
extern void nl_lists_prepare(Oid fn_oid);
extern void nl_revocation_init(void);

/* ---------- verify.c: one verification, end to end ---------- */
typedef struct NlVerified
{
	NlResult	result;
	/*
	 * The signature and the claims rules passed: result is NL_VALID,
	 * NL_USER_DEACTIVATED or NL_REVOKED, the fields below are filled, and
	 * lists_generation is the nl_lists_generation() the lists answer was
	 * made under (an older one is looked up again).
	 */
	bool		genuine;
	uint64		lists_generation;
	uint64		shared_epoch;	/* nl_sharedcache_tag() before the lists lookup */
	uint64		shared_seq;
	Jsonb	   *claims;			/* genuine tokens only */
	bool		has_sub_uuid;
	pg_uuid_t	sub_uuid;
	bool		has_company_uuid;
	pg_uuid_t	company_uuid;
	char	   *email;
	TimestampTz exp_deadline;	/* valid until (exp + leeway) */
	bool		has_exp;
	bool		has_nbf;
	TimestampTz nbf;			/* not valid before (minus the leeway) */
} NlVerified;

/*
 * Verifies a JWT against the stored keys, using and filling the token cache.
 * The result points into cache memory and is valid until the next call.
 */
extern const NlVerified *nl_verify_token(const char *token, int len, Oid fn_oid);
/*
 * The same without the token cache and without the deactivation and
 * revocation lists: NL_VALID means the token is genuine (signed by a stored
 * key) and within its claims rules.  For functions that act on a token.
 */
extern const NlVerified *nl_verify_signed_token(const char *token, int len, Oid fn_oid);
extern bool nl_parse_uuid(const char *s, pg_uuid_t *out);

/*
 * The one "valid at now?" check of a remembered verdict: every answer that
 * a cache gives (the per-backend and shared token caches, the request's
 * remembered answer) passes through it, whatever the verdict and whatever
 * path made or changed it (a refusal lifted when the lists changed, say).
 * A genuine token past exp (with the leeway) is NL_EXPIRED, one before nbf
 * (with the leeway) NL_NOT_YET_VALID, as nl_claims_check() decides; else
 * NL_VALID.  exp_deadline saturates (nl_exp_deadline): nothing wraps.
 */
extern NlResult nl_time_check(bool has_exp, TimestampTz exp_deadline,
							  bool has_nbf, TimestampTz nbf, TimestampTz now);

/* ---------- request.c ---------- */
/*
 * The request's token (nicelogin.token, else the bearer of request.headers
 * when the session set it), normalised, or NULL.  Remembered until either
 * setting changes; the caller must not change or free it.
 */
extern const char *nl_request_token(void);
/*
 * A client's token with surrounding whitespace and a "Bearer " prefix (any
 * case) removed: the start inside value, its length in *outlen; *bearer
 * (may be NULL) says whether the prefix was there.  Never raises.
 */
extern const char *nl_token_normalize(const char *value, int len, int *outlen,
									  bool *bearer);

/* ---------- tokencache.c ---------- */
/* The cached verdict, as it was made: the caller applies nl_time_check(). */
extern NlVerified *nl_tokencache_lookup(const char *token, int len);
extern const NlVerified *nl_tokencache_insert(const char *token, int len, const NlVerified *v);
extern void nl_tokencache_reset(void);

/* ---------- stats.c: counters behind the nicelogin_stats views ---------- */
/*
 * Who answered a verification request: a full verification (a token cache
 * miss) or the per-backend token cache.  A new source (say, a cluster-wide
 * cache's hits) is one more value here (before the count below is taken)
 * and one more OUT column of nicelogin_stats_answers() and of the view, in
 * this order; stats.c needs no change.
 */
typedef enum NlStatsSource
{
	NL_STATS_VERIFIED = 0,
	NL_STATS_CACHED,
	NL_STATS_SHARED				/* the cluster-wide cache (sharedcache.c) */
} NlStatsSource;
#define NL_STATS_NSOURCES (NL_STATS_SHARED + 1)

/*
 * Per-database events that are not answers; one column each in
 * nicelogin_stats_events() and nicelogin_stats_keys, in this order (a new
 * one, say shared cache evictions, is added the same way as a source).
 */
typedef enum NlStatsEvent
{
	NL_STATS_KEY_LOAD = 0,		/* a backend read the key table */
	NL_STATS_KEY_PARSE,			/* ... and found other keys than it had */
	NL_STATS_REFRESH_REQUEST	/* a kid not in the stored set: early refresh asked */
} NlStatsEvent;
#define NL_STATS_NEVENTS (NL_STATS_REFRESH_REQUEST + 1)

/*
 * This backend's counts not yet added to shared memory.  Counting is a
 * plain increment here; stats.c adds them to shared memory at the end of
 * each transaction, before the views are read, and at backend exit.
 */
typedef struct NlStatsPending
{
	bool		any;
	int64		answers[NL_STATS_NSOURCES][NL_NRESULTS];
	int64		events[NL_STATS_NEVENTS];
} NlStatsPending;

extern bool nl_track_stats;
extern NlStatsPending nl_stats_pending;

/* Counts one answer with result r from source src. */
static inline void
nl_stats_answer(NlStatsSource src, NlResult r)
{
	if (nl_track_stats)
	{
		nl_stats_pending.answers[src][r]++;
		nl_stats_pending.any = true;
	}
}

/* Counts one event of the current database. */
static inline void
nl_stats_count(NlStatsEvent ev)
{
	if (nl_track_stats)
	{
		nl_stats_pending.events[ev]++;
		nl_stats_pending.any = true;
	}
}

extern void nl_stats_init(void);

/* ---------- faillog.c: nicelogin.log_failures ---------- */
extern bool nl_log_failures;
/*
 * Logs a refused verification (when nicelogin.log_failures is on, at most
 * NL_LOG_FAILURES_PER_MINUTE a minute per backend).  Never raises for a bad
 * token; never logs the token, its signature or its payload.
 */
extern void nl_log_refusal(const char *token, int len, NlResult r);
extern void nl_faillog_init(void);

/* ---------- sharedcache.c ---------- */
/* Claims (jsonb) and email of a shared entry, at most; larger ones are not shared. */
#define NL_SHARED_DATA_BYTES 1024

typedef struct NlSharedKey
{
	uint8		hash[NL_SHA256_LEN];	/* SHA-256 of the exact token bytes */
	int			len;
} NlSharedKey;

extern void nl_sharedcache_init(void);
extern bool nl_sharedcache_usable(void);
extern void nl_sharedcache_bump(void);
extern void nl_sharedcache_note_change(void);
extern void nl_sharedcache_tag(uint64 *epoch, uint64 *seq);
extern bool nl_sharedcache_key(const char *token, int len, NlSharedKey *key);
extern NlVerified *nl_sharedcache_lookup(const NlSharedKey *key, TimestampTz now);
extern void nl_sharedcache_insert(const NlSharedKey *key, const NlVerified *v,
								  TimestampTz now);

/* ---------- api.c / http.c ---------- */
/*
 * Sends one request to NiceLogin.  method is "GET", "POST" or "PATCH"; body
 * is a JSON text or NULL.  Returns the HTTP status and fills response with
 * the body; raises an ERROR when the request cannot be completed.
 */
extern long nl_http_request(const char *method, const char *url,
							const char *body, StringInfo response);

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

extern void nl_guc_init(void);

/*
 * Fetches the JWKS from NiceLogin, stores it with nl_store_jwks() and records
 * the fetch (by: who fetched) with nl_record_fetch(); returns the key count,
 * raises on failure (stored keys unchanged).
 */
extern int	nl_refresh_jwks(const NlExtension *ext, const char *by);

/* ---------- worker.c ---------- */
extern char *nl_database;
extern char *nl_worker_role;
extern int	nl_refresh_interval;
extern int	nl_min_refresh_interval;
extern void nl_worker_init(void);
/* A backend met a kid that is not in the stored set. */
extern void nl_worker_request_refresh(void);
/* Outcome of a refresh, for nicelogin_jwks_status(). */
extern void nl_worker_record(bool ok, const char *by, int keys, const char *error);

/* ---------- secret.c ---------- */
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

#endif							/* NICELOGIN_H */
