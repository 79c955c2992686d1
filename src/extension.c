/*
 * extension.c
 *		The extension's catalog entry (schema, owner, installed version), and
 *		the one way the C code finds an object of the extension by name.
 *
 * It also holds the rules for SQL that nicelogin runs with privilege: a
 * pinned search_path (nl_pin_search_path) and values passed as parameters
 * (nl_spi_execute).
 *
 * The C code names its tables and functions (nicelogin_keys,
 * nicelogin_purge_revocations(integer), ...) and finds them in the
 * extension's schema.  An object of that name there may not be the
 * extension's: an older installation lacks it (1.0 has no
 * nicelogin_jwks_fetch), and any role that can create objects in the schema
 * can put one there, with a trigger that would run with the privileges of
 * whoever writes to it (a superuser's nicelogin_refresh_jwks(), the refresh
 * worker).  So every lookup goes through nl_member_table() or
 * nl_member_function(), which give only a member of the extension
 * (pg_depend, deptype 'e'), only when the installed version is one whose
 * scripts create that object in the form the code uses, and raise
 * otherwise.  Nothing else in src/ finds an object by name.
 *
 * A table that the caller names in an SQL statement (SPI) is found by name
 * once more when the statement is parsed; a role that may rename or create
 * in the schema could make that name mean another table in between.  Such a
 * caller asks for the table's qualified name, which is given only when the
 * schema can be changed by superusers alone (as the install and update
 * scripts demand).  Verification reads the tables by OID and needs no such
 * guarantee.
 *
 * Self-contained (PostgreSQL only): nicelogin_test's library links it too.
 */
#include "extension.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/params.h"
#include "nodes/parsenodes.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "storage/lmgr.h"
#include "utils/syscache.h"
#include "commands/dbcommands.h"

#define NL_EXTENSION_NAME "nicelogin"

#ifndef NICELOGIN_VERSION
#define NICELOGIN_VERSION "unknown"
#endif

/*
 * Finds the extension in the current database: false when it is not
 * installed.  Reads pg_extension (no cache: only loads after an
 * invalidation and administrative paths come here).
 */
bool
nl_extension_find(NlExtension *ext)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	memset(ext, 0, sizeof(NlExtension));
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(NL_EXTENSION_NAME));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_extension form = (Form_pg_extension) GETSTRUCT(tuple);
		bool		isnull;
		Datum		version = heap_getattr(tuple, Anum_pg_extension_extversion,
										   RelationGetDescr(rel), &isnull);

		ext->oid = form->oid;
		ext->schema = form->extnamespace;
		ext->owner = form->extowner;
		ext->version = isnull ? pstrdup("") : TextDatumGetCString(version);
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* The extension in the current database, or an ERROR. */
void
nl_extension_get(NlExtension *ext)
{
	if (!nl_extension_find(ext))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"%s\" is not installed in database \"%s\"",
						NL_EXTENSION_NAME, get_database_name(MyDatabaseId))));
}

/*
 * Parses a version "1.2" into its numbers; false for anything else (an
 * unknown version is never taken for a recent one).
 */
static bool
parse_version(const char *s, long *major, long *minor)
{
	char	   *end;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	*major = strtol(s, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return false;
	*minor = strtol(end + 1, &end, 10);
	return *end == '\0';
}

/* Is the installed version at least since? */
bool
nl_extension_at_least(const NlExtension *ext, const char *since)
{
	long		imaj,
				imin,
				smaj,
				smin;

	if (!parse_version(since, &smaj, &smin))
		elog(ERROR, "invalid nicelogin version \"%s\"", since);
	if (!parse_version(ext->version, &imaj, &imin))
		return false;
	return imaj > smaj || (imaj == smaj && imin >= smin);
}

/*
 * Raises unless the installed version is at least since: "what" (a table,
 * a function) comes with that version.  Never run the paths of a newer SQL
 * version against an older installation's objects.
 */
void
nl_require_version(const NlExtension *ext, const char *since, const char *what)
{
	if (!nl_extension_at_least(ext, since))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"%s\" is at version %s, older than its library (%s)",
						NL_EXTENSION_NAME, ext->version, NICELOGIN_VERSION),
				 errdetail("This needs %s, which comes with version %s of the extension.",
						   what, since),
				 errhint("Run ALTER EXTENSION %s UPDATE as a superuser.", NL_EXTENSION_NAME)));
}

/* The role a schema's privileges stand for: pg_database_owner is the database's owner. */
static Oid
effective_role(Oid roleid)
{
	if (roleid == ROLE_PG_DATABASE_OWNER)
	{
		HeapTuple	tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
		Oid			owner;

		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
		owner = ((Form_pg_database) GETSTRUCT(tuple))->datdba;
		ReleaseSysCache(tuple);
		return owner;
	}
	return roleid;
}

/*
 * Can only superusers change the schema: is it owned by a superuser, with
 * CREATE granted to superusers only?  (The install and update scripts ask
 * the same of every role, with has_schema_privilege.)
 */
static bool
schema_is_safe(Oid schema)
{
	HeapTuple	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(schema));
	Form_pg_namespace form;
	bool		isnull;
	Datum		aclDatum;
	bool		safe = true;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for schema %u", schema);
	form = (Form_pg_namespace) GETSTRUCT(tuple);
	if (!superuser_arg(effective_role(form->nspowner)))
		safe = false;
	aclDatum = SysCacheGetAttr(NAMESPACEOID, tuple, Anum_pg_namespace_nspacl, &isnull);
	/* NULL: the default, the owner's privileges only */
	if (safe && !isnull)
	{
		Datum	   *items;
		int			n;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		/* aclitem's size and alignment differ between majors */
		get_typlenbyvalalign(ACLITEMOID, &typlen, &typbyval, &typalign);
		deconstruct_array(DatumGetArrayTypeP(aclDatum), ACLITEMOID, typlen, typbyval,
						  typalign, &items, NULL, &n);
		for (int i = 0; i < n && safe; i++)
		{
			AclItem    *item = (AclItem *) DatumGetPointer(items[i]);

			if ((ACLITEM_GET_PRIVS(*item) & ACL_CREATE) != 0 &&
				(item->ai_grantee == ACL_ID_PUBLIC ||
				 !superuser_arg(effective_role(item->ai_grantee))))
				safe = false;
		}
	}
	ReleaseSysCache(tuple);
	return safe;
}

/*
 * The OID of the extension's table "name", which comes with version since.
 * Raises (55000) when the installed version is older, when the table is
 * missing, or when what has that name is not a member of the extension (it
 * is never used, whatever it is).  With qualified not NULL, for a caller
 * that names the table in SQL: the table is locked in lockmode (so it
 * cannot be renamed), the schema must be one only superusers can change
 * (42501 otherwise), and *qualified is set to the quoted, qualified name.
 */
Oid
nl_member_table(const NlExtension *ext, const char *name, const char *since,
				LOCKMODE lockmode, char **qualified)
{
	Oid			relid;
	char	   *schemaname;

	nl_require_version(ext, since, psprintf("table %s", name));
	schemaname = get_namespace_name(ext->schema);
	if (schemaname == NULL)
		elog(ERROR, "cache lookup failed for schema %u", ext->schema);

	relid = get_relname_relid(name, ext->schema);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"%s\" of extension nicelogin is missing", name),
				 errhint("Recreate the extension with DROP EXTENSION nicelogin; CREATE EXTENSION nicelogin;")));
	if (getExtensionOfObject(RelationRelationId, relid) != ext->oid ||
		get_rel_relkind(relid) != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s\" is not a member of extension \"%s\"",
						quote_qualified_identifier(schemaname, name), NL_EXTENSION_NAME),
				 errdetail("nicelogin uses only objects of its own extension; a role that can create objects in schema \"%s\" may have put this one there.",
						   schemaname),
				 errhint("Drop it, and make sure that only superusers can create objects in schema \"%s\"; ALTER EXTENSION nicelogin UPDATE says how.",
						 schemaname)));

	if (qualified != NULL)
	{
		if (!schema_is_safe(ext->schema))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("schema \"%s\" of extension \"%s\" can be changed by roles that are not superusers",
							schemaname, NL_EXTENSION_NAME),
					 errdetail("nicelogin does not write to its tables while a role that is not a superuser owns the schema or may create objects in it."),
					 errhint("Make a superuser own the schema and revoke CREATE on it from every other role; ALTER EXTENSION nicelogin UPDATE says how.")));
		LockRelationOid(relid, lockmode);
		*qualified = quote_qualified_identifier(schemaname, name);
	}
	return relid;
}

/*
 * The OID of the extension's function name(argtypes), which comes with
 * version since: the exact signature in the extension's schema (never an
 * overload or a variadic or defaulted candidate), and a member of the
 * extension; raises (as nl_member_table) otherwise.  Call it by OID.
 */
Oid
nl_member_function(const NlExtension *ext, const char *name, int nargs,
				   const Oid *argtypes, const char *since)
{
	oidvector  *args = buildoidvector(argtypes, nargs);
	HeapTuple	tuple;
	Oid			fn = InvalidOid;
	char	   *schemaname;
	StringInfoData signature;

	initStringInfo(&signature);
	appendStringInfo(&signature, "%s(", name);
	for (int i = 0; i < nargs; i++)
		appendStringInfo(&signature, "%s%s", i > 0 ? ", " : "", format_type_be(argtypes[i]));
	appendStringInfoChar(&signature, ')');

	nl_require_version(ext, since, psprintf("function %s", signature.data));
	schemaname = get_namespace_name(ext->schema);
	if (schemaname == NULL)
		elog(ERROR, "cache lookup failed for schema %u", ext->schema);

	tuple = SearchSysCache3(PROCNAMEARGSNSP, CStringGetDatum(name),
							PointerGetDatum(args), ObjectIdGetDatum(ext->schema));
	if (HeapTupleIsValid(tuple))
	{
		fn = ((Form_pg_proc) GETSTRUCT(tuple))->oid;
		ReleaseSysCache(tuple);
	}
	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function %s.%s of extension nicelogin is missing",
						quote_identifier(schemaname), signature.data),
				 errhint("Recreate the extension with DROP EXTENSION nicelogin; CREATE EXTENSION nicelogin;")));
	if (getExtensionOfObject(ProcedureRelationId, fn) != ext->oid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("function %s.%s is not a member of extension \"%s\"",
						quote_identifier(schemaname), signature.data, NL_EXTENSION_NAME),
				 errdetail("nicelogin uses only objects of its own extension; a role that can create objects in schema \"%s\" may have put this one there.",
						   schemaname),
				 errhint("Drop it, and make sure that only superusers can create objects in schema \"%s\"; ALTER EXTENSION nicelogin UPDATE says how.",
						 schemaname)));
	return fn;
}

/*
 * Fetch hook of nl_spi_execute(): a parameter list with a hook is one that
 * BuildParamLogString() (auto_explain's "Query Parameters", from
 * PostgreSQL 16) leaves out, as PL/pgSQL's.
 */
static ParamExternData *
param_fetch(ParamListInfo params, int paramid, bool speculative,
			ParamExternData *workspace)
{
	if (paramid <= 0 || paramid > params->numParams)
		return NULL;
	return &params->params[paramid - 1];
}

/*
 * Runs one SQL statement of the extension's with parameters (SPI connected;
 * nulls as for SPI_execute_with_args, NULL for none), so that no value
 * reaches the server log: the plan is generic (a custom plan has the
 * parameters folded into constants, which auto_explain.log_verbose prints
 * with the plan), and the parameter list is one that auto_explain does not
 * print.  Every SPI statement of nicelogin that carries a value goes
 * through here, key material (nl_store_jwks) or not.  Returns the SPI
 * result code.
 */
int
nl_spi_execute(const char *sql, int nargs, const Oid *argtypes, const Datum *values,
			   const char *nulls, long tcount)
{
	SPIPlanPtr	plan;
	ParamListInfo params;
	int			rc;

	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "could not prepare a statement of nicelogin: %s",
			 SPI_result_code_string(SPI_result));
	params = makeParamList(nargs);
	params->paramFetch = param_fetch;
	for (int i = 0; i < nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = nulls != NULL && nulls[i] == 'n';
		params->params[i].pflags = 0;	/* not PARAM_FLAG_CONST: never folded */
		params->params[i].ptype = argtypes[i];
	}
	rc = SPI_execute_plan_with_paramlist(plan, params, false, tcount);
	SPI_freeplan(plan);
	return rc;
}

/* See extension.h: search_path is "pg_catalog, pg_temp" until nl_unpin_search_path(level). */
int
nl_pin_search_path(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

void
nl_unpin_search_path(int level)
{
	AtEOXact_GUC(true, level);
}
