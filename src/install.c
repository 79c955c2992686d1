/*
 * install.c
 *		What the install script needs from C: a refusal raised by a plain SQL
 *		statement.
 *
 * The script's checks (the extension's schema must be writable by
 * superusers only) are one SQL statement each; raised from PL/pgSQL, their
 * refusal would carry a "PL/pgSQL function inline_code_block" context line,
 * which tells the reader nothing.  The script creates
 * nicelogin_install_refuse(), calls it when it must refuse, and drops it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(nicelogin_install_refuse);

/* nicelogin_install_refuse(message, detail, hint): raises 42501 with them. */
Datum
nicelogin_install_refuse(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg_internal("%s", text_to_cstring(PG_GETARG_TEXT_PP(0))),
			 errdetail_internal("%s", text_to_cstring(PG_GETARG_TEXT_PP(1))),
			 errhint("%s", text_to_cstring(PG_GETARG_TEXT_PP(2)))));
	PG_RETURN_VOID();
}
