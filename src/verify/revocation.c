/*
 * revocation.c
 *		Deactivated users and revoked tokens and sessions: the lookups that
 *		verification makes, and the SQL functions that revoke.
 *
 * Nothing of nicelogin_deactivated_users or nicelogin_revocations is held in
 * memory: those tables may hold millions of rows (an application that
 * revokes the session on every logout), and a copy per backend would cost
 * memory and a reload on every change.  Instead a verification that misses
 * the token cache looks the token's sub, jti and sid up in the tables'
 * primary key indexes (three index probes, microseconds), and the token
 * cache keeps the answer together with the "lists generation" it was made
 * under.  A committed change to either table queues a relcache invalidation
 * (statement trigger), which bumps that generation in every backend (and
 * every hot standby, at replay); a cached token whose answer is older is
 * looked up again, its signature is not checked again.  The shared cache
 * does the same when its database's epoch moved (sharedcache.c), the first
 * backend that needs a token looking it up for all.  So a change costs each
 * backend one lookup per token in its own cache, and the shared level one
 * per token it holds, never a reload nor a signature; the keys are not
 * touched.
 *
 * A function with a side effect trusts only what it verified: the token must
 * be signed by a stored key and pass the claims rules (nl_verify_signed_token,
 * which skips the revocation lists only, so that revoking an already revoked
 * or deactivated user's token still works).  The jti and the expiry come from
 * the verified payload, never from a decoding without checks: otherwise a
 * token forged with the attacker's own key and a victim's jti would revoke
 * the victim's token, with an expiry of the forger's choosing.  A bad token
 * is answered with false, never an ERROR.
 */
#include "nicelogin.h"
#include "extension.h"
#include "jose/jose.h"
#include "verify/verify.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_db_role_setting.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(nicelogin_revoke_token);
PG_FUNCTION_INFO_V1(nicelogin_revoke_current_session);
PG_FUNCTION_INFO_V1(nicelogin_purge_before);

/* Expired revocations purged by each revoking call, at most. */
#define NL_PURGE_BATCH 100

/* read through nl_lists_generation() (verify.h); written here only */
uint64		nl_lists_generation_value = 1;
static Oid	deactivated_relid = InvalidOid;
static Oid	revocations_relid = InvalidOid;
/* the OIDs are looked up again while these differ (a lookup that fails leaves them so) */
static uint64 relid_changes = 1;
static uint64 relids_resolved_at = 0;

/*
 * Relations invalidated while the OIDs were not known (stale, or being
 * looked up): once they are, one of theirs among these means a change this
 * backend did not recognize, so the shared cache's epoch must move
 * (sharedcache.c).  Past NL_MAX_UNKNOWN_RELIDS, assume so.
 */
#define NL_MAX_UNKNOWN_RELIDS 32
static Oid	unknown_relids[NL_MAX_UNKNOWN_RELIDS];
static int	n_unknown_relids = 0;
static bool unknown_overflow = false;
static bool resolving = false;

/*
 * Relcache callback: a change to either table (or a reset of all) makes
 * every cached answer about them old, here and in the shared cache of this
 * database, and the OIDs are looked up again at the next lookup (the
 * extension may have been dropped and created anew; a drop invalidates the
 * old OIDs first).  The old OIDs stay for matching meanwhile.  Reads
 * nothing.
 */
void
nl_lists_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == deactivated_relid || relid == revocations_relid)
	{
		nl_lists_generation_value++;
		relid_changes++;
		nl_sharedcache_bump();
	}
	else if (relids_resolved_at != relid_changes || resolving)
	{
		if (n_unknown_relids < NL_MAX_UNKNOWN_RELIDS)
			unknown_relids[n_unknown_relids++] = relid;
		else
			unknown_overflow = true;
	}
}

/*
 * Looks the OIDs of the two tables up when they are not known, into locals
 * first: a lookup (and opening a table afterwards) may process
 * invalidations, which mark the kept ones stale.  Then tells the shared
 * cache about any change to them this backend processed without knowing
 * them.
 */
void
nl_lists_prepare(void)
{
	uint64		changes = relid_changes;
	NlExtension ext;
	Oid			deactivated;
	Oid			revocations;
	bool		missed = false;

	if (relids_resolved_at == relid_changes && OidIsValid(deactivated_relid) &&
		OidIsValid(revocations_relid))
		return;
	resolving = true;			/* stays set if a lookup raises */
	/* both are the same since 1.0: an installation not yet updated verifies */
	nl_extension_get(&ext);
	deactivated = nl_member_table(&ext, "nicelogin_deactivated_users", "1.0", NoLock, NULL);
	revocations = nl_member_table(&ext, "nicelogin_revocations", "1.0", NoLock, NULL);
	deactivated_relid = deactivated;
	revocations_relid = revocations;
	relids_resolved_at = changes;
	resolving = false;

	for (int i = 0; i < n_unknown_relids; i++)
		if (unknown_relids[i] == deactivated || unknown_relids[i] == revocations)
			missed = true;
	if (missed || unknown_overflow)
	{
		nl_lists_generation_value++;
		nl_sharedcache_bump();
	}
	n_unknown_relids = 0;
	unknown_overflow = false;
}


/*
 * Probes of one table's primary key index under one snapshot: the table,
 * the index and the scan are set up at the first probe and rescanned for
 * the next (the revocations are probed for the jti, then the sid).
 */
typedef struct PkeyProbe
{
	Relation	rel;			/* NULL before the first probe */
	SysScanDesc scan;
} PkeyProbe;

/*
 * Is there a row with these key values in the table's primary key index?
 * keys[i] compares heap column i + 1 (the index's leading columns, so also
 * index column i + 1) with the given equality function, in the column's
 * collation.
 */
static bool
pkey_has(PkeyProbe *probe, Oid relid, int nkeys, const RegProcedure *procs,
		 const Datum *values, Snapshot snap)
{
	ScanKeyData keys[2];

	Assert(nkeys <= lengthof(keys));
	if (probe->rel == NULL)
		probe->rel = table_open(relid, AccessShareLock);
	for (int i = 0; i < nkeys; i++)
		ScanKeyEntryInitialize(&keys[i], 0, i + 1, BTEqualStrategyNumber, InvalidOid,
							   TupleDescAttr(RelationGetDescr(probe->rel), i)->attcollation,
							   procs[i], values[i]);
	if (probe->scan != NULL && probe->scan->iscan != NULL)
		index_rescan(probe->scan->iscan, keys, nkeys, NULL, 0);
	else
	{
		Oid			indexoid = nl_primary_key_index(probe->rel);

		if (!OidIsValid(indexoid))
			elog(ERROR, "table \"%s\" of extension nicelogin has no primary key",
				 RelationGetRelationName(probe->rel));
		/* a heap scan (system indexes ignored) is not rescanned: begun anew */
		if (probe->scan != NULL)
			systable_endscan(probe->scan);
		probe->scan = systable_beginscan(probe->rel, indexoid, true, snap, nkeys, keys);
	}
	return HeapTupleIsValid(systable_getnext(probe->scan));
}

static void
pkey_done(PkeyProbe *probe)
{
	if (probe->scan != NULL)
		systable_endscan(probe->scan);
	/* the lock is kept to the end of the transaction, as for any reader */
	if (probe->rel != NULL)
		table_close(probe->rel, NoLock);
}

NlResult
nl_lists_check(const pg_uuid_t *sub, const char *jti, const char *sid)
{
	Snapshot	snap;
	NlResult	r = NL_VALID;
	Oid			deactivated;
	Oid			revocations;
	PkeyProbe	users = {0};
	PkeyProbe	revoked = {0};

	nl_lists_prepare();
	deactivated = deactivated_relid;
	revocations = revocations_relid;

	snap = nl_register_fresh_snapshot();

	if (sub != NULL)
	{
		RegProcedure procs[1] = {F_UUID_EQ};
		Datum		values[1] = {UUIDPGetDatum(sub)};

		if (pkey_has(&users, deactivated, 1, procs, values, snap))
			r = NL_USER_DEACTIVATED;
	}
	for (int i = 0; i < 2 && r == NL_VALID; i++)
	{
		const char *value = i == 0 ? jti : sid;
		RegProcedure procs[2] = {F_TEXTEQ, F_TEXTEQ};
		Datum		values[2];

		if (value == NULL)
			continue;
		values[0] = CStringGetTextDatum(i == 0 ? "jti" : "sid");
		values[1] = CStringGetTextDatum(value);
		if (pkey_has(&revoked, revocations, 2, procs, values, snap))
			r = NL_REVOKED;
	}
	pkey_done(&users);
	pkey_done(&revoked);

	UnregisterSnapshot(snap);
	return r;
}

/* Longest jti or sid we store, in bytes; NiceLogin's are uuids. */
#define NL_MAX_JTI_LEN 1024

/*
 * The verified exp as a timestamptz to store: within the type's range (the
 * claims parser refused anything beyond it), else +/-infinity.
 */
static TimestampTz
exp_to_timestamptz(double secs)
{
	TimestampTz t = nl_unix_to_timestamptz(secs);

	if (t >= END_TIMESTAMP)
		return DT_NOEND;
	if (t <= MIN_TIMESTAMP)
		return DT_NOBEGIN;
	return t;
}

/* A top-level member of the verified claims, or NULL. */
static JsonbValue *
claim(Jsonb *claims, const char *name)
{
	return getKeyJsonValueFromContainer(&claims->root, name, strlen(name), NULL);
}

/*
 * Revokes (kind, value) from commit on, until the verified token's exp (for
 * good when it has none), then purges a bounded batch of expired entries (so
 * that tables kept by logouts clean themselves).  An entry that is already
 * there keeps the later expiry (NULL: for good), so revoking never shortens
 * an administrator's revocation.  Returns false, storing nothing, for a
 * value that is empty or over NL_MAX_JTI_LEN.
 */
static bool
store_revocation(const char *kind, const NlVerified *v, const char *claim_name)
{
	JsonbValue *value = claim(v->claims, claim_name);
	JsonbValue *exp = claim(v->claims, "exp");
	NlExtension ext;
	char	   *table;
	Oid			purge;
	Oid			purge_argtypes[1] = {INT4OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	char	   *sql;
	int			save_nestlevel;
	int			rc;

	/* nicelogin_purge_revocations(integer) comes with 1.1 */
	nl_extension_get(&ext);
	(void) nl_member_table(&ext, "nicelogin_revocations", "1.0", RowExclusiveLock, &table);
	purge = nl_member_function(&ext, "nicelogin_purge_revocations", 1, purge_argtypes, "1.1");

	if (value == NULL || value->type != jbvString || value->val.string.len == 0 ||
		value->val.string.len > NL_MAX_JTI_LEN)
		return false;
	values[0] = CStringGetTextDatum(kind);
	values[1] = PointerGetDatum(cstring_to_text_with_len(value->val.string.val,
														  value->val.string.len));
	if (exp != NULL && exp->type == jbvNumeric)
	{
		/* in range: the claims parser checked it before verification passed */
		double		secs = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
															  NumericGetDatum(exp->val.numeric)));

		values[2] = TimestampTzGetDatum(exp_to_timestamptz(secs));
	}
	else
	{
		values[2] = (Datum) 0;
		nulls[2] = 'n';			/* no exp (nicelogin.require_exp off): for good */
	}

	sql = psprintf("INSERT INTO %s AS r (kind, value, expires_at) VALUES ($1, $2, $3) "
				   "ON CONFLICT (kind, value) DO UPDATE SET expires_at = "
				   "CASE WHEN r.expires_at IS NULL OR excluded.expires_at IS NULL THEN NULL "
				   "ELSE GREATEST(r.expires_at, excluded.expires_at) END",
				   table);

	save_nestlevel = nl_pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = nl_spi_execute(sql, 3, argtypes, values, nulls, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record the revocation: %s", SPI_result_code_string(rc));
	SPI_finish();
	/* the member function, by OID (SECURITY DEFINER, its own search_path) */
	(void) OidFunctionCall1(purge, Int32GetDatum(NL_PURGE_BATCH));
	nl_unpin_search_path(save_nestlevel);
	return true;
}

/*
 * nicelogin_revoke_token(token text) returns boolean: true when the token is
 * genuine, carries a jti, and is revoked from commit on (until its exp, or
 * for good when it has no exp); false for any other token.
 */
Datum
nicelogin_revoke_token(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	int			len;
	const char *token = nl_token_normalize(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &len, NULL);
	const NlVerified *v;

	/* normalised as the verification functions do */
	v = nl_verify_signed_token(token, len);
	if (v->result != NL_VALID)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(store_revocation("jti", v, "jti"));
}

/*
 * nicelogin_revoke_current_session() returns boolean: logout.  Revokes the
 * session (sid) of the current request's own token (nicelogin.token, else
 * request.headers), if that token is genuine; so a role granted only this
 * function can end its own user's session and no other.  A token without a
 * sid is revoked itself (by its jti), so that a logout never leaves the
 * token it was called with valid.  False when there is no genuine token, or
 * it has neither sid nor jti.
 */
Datum
nicelogin_revoke_current_session(PG_FUNCTION_ARGS)
{
	const char *token = nl_request_token();
	const NlVerified *v;

	if (token == NULL)
		PG_RETURN_BOOL(false);
	v = nl_verify_signed_token(token, strlen(token));
	if (v->result != NL_VALID)
		PG_RETURN_BOOL(false);
	if (store_revocation("sid", v, "sid"))
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(store_revocation("jti", v, "jti"));
}

/*
 * The longest nicelogin.leeway among the per-database and per-role settings
 * (pg_db_role_setting), in seconds; 0 when there is none.
 */
static int
longest_stored_leeway(void)
{
	Relation	rel = table_open(DbRoleSettingRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tuple;
	int			longest = 0;

	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_pg_db_role_setting_setconfig,
									 RelationGetDescr(rel), &isnull);
		Datum	   *elems;
		int			n;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, NULL, &n);
		for (int i = 0; i < n; i++)
		{
			char	   *item = TextDatumGetCString(elems[i]);
			int			value;

			if (strncmp(item, "nicelogin.leeway=", 17) == 0 &&
				parse_int(item + 17, &value, GUC_UNIT_S, NULL))
				longest = Max(longest, value);
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return longest;
}

/*
 * nicelogin_purge_before() returns timestamptz: revocations whose expires_at
 * is before it may be purged: a day ago, or the longest nicelogin.leeway
 * ago if that is longer (a token stays valid for the leeway after its exp),
 * counting this session's value and every per-database and per-role one, so
 * that a purge by a session with a shorter leeway cannot bring back a token
 * that a role with a longer one would still accept.  In C so that the value
 * read is the real setting: calling it loads the library, which refuses a
 * lesser role's SET of the placeholder.
 */
Datum
nicelogin_purge_before(PG_FUNCTION_ARGS)
{
	int64		leeway = Max(nl_leeway, longest_stored_leeway());
	int64		margin = Max((int64) SECS_PER_DAY, leeway) * USECS_PER_SEC;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	/* now - margin cannot leave the range: margin is at most INT_MAX seconds */
	PG_RETURN_TIMESTAMPTZ(now - margin);
}
