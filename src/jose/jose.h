/*
 * jose.h
 *		The JOSE core: base64url, JSON checks, algorithms, keys, JWS and
 *		claims.  Bytes and JSON text in, a result code out; never raises for
 *		bad input, and uses no catalog, SPI, relcache, shared memory, setting
 *		or memory context: the caller passes its rules in (NlPolicy) and owns
 *		the memory (everything is palloc'd in the current memory context).
 *		Builds in the server and, with FRONTEND, outside it (port.h).
 */
#ifndef NL_JOSE_H
#define NL_JOSE_H

#include "jose/port.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

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

/* The result's name, as nicelogin_check() returns it; "unknown" out of range. */
extern const char *nl_result_name(NlResult r);

/*
 * The rules a token is checked against, from the caller (the server's
 * nicelogin.* settings: nl_policy() in verify.c).
 */
typedef struct NlPolicy
{
	bool		require_exp;	/* a token without exp is NL_MISSING_EXP */
	int			leeway;			/* seconds of clock skew allowed for exp and nbf */
	const char *issuer;			/* iss must equal it; NULL or "": any */
	const char *audience;		/* aud must hold it; NULL or "": any */
	int			max_token_length;	/* longer tokens are NL_TOO_LONG */
} NlPolicy;

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

/* ---------- alg.c: the algorithms, one row each ---------- */
typedef enum NlAlg
{
	NL_ALG_NONE = 0,			/* not a supported JWS algorithm */
	NL_ALG_RS256, NL_ALG_RS384, NL_ALG_RS512,
	NL_ALG_PS256, NL_ALG_PS384, NL_ALG_PS512,
	NL_ALG_ES256, NL_ALG_ES384, NL_ALG_ES512,
	NL_ALG_EDDSA,
	NL_ALG_HS256, NL_ALG_HS384, NL_ALG_HS512
} NlAlg;

typedef enum NlKty
{
	NL_KTY_RSA = 1,
	NL_KTY_EC,
	NL_KTY_OKP,
	NL_KTY_OCT
} NlKty;

/*
 * Everything nicelogin knows about one JWS algorithm (RFC 7518, RFC 8037):
 * header parsing, key compatibility, verification and the test-signing
 * library (nicelogin_test) all read this table.  Adding an algorithm is one
 * row in alg.c (and its tests).
 */
typedef struct NlAlgInfo
{
	NlAlg		alg;
	const char *name;			/* the JWS "alg" */
	NlKty		kty;			/* the key type it needs */
	const char *crv;			/* EC, OKP: the JWK "crv" it needs */
	int			curve_nid;		/* EC, OKP: that curve's OpenSSL NID */
	const char *group;			/* EC: OpenSSL's group name */
	const char *md;				/* OpenSSL digest name; NULL for EdDSA */
	int			sig_size;		/* signature bytes; 0: the RSA modulus's size */
	int			min_key_bytes;	/* HMAC: the shortest key (the hash's size) */
	bool		pss;			/* RSASSA-PSS: MGF1 with the same hash, salt
								 * as long as the hash (RFC 7518 3.5) */
} NlAlgInfo;

/* The table, in NlAlg order without NL_ALG_NONE; nl_nalgs rows. */
extern const NlAlgInfo nl_algs[];
extern const int nl_nalgs;
/* The row of an algorithm, by name (exact case) or by code; NULL when none. */
extern const NlAlgInfo *nl_alg_by_name(const char *name, int len);
extern const NlAlgInfo *nl_alg_info(NlAlg alg);
extern NlAlg nl_alg_from_name(const char *name, int len);
extern const char *nl_alg_name(NlAlg alg);
/* The row for a JWK "crv" (EC, OKP), or NULL. */
extern const NlAlgInfo *nl_alg_by_curve(NlKty kty, const char *crv);
/* The algorithm's OpenSSL digest (EVP_MD *); NULL for EdDSA. */
extern const void *nl_alg_md(const NlAlgInfo *alg);
/*
 * Sets up an OpenSSL signing or verification context (EVP_PKEY_CTX *) for
 * the algorithm's padding: PKCS #1 v1.5 or PSS for RSA, nothing otherwise.
 * False when OpenSSL refuses.
 */
extern bool nl_alg_setup_pkey_ctx(const NlAlgInfo *alg, void *pctx);
/*
 * ECDSA signatures in JWS are r || s, each coord_len bytes; OpenSSL's are
 * DER.  Both return an OPENSSL_malloc'd buffer (the caller OPENSSL_free's
 * it), or NULL when the input does not convert.
 */
extern unsigned char *nl_ecdsa_raw_to_der(const unsigned char *sig, int sig_len,
										  int coord_len, int *der_len);
extern unsigned char *nl_ecdsa_der_to_raw(const unsigned char *der, int der_len,
										  int coord_len);

/* ---------- json.c: JSON text as a tree (key sets) ---------- */
typedef enum NlJsonType
{
	NL_JSON_NULL,
	NL_JSON_TRUE,
	NL_JSON_FALSE,
	NL_JSON_NUMBER,
	NL_JSON_STRING,
	NL_JSON_ARRAY,
	NL_JSON_OBJECT
} NlJsonType;

typedef struct NlJson NlJson;
struct NlJson
{
	NlJsonType	type;
	char	   *str;			/* NUMBER, STRING: the text (escapes decoded) */
	int			len;			/* its length */
	int			n;				/* ARRAY, OBJECT: elements or members */
	int			cap;
	char	  **names;			/* OBJECT: member names */
	NlJson	  **items;			/* elements, member values */
};

/* nesting deeper than this is refused by nl_json_parse() */
#define NL_MAX_JSON_TREE_DEPTH 64

/*
 * Parses a JSON text into a tree; NULL when it is not JSON or nests deeper
 * than NL_MAX_JSON_TREE_DEPTH.  Strings keep the server's encoding (UTF-8 in
 * the frontend).  Never raises for bad input.
 */
extern NlJson *nl_json_parse(const char *buf, int len);
extern void nl_json_free(NlJson *j);
/* A member of an object (the last of that name, as jsonb keeps); NULL when absent. */
extern const NlJson *nl_json_member(const NlJson *obj, const char *name);
/*
 * A string member; NULL when absent, and *ok = false (else unchanged) when
 * present but not a string.  Points into obj.
 */
extern const char *nl_json_member_string(const NlJson *obj, const char *name, bool *ok);
/*
 * Decodes a base64url string member into a palloc'd *out; returns the
 * length, -1 when absent, -2 when not a valid base64url string, -3 when it
 * would decode to more than max_bytes (checked before decoding).
 */
extern int	nl_json_member_b64(const NlJson *obj, const char *name,
							   unsigned char **out, int max_bytes);

/* ---------- jwk.c: key sets ---------- */
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
	int			nkeys;
	NlKey	   *keys;
} NlKeySet;

/*
 * Parses a JWKS ({"keys": [...]}) or, when allow_single_jwk, a single JWK,
 * given as JSON text, into *set (zeroed by the caller).  True when the set
 * is usable; else false with *errmsg / *errdetail set (palloc'd) and
 * nothing left in *set.  Never raises for bad input.  With ignore_private,
 * private members (d, p, ...) are ignored; otherwise they are an error.
 * full_checks adds OpenSSL's RSA public key check (a primality test of the
 * modulus, milliseconds per key): done when keys are stored, not when a
 * backend loads them or for nicelogin_jws_verify.
 *
 * At every CHECK_FOR_INTERRUPTS() inside, each OpenSSL object made so far
 * belongs to a key counted in set->nkeys: a caller that frees the set with
 * nl_keyset_free() when its memory context goes (a reset callback) leaks
 * nothing on a cancel.
 */
extern bool nl_keyset_parse(const char *json, int len, bool allow_single_jwk,
							bool ignore_private, bool full_checks, NlKeySet *set,
							char **errmsg, char **errdetail);
/* Frees the keys' OpenSSL objects and memory, leaving an empty set; again is harmless. */
extern void nl_keyset_free(NlKeySet *set);

/* ---------- claims.c: JSON checks and payload rules ---------- */

/* Claims pulled out of a payload that passed nl_json_object_ok(). */
typedef struct NlClaims
{
	double		exp;
	double		nbf;
	bool		has_exp;
	bool		has_nbf;
	char	   *iss;
	char	   *sub;
	char	   *company_id;
	char	   *email;
	char	   *jti;
	char	   *sid;
	char	  **aud;			/* the aud strings (one for a string aud) */
	int			naud;
	int			aud_cap;
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
/*
 * The scan before parsing: nesting no deeper than max_depth (brackets in
 * strings skipped), with ascii_escapes no \u escape beyond ASCII.
 */
extern bool nl_json_scan(const char *buf, int len, int max_depth, bool ascii_escapes);
/* Both free what they collected on failure; nl_*_free() frees it otherwise. */
extern bool nl_header_parse(const char *buf, int len, NlHeader *hdr);
extern bool nl_claims_parse(const char *buf, int len, NlClaims *claims);
extern void nl_header_free(NlHeader *hdr);
extern void nl_claims_free(NlClaims *claims);
/*
 * A top-level string member of a JSON object, name matched in any case
 * (palloc'd), or NULL.
 */
extern char *nl_json_find_string(const char *buf, int len, const char *name);
/* Applies the claims rules (exp, nbf, iss, aud) of policy at time now. */
extern NlResult nl_claims_check(const NlClaims *claims, const NlPolicy *policy,
								TimestampTz now);
/*
 * Seconds since 1970 as a timestamptz, clamped to [MIN_TIMESTAMP,
 * END_TIMESTAMP] (END_TIMESTAMP itself is past the type's range: fine for
 * comparisons, not for storing).
 */
extern TimestampTz nl_unix_to_timestamptz(double secs);
/* exp + leeway, for a token with an exp claim */
extern TimestampTz nl_exp_deadline(const NlClaims *claims, const NlPolicy *policy);
/* nbf as a timestamptz, for a token with an nbf claim */
extern TimestampTz nl_nbf_time(const NlClaims *claims);
/* Is a token with this nbf not yet valid at now (with the policy's leeway)? */
extern bool nl_nbf_pending(TimestampTz nbf, TimestampTz now, const NlPolicy *policy);

/* ---------- jws.c: a compact JWS, decoded once ---------- */

/*
 * A token as nl_token_decode() found it: split once, each segment
 * base64url-decoded once, the header parsed once, the claims parsed at most
 * once (nl_token_claims()).  Verification fills it and the failure log
 * reads it, so a refused token is never decoded again to be described.
 * Segments that did not decode are NULL; the others are palloc'd and
 * NUL-terminated.
 */
typedef struct NlToken
{
	const char *text;			/* the token (not copied) */
	int			len;
	bool		decoded;		/* split and decoding were tried (not too long) */
	int			signing_input_len;	/* header "." payload: the signed bytes */
	char	   *header_json;
	int			header_len;
	char	   *payload_json;
	int			payload_len;
	unsigned char *sig;
	int			sig_len;
	bool		header_ok;		/* header parsed (no type error) */
	NlHeader	header;
	const NlAlgInfo *alg;		/* the header's algorithm, when supported */
	int			claims_state;	/* 0: not parsed yet, 1: parsed, -1: unparsable */
	NlClaims	claims;
	bool		kid_not_stored; /* NL_UNKNOWN_KEY because no key has this kid */
} NlToken;

/*
 * Splits and decodes a compact JWS and checks its header's rules: NL_VALID
 * (ready for nl_jws_verify), NL_TOO_LONG (over policy->max_token_length:
 * nothing decoded), NL_MALFORMED or NL_UNSUPPORTED_ALG.  *tok is filled in
 * every case, as far as the token allowed; free it with nl_token_free().
 */
extern NlResult nl_token_decode(const char *token, int len, const NlPolicy *policy,
								NlToken *tok);
/*
 * A token without kid is tried against the compatible keys in set order, at
 * most this many: bad_signature beyond.  NiceLogin's tokens carry a kid;
 * a kid-less token rarely meets more than two candidates (the current and
 * the next key), and each try may cost an RSA-8192 check.
 */
#define NL_MAX_KIDLESS_TRIES 4
/*
 * Key choice and the signature check of a token nl_token_decode() passed:
 * NL_VALID, NL_BAD_SIGNATURE or NL_UNKNOWN_KEY (tok->kid_not_stored says
 * whether no key has the token's kid).  Never raises for bad input.
 */
extern NlResult nl_jws_verify(NlToken *tok, const NlKeySet *keys);
/* Parses the payload's claims, once: true when tok->claims is usable. */
extern bool nl_token_claims(NlToken *tok);
extern void nl_token_free(NlToken *tok);
/* Decodes the payload segment without any check; NULL when malformed. */
extern char *nl_jws_unverified_payload(const char *token, int len, int *payload_len);

/* SHA-256 of data (OpenSSL); false when OpenSSL fails.  Never raises. */
#define NL_SHA256_LEN 32
extern bool nl_sha256(const void *data, size_t len, uint8 *out);

#endif							/* NL_JOSE_H */
