/*
 * jose.h
 *		The JOSE core: base64url, JSON checks, keys, JWS and claims.  Plain
 *		bytes in, a result code out; never raises for a bad token, and uses no
 *		catalog, SPI, relcache or shared memory.
 */
#ifndef NL_JOSE_H
#define NL_JOSE_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

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

#endif							/* NL_JOSE_H */
