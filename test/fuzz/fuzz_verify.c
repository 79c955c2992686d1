/*
 * fuzz_verify.c
 *		A full verification against fixed key sets (the test fixtures'
 *		jwks.json and jwks_hs.json): decode, signature, claims, rules; the
 *		path of nicelogin_verify() without its caches and lists.
 */
#include "fuzz_common.h"

#ifndef NL_FIXTURES
#error "NL_FIXTURES: the folder of jwks.json (test/fuzz/Makefile sets it)"
#endif

static NlKeySet keysets[2];

static void
load(NlKeySet *set, const char *file)
{
	char	   *path = psprintf("%s/%s", NL_FIXTURES, file);
	char	   *text = fuzz_read_file(path);
	char	   *msg;
	char	   *detail;

	pfree(path);
	if (!nl_keyset_parse(text, strlen(text), false, false, false, set, &msg, &detail))
	{
		fprintf(stderr, "%s: %s\n", file, msg);
		exit(2);
	}
	pfree(text);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	load(&keysets[0], "jwks.json");
	load(&keysets[1], "jwks_hs.json");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *token = fuzz_copy(data, size);

	for (int i = 0; i < (int) lengthof(keysets); i++)
	{
		NlToken		tok;
		NlResult	r = nl_token_decode(token, (int) size, &fuzz_policy, &tok);

		if (r == NL_VALID)
			r = nl_jws_verify(&tok, &keysets[i]);
		if (r == NL_VALID)
			r = nl_token_claims(&tok) ?
				nl_claims_check(&tok.claims, &fuzz_policy, FUZZ_NOW) : NL_MALFORMED;
		if (r == NL_VALID && !nl_json_object_ok(tok.payload_json, tok.payload_len))
			abort();			/* valid claims that jsonb could not take */
		(void) nl_result_name(r);
		nl_token_free(&tok);
	}
	pfree(token);
	ERR_clear_error();
	return 0;
}
