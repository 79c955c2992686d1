/*
 * tokencache.c
 *		Per-backend cache of verification results, keyed by the exact token
 *		bytes.
 *
 * A signature check costs tens of microseconds; an RLS policy asks for the
 * same token's claims on every row.  So each backend keeps up to
 * nicelogin.token_cache_size results (LRU).  Results about time (expired,
 * not_yet_valid) are not kept; every other verdict of a genuine token
 * (valid, revoked, user_deactivated) keeps its exp and nbf, and verify.c
 * passes every hit through nl_time_check(), so no verdict outlives its
 * token, whatever it was or becomes when the lists are looked up again.
 * Each entry keeps the stamp its answer was made under (nl_stamp_check):
 * the whole cache is dropped when the keys or a verification setting
 * change; a change to the deactivated users or revocations drops nothing,
 * verify.c looks the token up in them again.  Memory stays bounded: entries are
 * capped in number and each is at most about twice nicelogin.max_token_length.
 */
#include "nicelogin.h"
#include "jose/jose.h"
#include "verify/verify.h"

#include "common/hashfn.h"
#include "lib/ilist.h"
#include "utils/memutils.h"

typedef struct TokenEntry
{
	dlist_node	lru;			/* head = most recently used */
	struct TokenEntry *next;	/* bucket chain */
	uint32		hash;
	int			len;
	char	   *token;
	NlVerified	v;
} TokenEntry;

static MemoryContext tc_cxt = NULL;
static TokenEntry **buckets = NULL;
static int	nbuckets = 0;
static int	nentries = 0;
static int	capacity = 0;
static dlist_head lru = DLIST_STATIC_INIT(lru);
static TokenEntry *last_hit = NULL;
static NlStamp tc_stamp;		/* the keys and settings of every entry */

static void
reset(void)
{
	if (tc_cxt == NULL)
		tc_cxt = AllocSetContextCreate(TopMemoryContext, "nicelogin token cache",
									   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(tc_cxt);
	dlist_init(&lru);
	last_hit = NULL;
	nentries = 0;
	capacity = nl_token_cache_size;
	nbuckets = 16;
	while (nbuckets < capacity * 2)
		nbuckets *= 2;
	buckets = MemoryContextAllocZero(tc_cxt, sizeof(TokenEntry *) * nbuckets);
	nl_stamp_take(&tc_stamp);
}

/* Drops everything when the keys or the settings changed. */
static inline void
check_generations(void)
{
	if (tc_cxt == NULL || nl_stamp_outdated(&tc_stamp))
		reset();
}

static inline NlVerified *
hit(TokenEntry *e)
{
	last_hit = e;
	dlist_move_head(&lru, &e->lru);
	return &e->v;
}

NlVerified *
nl_tokencache_lookup(const char *token, int len, uint32 *hash)
{
	uint32		h;

	check_generations();
	if (capacity == 0)
		return NULL;

	/* the same token as last time: no hashing */
	if (last_hit && last_hit->len == len && memcmp(last_hit->token, token, len) == 0)
		return hit(last_hit);

	h = *hash = hash_bytes((const unsigned char *) token, len);
	for (TokenEntry *e = buckets[h & (nbuckets - 1)]; e != NULL; e = e->next)
	{
		if (e->hash == h && e->len == len && memcmp(e->token, token, len) == 0)
			return hit(e);
	}
	return NULL;
}

static void
unlink_entry(TokenEntry *e)
{
	TokenEntry **p = &buckets[e->hash & (nbuckets - 1)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	dlist_delete(&e->lru);
	if (last_hit == e)
		last_hit = NULL;
	nentries--;
	pfree(e);
}

/* hash: from the lookup that missed */
const NlVerified *
nl_tokencache_insert(const char *token, int len, uint32 hash, const NlVerified *v)
{
	TokenEntry *e;
	Size		claims_size = v->claims ? VARSIZE(v->claims) : 0;
	Size		email_size = v->email ? strlen(v->email) + 1 : 0;
	char	   *p;

	/* results that depend on the clock are not kept */
	if (v->result == NL_EXPIRED || v->result == NL_NOT_YET_VALID)
		return v;
	check_generations();
	/* made with keys or settings that changed meanwhile: not kept */
	if (capacity == 0 || nl_stamp_outdated(&v->stamp))
		return v;

	while (nentries >= capacity)
		unlink_entry(dlist_container(TokenEntry, lru, dlist_tail_node(&lru)));

	/* one allocation per entry: the entry, the token, the claims, the email */
	e = MemoryContextAlloc(tc_cxt, MAXALIGN(sizeof(TokenEntry)) + MAXALIGN(claims_size) +
						   email_size + len);
	p = (char *) e + MAXALIGN(sizeof(TokenEntry));
	e->v = *v;
	if (v->claims)
	{
		memcpy(p, v->claims, claims_size);
		e->v.claims = (Jsonb *) p;
		p += MAXALIGN(claims_size);
	}
	if (v->email)
	{
		memcpy(p, v->email, email_size);
		e->v.email = p;
		p += email_size;
	}
	memcpy(p, token, len);
	e->token = p;
	e->len = len;
	e->hash = hash;
	e->next = buckets[e->hash & (nbuckets - 1)];
	buckets[e->hash & (nbuckets - 1)] = e;
	dlist_push_head(&lru, &e->lru);
	nentries++;
	last_hit = e;
	return &e->v;
}
