/*
 * fuzz_keyset.c
 *		The key-set parser: nl_keyset_parse() on a JSON text, as
 *		nicelogin_jws_verify takes it (a JWKS or one JWK, private members
 *		ignored) and as keys are stored (a JWKS, private members refused).
 */
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static void
parse(const char *buf, int len, bool allow_single_jwk, bool ignore_private)
{
	NlKeySet	set = {0};
	char	   *msg;
	char	   *detail;

	if (nl_keyset_parse(buf, len, allow_single_jwk, ignore_private, false, &set, &msg, &detail))
	{
		if (set.nkeys > NL_MAX_KEYS)
			abort();
		for (int i = 0; i < set.nkeys; i++)
			if (set.keys[i].kty != NL_KTY_OCT && set.keys[i].pkey == NULL)
				abort();		/* an asymmetric key without its OpenSSL key */
		nl_keyset_free(&set);
	}
	else
	{
		if (msg == NULL || set.nkeys != 0 || set.keys != NULL)
			abort();			/* refused without a message, or not emptied */
		pfree(msg);
		if (detail)
			pfree(detail);
	}
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = fuzz_copy(data, size);

	parse(buf, (int) size, true, true);
	parse(buf, (int) size, false, false);
	pfree(buf);
	return 0;
}
