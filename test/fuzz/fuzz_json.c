/*
 * fuzz_json.c
 *		The header and claims parser (claims.c) and the JSON tree (json.c) on
 *		a decoded segment: nl_header_parse, nl_claims_parse and
 *		nl_claims_check, nl_json_object_ok, nl_json_find_string, nl_json_parse.
 */
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* Walks a tree, checking what the parser promised. */
static void
check_tree(const NlJson *j, int depth)
{
	if (depth > NL_MAX_JSON_TREE_DEPTH)
		abort();
	if ((j->type == NL_JSON_STRING || j->type == NL_JSON_NUMBER) &&
		(j->str == NULL || (int) strlen(j->str) != j->len))
		abort();
	for (int i = 0; i < j->n; i++)
		check_tree(j->items[i], depth + 1);
	if (j->type == NL_JSON_OBJECT)
		for (int i = 0; i < j->n; i++)
			(void) nl_json_member(j, j->names[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = fuzz_copy(data, size);
	int			len = (int) size;
	NlHeader	hdr;
	NlClaims	claims;
	char	   *found;
	NlJson	   *tree;
	bool		ok;

	if (nl_header_parse(buf, len, &hdr))
	{
		if (hdr.has_alg && hdr.alg == NULL)
			abort();			/* a header passed with a non-string alg */
		nl_header_free(&hdr);
	}
	ok = nl_json_object_ok(buf, len);
	if (nl_claims_parse(buf, len, &claims))
	{
		if (!ok)
			abort();			/* claims parsed from JSON the checks refuse */
		(void) nl_claims_check(&claims, &fuzz_policy, FUZZ_NOW);
		if (claims.has_exp)
			(void) nl_exp_deadline(&claims, &fuzz_policy);
		nl_claims_free(&claims);
	}
	found = nl_json_find_string(buf, len, "authorization");
	if (found != NULL)
		pfree(found);
	tree = nl_json_parse(buf, len);
	if (tree != NULL)
	{
		check_tree(tree, 1);
		nl_json_free(tree);
	}
	pfree(buf);
	ERR_clear_error();
	return 0;
}
