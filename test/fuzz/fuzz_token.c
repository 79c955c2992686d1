/*
 * fuzz_token.c
 *		The token splitter and decoder: nl_token_decode() (split, base64url
 *		of each segment, header parse and rules), the claims parse of what it
 *		decoded, and nl_jws_unverified_payload().
 */
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *token = fuzz_copy(data, size);
	NlToken		tok;
	NlResult	r;
	char	   *payload;
	int			payload_len;

	r = nl_token_decode(token, (int) size, &fuzz_policy, &tok);
	if (r == NL_VALID && tok.alg == NULL)
		abort();				/* a token passed without an algorithm */
	if (nl_token_claims(&tok))
		(void) nl_claims_check(&tok.claims, &fuzz_policy, FUZZ_NOW);
	nl_token_free(&tok);

	if (size <= (size_t) fuzz_policy.max_token_length)
	{
		payload = nl_jws_unverified_payload(token, (int) size, &payload_len);
		if (payload != NULL)
		{
			(void) nl_json_object_ok(payload, payload_len);
			pfree(payload);
		}
	}
	pfree(token);
	return 0;
}
