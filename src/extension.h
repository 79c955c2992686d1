/*
 * extension.h
 *		The extension's own objects, found safely (extension.c), and the rules
 *		for SQL run with privilege: a pinned search_path, values as parameters.
 */
#ifndef NL_EXTENSION_H
#define NL_EXTENSION_H

#include "postgres.h"

#include "storage/lockdefs.h"

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

/*
 * Pins search_path to "pg_catalog, pg_temp" until nl_unpin_search_path():
 * code that runs SQL with privilege (the worker, SECURITY DEFINER functions,
 * SPI from C, nicelogin_test's too) must not resolve a name through a schema
 * that a lesser role controls (a database owner's ALTER DATABASE ... SET
 * search_path, a role setting, the caller's SET).  pg_temp is last, where it
 * is never searched for functions or operators.  Returns the GUC nest level
 * to pass back.  On an error the transaction's abort undoes it.
 */
extern int	nl_pin_search_path(void);
extern void nl_unpin_search_path(int level);

#endif							/* NL_EXTENSION_H */
