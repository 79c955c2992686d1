/*
 * compat.h
 *		Version shims: the few places where PostgreSQL 15 to 19 differ, each with
 *		its PG_VERSION_NUM check and why.
 */
#ifndef NL_COMPAT_H
#define NL_COMPAT_H

#include "postgres.h"

#include "utils/guc_tables.h"
#include "utils/jsonb.h"

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

/*
 * A setting's record (utils/guc_tables.h), or NULL.  PostgreSQL 16 exports
 * find_option(); 15 exports only the array of every setting
 * (get_guc_variables(), GetNumConfigOptions()).
 */
static inline struct config_generic *
nl_find_setting_record(const char *name)
{
#if PG_VERSION_NUM >= 160000
	return find_option(name, false, true, ERROR);
#else
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();

	for (int i = 0; i < n; i++)
		if (pg_strcasecmp(vars[i]->name, name) == 0)
			return vars[i];
	return NULL;
#endif
}

#endif							/* NL_COMPAT_H */
