/*
 * json.c
 *		A JSON text as a small tree, for key sets (jwk.c) and the test-signing
 *		library's private keys: PostgreSQL's JSON parser (common/jsonapi.h),
 *		which the server and the frontend both have, with the member lookups
 *		the key code needs.
 *
 * Never raises for bad input: nesting is bounded before the parser (which
 * recurses) sees the text, and a parse error is a NULL result.
 */
#include "jose/jose.h"

typedef struct TreeState
{
	NlJson	   *stack[NL_MAX_JSON_TREE_DEPTH + 1];
	int			depth;
	NlJson	   *root;
	char	   *pending_name;	/* the member whose value comes next */
} TreeState;

/*
 * Do the four characters at s, the hex digits of a \u escape, name an ASCII
 * character?  Bad digits count as ASCII: the lexer refuses them itself,
 * with an error code.
 */
static bool
escape_is_ascii(const char *s)
{
	int			v = 0;

	for (int k = 0; k < 4; k++)
	{
		char		h = s[k];

		if (h >= '0' && h <= '9')
			v = v * 16 + (h - '0');
		else if (h >= 'a' && h <= 'f')
			v = v * 16 + (h - 'a' + 10);
		else if (h >= 'A' && h <= 'F')
			v = v * 16 + (h - 'A' + 10);
		else
			return true;
	}
	return v < 0x80;
}

/*
 * The scan both JSON readers of the core make before parsing (claims.c for
 * headers and payloads, this file for key sets): nesting no deeper than
 * max_depth, brackets inside strings skipped; with ascii_escapes, no \u
 * escape of a character beyond ASCII.  Whatever else is wrong is left to the
 * parser.  Linear, checks for interrupts.
 */
bool
nl_json_scan(const char *buf, int len, int max_depth, bool ascii_escapes)
{
	int			depth = 0;
	bool		in_string = false;

	for (int i = 0; i < len; i++)
	{
		char		c = buf[i];

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();

		if (in_string)
		{
			if (c == '\\' && ascii_escapes && i + 5 < len && buf[i + 1] == 'u' &&
				!escape_is_ascii(buf + i + 2))
				return false;
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
		{
			if (++depth > max_depth)
				return false;
		}
		else if (c == '}' || c == ']')
			depth--;
	}
	return true;
}

/* Adds a value to the open container (or makes it the root). */
static void
tree_add(TreeState *st, NlJson *node)
{
	NlJson	   *parent = st->depth > 0 ? st->stack[st->depth - 1] : NULL;

	if (parent == NULL)
	{
		if (st->root == NULL)
			st->root = node;
		else
			nl_json_free(node); /* cannot happen: one value per text */
		return;
	}
	if (parent->n == parent->cap)
	{
		parent->cap = parent->cap == 0 ? 4 : parent->cap * 2;
		if (parent->items == NULL)
		{
			parent->items = palloc(sizeof(NlJson *) * parent->cap);
			if (parent->type == NL_JSON_OBJECT)
				parent->names = palloc(sizeof(char *) * parent->cap);
		}
		else
		{
			parent->items = repalloc(parent->items, sizeof(NlJson *) * parent->cap);
			if (parent->type == NL_JSON_OBJECT)
				parent->names = repalloc(parent->names, sizeof(char *) * parent->cap);
		}
	}
	if (parent->type == NL_JSON_OBJECT)
	{
		parent->names[parent->n] = st->pending_name ? st->pending_name : pstrdup("");
		st->pending_name = NULL;
	}
	parent->items[parent->n++] = node;
}

static NlJson *
new_node(NlJsonType type)
{
	NlJson	   *node = palloc0(sizeof(NlJson));

	node->type = type;
	return node;
}

static void
tree_container_start(TreeState *st, NlJsonType type)
{
	NlJson	   *node = new_node(type);

	tree_add(st, node);
	/* nl_json_scan() bounds the nesting; this keeps the stack safe regardless */
	if (st->depth < NL_MAX_JSON_TREE_DEPTH + 1)
		st->stack[st->depth] = node;
	st->depth++;
}

static NL_JSON_ACTION
tree_object_start(void *state)
{
	tree_container_start(state, NL_JSON_OBJECT);
	NL_JSON_CONTINUE;
}

static NL_JSON_ACTION
tree_array_start(void *state)
{
	tree_container_start(state, NL_JSON_ARRAY);
	NL_JSON_CONTINUE;
}

static NL_JSON_ACTION
tree_end(void *state)
{
	TreeState  *st = state;

	CHECK_FOR_INTERRUPTS();
	st->depth--;
	NL_JSON_CONTINUE;
}

static NL_JSON_ACTION
tree_field_start(void *state, char *fname, bool isnull)
{
	TreeState  *st = state;

	if (st->pending_name)
		pfree(st->pending_name);
	st->pending_name = fname;
	NL_JSON_CONTINUE;
}

static NL_JSON_ACTION
tree_scalar(void *state, char *token, JsonTokenType type)
{
	TreeState  *st = state;
	NlJson	   *node;

	CHECK_FOR_INTERRUPTS();
	switch (type)
	{
		case JSON_TOKEN_STRING:
			node = new_node(NL_JSON_STRING);
			break;
		case JSON_TOKEN_NUMBER:
			node = new_node(NL_JSON_NUMBER);
			break;
		case JSON_TOKEN_TRUE:
			node = new_node(NL_JSON_TRUE);
			break;
		case JSON_TOKEN_FALSE:
			node = new_node(NL_JSON_FALSE);
			break;
		default:
			node = new_node(NL_JSON_NULL);
			break;
	}
	if (node->type == NL_JSON_STRING || node->type == NL_JSON_NUMBER)
	{
		node->str = token;
		node->len = strlen(token);
	}
	else
		pfree(token);
	tree_add(st, node);
	NL_JSON_CONTINUE;
}

NlJson *
nl_json_parse(const char *buf, int len)
{
	TreeState  *st;
	JsonSemAction sem;
	JsonParseErrorType rc;
	NlJson	   *root;

	if (!nl_json_scan(buf, len, NL_MAX_JSON_TREE_DEPTH, false))
		return NULL;
	st = palloc0(sizeof(TreeState));
	memset(&sem, 0, sizeof(sem));
	sem.semstate = st;
	sem.object_start = tree_object_start;
	sem.object_end = tree_end;
	sem.array_start = tree_array_start;
	sem.array_end = tree_end;
	sem.object_field_start = tree_field_start;
	sem.scalar = tree_scalar;

	rc = nl_json_parse_text(buf, len, &sem);

	root = st->root;
	if (st->pending_name)
		pfree(st->pending_name);
	pfree(st);
	if (rc != JSON_SUCCESS)
	{
		nl_json_free(root);
		return NULL;
	}
	return root;
}

void
nl_json_free(NlJson *j)
{
	if (j == NULL)
		return;
	/* the depth is bounded by nl_json_parse(): the recursion is too */
	for (int i = 0; i < j->n; i++)
	{
		nl_json_free(j->items[i]);
		if (j->names)
			pfree(j->names[i]);
	}
	if (j->items)
		pfree(j->items);
	if (j->names)
		pfree(j->names);
	if (j->str)
		pfree(j->str);
	pfree(j);
}

const NlJson *
nl_json_member(const NlJson *obj, const char *name)
{
	if (obj == NULL || obj->type != NL_JSON_OBJECT)
		return NULL;
	/* the last of a name wins, as in jsonb */
	for (int i = obj->n - 1; i >= 0; i--)
		if (strcmp(obj->names[i], name) == 0)
			return obj->items[i];
	return NULL;
}

const char *
nl_json_member_string(const NlJson *obj, const char *name, bool *ok)
{
	const NlJson *v = nl_json_member(obj, name);

	if (v == NULL)
		return NULL;
	if (v->type != NL_JSON_STRING)
	{
		*ok = false;
		return NULL;
	}
	return v->str;
}

/* base64url characters that encode nbytes bytes (no padding) */
#define B64_LEN(nbytes) (((nbytes) * 4 + 2) / 3)

int
nl_json_member_b64(const NlJson *obj, const char *name, unsigned char **out, int max_bytes)
{
	const NlJson *v = nl_json_member(obj, name);
	int			len;

	*out = NULL;
	if (v == NULL)
		return -1;
	if (v->type != NL_JSON_STRING)
		return -2;
	if (v->len > B64_LEN(max_bytes))
		return -3;
	*out = palloc(nl_b64url_dec_len(v->len) + 1);
	len = nl_b64url_decode(v->str, v->len, *out);
	if (len < 0)
	{
		pfree(*out);
		*out = NULL;
		return -2;
	}
	return len;
}
