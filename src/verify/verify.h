/*
 * verify.h
 *		The verification layer: the verified answer, the key cache, the
 *		deactivation and revocation lists, the token caches (per backend and
 *		shared) and the request's token.
 */
#ifndef NL_VERIFY_H
#define NL_VERIFY_H

#include "postgres.h"

#include "access/xact.h"
#include "nodes/plannodes.h"
#include "storage/lwlock.h"
#include "utils/jsonb.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "jose/jose.h"
#include "nicelogin.h"

/* ---------- josebridge.c: the JOSE core in the server ---------- */
/* The claims rules of the nicelogin.* settings, as they are now. */
extern const NlPolicy *nl_policy(void);
/*
 * nl_keyset_parse() of a JSON text in a new memory context under parent:
 * deleting that context (or nl_keyset_unload()) frees the set with its
 * OpenSSL objects, also after an error during the parse.  NULL when
 * refused, with *errmsg / *errdetail in the caller's context.
 */
extern NlKeySet *nl_keyset_load(const char *json, MemoryContext parent,
								bool allow_single_jwk, bool ignore_private,
								bool full_checks, char **errmsg, char **errdetail);
/* The same for a jsonb value. */
extern NlKeySet *nl_keyset_load_jsonb(Jsonb *jwks, MemoryContext parent,
									  bool allow_single_jwk, bool ignore_private,
									  bool full_checks, char **errmsg, char **errdetail);
extern void nl_keyset_unload(NlKeySet *set);
/* Builds a jsonb from a JSON text that passed nl_json_object_ok(). */
extern Jsonb *nl_json_to_jsonb(const char *buf, int len);
/*
 * The public members of a JWK (kty, kid, alg, use, key_ops and the key's
 * public numbers), or NULL for an oct key, an unknown kty, a non-object or a
 * "use" other than "sig".
 */
extern Jsonb *nl_jwk_public(JsonbContainer *jwk);

/* ---------- keycache.c ---------- */
/*
 * The stored key set, loaded on first use after a change to the key table
 * (found through pg_extension, a member of the extension).
 */
extern const NlKeySet *nl_keycache_get(void);
/* Generation of the cached keys; changes whenever they are dropped. */
extern PGDLLIMPORT uint64 nl_keycache_generation_value;
static inline uint64
nl_keycache_generation(void)
{
	return nl_keycache_generation_value;
}
/* SHA-256 of the text the cached keys were parsed from (NL_SHA256_LEN bytes), or NULL. */
extern const uint8 *nl_keycache_digest(void);
/* Relcache callback (registered in _PG_init): marks the cache stale. */
extern void nl_keycache_relcache_callback(Datum arg, Oid relid);

/* ---------- catalog.c ---------- */
/* A fresh registered snapshot of the latest committed state, also in parallel mode. */
extern Snapshot nl_register_fresh_snapshot(void);
/* Processes pending invalidations, once per statement. */
extern void nl_accept_invalidations(void);

/* ---------- revocation.c ---------- */
/*
 * Looks the token's user (sub, when a uuid), jti and sid up in the
 * deactivated users and revocations: NL_USER_DEACTIVATED, NL_REVOKED or
 * NL_VALID.  Index probes with the latest snapshot, in a transaction.
 */
extern NlResult nl_lists_check(const pg_uuid_t *sub, const char *jti,
							   const char *sid);
/* Generation of the answers about those tables; bumped by any change to them. */
extern PGDLLIMPORT uint64 nl_lists_generation_value;
static inline uint64
nl_lists_generation(void)
{
	return nl_lists_generation_value;
}
/*
 * Looks the tables' OIDs up if they are not known, so that this backend
 * recognizes every invalidation of them (before a shared cache lookup).
 */
extern void nl_lists_prepare(void);
/* Relcache callback (registered in _PG_init): a change of either table. */
extern void nl_lists_relcache_callback(Datum arg, Oid relid);

/* ---------- verify.c: one verification, end to end ---------- */
/*
 * What an answer was made under: this backend's generations of the keys,
 * the verification settings and the lists, and the database's lists epoch
 * and start sequence of the shared cache (sharedcache.c), read before the
 * snapshot of the lists lookup.  A shared entry keeps no generation (0):
 * they count per backend, and its context digest stands for the keys and
 * the settings.
 */
typedef struct NlStamp
{
	uint64		key_generation;	/* nl_keycache_generation() */
	uint64		policy_generation;	/* nl_policy_generation */
	uint64		lists_generation;	/* nl_lists_generation() */
	uint64		shared_epoch;	/* 0 without the shared level */
	uint64		shared_seq;
} NlStamp;

/* What nl_stamp_check() says of an answer. */
typedef enum NlCurrency
{
	NL_CURRENT,					/* still the answer */
	NL_LISTS_OLD,				/* the lists changed since: look them up again */
	NL_OUTDATED					/* the keys or the settings changed: drop it */
} NlCurrency;

/* The stamp to give an answer made now (before its lists lookup). */
extern void nl_stamp_take(NlStamp *stamp);
/* The one "still current?" check of every kept answer, at either level. */
/*
 * The first half of nl_stamp_check(), for a cache that only drops: were the
 * keys or the verification settings changed since the stamp was taken?
 */
static inline bool
nl_stamp_outdated(const NlStamp *made)
{
	return made->key_generation != 0 &&
		(made->key_generation != nl_keycache_generation() ||
		 made->policy_generation != nl_policy_generation);
}
extern NlCurrency nl_stamp_check(const NlStamp *made);

/*
 * The verified answer, one struct wherever it is kept: the per-backend
 * cache's entries, the shared cache's entries (claims and email NULL there,
 * their bytes after it) and the request's remembered answer.
 */
typedef struct NlVerified
{
	NlResult	result;
	/*
	 * The signature and the claims rules passed: result is NL_VALID,
	 * NL_USER_DEACTIVATED or NL_REVOKED, and the fields below are filled.
	 */
	bool		genuine;
	bool		has_sub_uuid;
	bool		has_company_uuid;
	bool		has_exp;
	bool		has_nbf;
	NlStamp		stamp;			/* see nl_stamp_check() */
	pg_uuid_t	sub_uuid;
	pg_uuid_t	company_uuid;
	TimestampTz exp_deadline;	/* valid until (exp + leeway) */
	TimestampTz nbf;			/* not valid before (minus the leeway) */
	Jsonb	   *claims;			/* genuine tokens only */
	char	   *email;
} NlVerified;

/*
 * Verifies a JWT against the stored keys, using and filling the token cache.
 * The result points into cache memory and is valid until the next call.
 */
extern const NlVerified *nl_verify_token(const char *token, int len);
/*
 * The same without the token cache and without the deactivation and
 * revocation lists: NL_VALID means the token is genuine (signed by a stored
 * key) and within its claims rules.  For functions that act on a token.
 */
extern const NlVerified *nl_verify_signed_token(const char *token, int len);
extern bool nl_parse_uuid(const char *s, pg_uuid_t *out);

/*
 * The one "valid at now?" check of a remembered verdict: every answer that
 * a cache gives (the per-backend and shared token caches, the request's
 * remembered answer) passes through it, whatever the verdict and whatever
 * path made or changed it (a refusal lifted when the lists changed, say).
 * A genuine token past exp (with the leeway) is NL_EXPIRED, one before nbf
 * (with the leeway) NL_NOT_YET_VALID, as nl_claims_check() decides; else
 * the verdict as it was made.  exp_deadline saturates (nl_exp_deadline):
 * nothing wraps.
 */
extern NlResult nl_time_check(const NlVerified *v, TimestampTz now);

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
/*
 * The cached verdict, as it was made: the caller applies nl_stamp_check()
 * and nl_time_check().  On a miss, *hash is the token's hash for the insert
 * (the token is hashed once).
 */
extern NlVerified *nl_tokencache_lookup(const char *token, int len, uint32 *hash);
extern const NlVerified *nl_tokencache_insert(const char *token, int len, uint32 hash,
											  const NlVerified *v);

/* ---------- sharedcache.c ---------- */
/* Claims (jsonb) and email of a shared entry, at most; larger ones are not shared. */
#define NL_SHARED_DATA_BYTES 1024
/* Partitions of the shared cache at most, one LWLock each. */
#define NL_SHARED_PARTITIONS 16

typedef struct NlSharedKey
{
	uint8		hash[NL_SHA256_LEN];	/* SHA-256 of the exact token bytes */
	int			len;
} NlSharedKey;

/* Its shared memory (size 0: off) and the hooks _PG_init installs when preloaded. */
extern Size nl_sharedcache_shmem_size(void);
extern void nl_sharedcache_shmem_init(void *base, bool found, LWLockPadded *locks);
extern void nl_sharedcache_xact_callback(XactEvent event, void *arg);
extern void nl_sharedcache_after_utility(PlannedStmt *pstmt);
extern bool nl_sharedcache_usable(void);
extern void nl_sharedcache_bump(void);
extern void nl_sharedcache_note_change(void);
extern void nl_sharedcache_tag(uint64 *epoch, uint64 *seq);
extern void nl_sharedcache_current(uint64 *epoch, uint64 *min_seq);
extern bool nl_sharedcache_key(const char *token, int len, NlSharedKey *key);
extern NlVerified *nl_sharedcache_lookup(const NlSharedKey *key, TimestampTz now,
										 bool *lists_old);
extern void nl_sharedcache_insert(const NlSharedKey *key, const NlVerified *v,
								  TimestampTz now);
extern void nl_sharedcache_refresh(const NlSharedKey *key, const NlVerified *v);

#endif							/* NL_VERIFY_H */
