/*
 * port.h
 *		What the JOSE core needs from its surroundings, in the server and out
 *		of it (FRONTEND: libpgcommon, libpgport and OpenSSL, as the fuzz
 *		targets in test/fuzz build it), and the JSON parser's differences
 *		between PostgreSQL majors.  The only place in src/jose/ that tells the
 *		two apart; included first by jose.h.
 *
 * Both sides have palloc/pfree (fe_memutils in the frontend), StringInfo,
 * common/jsonapi.h, common/int.h and pg_wchar's UTF-8 check in common.  The
 * core allocates in the caller's memory context and frees what it does not
 * hand back, so that the frontend leaks nothing either.
 */
#ifndef NL_JOSE_PORT_H
#define NL_JOSE_PORT_H

#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#ifdef FRONTEND
/* no interrupts to serve out of the server */
#define CHECK_FOR_INTERRUPTS() ((void) 0)
/* the frontend reads JSON as UTF-8 */
#define nl_server_encoding() PG_UTF8
#else
#include "miscadmin.h"
#define nl_server_encoding() GetDatabaseEncoding()
#endif

/*
 * PostgreSQL 16 made the JSON parser's semantic actions return a
 * JsonParseErrorType (JSON_SUCCESS: go on); up to 15 they return void.
 */
#if PG_VERSION_NUM >= 160000
#define NL_JSON_ACTION JsonParseErrorType
#define NL_JSON_CONTINUE return JSON_SUCCESS
#else
#define NL_JSON_ACTION void
#define NL_JSON_CONTINUE return
#endif

/*
 * A lexer over buf with escapes decoded (\u0000 and bad surrogates come back
 * as errors), and its release.  PostgreSQL 17 added a first argument (a
 * context to fill, or NULL to allocate one) and freeJsonLexContext(); up to
 * 16 the context and its string buffer are freed by hand.
 */
static inline JsonLexContext *
nl_json_lexer(const char *buf, int len)
{
#if PG_VERSION_NUM >= 170000
	return makeJsonLexContextCstringLen(NULL, buf, len, nl_server_encoding(), true);
#else
	return makeJsonLexContextCstringLen((char *) buf, len, nl_server_encoding(), true);
#endif
}

static inline void
nl_json_lexer_free(JsonLexContext *lex)
{
#if PG_VERSION_NUM >= 170000
	freeJsonLexContext(lex);
#else
	if (lex->strval != NULL)
	{
		pfree(lex->strval->data);
		pfree(lex->strval);
	}
	pfree(lex);
#endif
}

/*
 * Parses a JSON text with the semantic actions of sem (escapes decoded).
 * PostgreSQL's parser copies a member name or a scalar before it reads the
 * token after it, and loses the copy when that token does not lex; in the
 * server the memory context takes it, but the frontend has none.  So there
 * the text is checked first without actions (which copy nothing), and the
 * actions run only on a text that parses: the fuzz targets count every
 * leaked byte as a finding.
 */
static inline JsonParseErrorType
nl_json_parse_text(const char *buf, int len, JsonSemAction *sem)
{
	JsonLexContext *lex;
	JsonParseErrorType rc;

#ifdef FRONTEND
	lex = nl_json_lexer(buf, len);
	rc = pg_parse_json(lex, &nullSemAction);
	nl_json_lexer_free(lex);
	if (rc != JSON_SUCCESS)
		return rc;
#endif
	lex = nl_json_lexer(buf, len);
	rc = pg_parse_json(lex, sem);
	nl_json_lexer_free(lex);
	return rc;
}

#endif							/* NL_JOSE_PORT_H */
