/*
 * base64url.c
 *		Strict base64url decoding (RFC 7515 section 2, RFC 4648 section 5),
 *		and the canonical encoding (nicelogin_test's signed tokens).
 *
 * Only the canonical encoding is accepted: the 64-letter URL-safe alphabet,
 * no padding, no whitespace, no length of 1 modulo 4, and zero bits in the
 * unused low bits of the last character.  A token has exactly one encoding,
 * so an altered one never verifies by accident.
 */
#include "jose/jose.h"

/* decoding table: -1 for characters outside the alphabet */
static const int8 b64url_value[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

int
nl_b64url_decode(const char *src, int srclen, unsigned char *dst)
{
	uint32		acc = 0;
	int			nbits = 0;
	int			out = 0;

	if (srclen % 4 == 1)
		return -1;

	for (int i = 0; i < srclen; i++)
	{
		int			v = b64url_value[(unsigned char) src[i]];

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32) v;
		nbits += 6;
		if (nbits >= 8)
		{
			nbits -= 8;
			dst[out++] = (unsigned char) ((acc >> nbits) & 0xFF);
		}
	}

	/* the 2 or 4 bits left over must be zero in the canonical encoding */
	if (nbits > 0 && (acc & ((1U << nbits) - 1)) != 0)
		return -1;

	return out;
}

static const char b64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
nl_b64url_encode(const unsigned char *src, int srclen, StringInfo dst)
{
	uint32		acc = 0;
	int			nbits = 0;

	for (int i = 0; i < srclen; i++)
	{
		acc = (acc << 8) | src[i];
		nbits += 8;
		while (nbits >= 6)
		{
			nbits -= 6;
			appendStringInfoChar(dst, b64url_alphabet[(acc >> nbits) & 0x3F]);
		}
	}
	/* the last 2 or 4 bits, padded with zero bits; no '=' */
	if (nbits > 0)
		appendStringInfoChar(dst, b64url_alphabet[(acc << (6 - nbits)) & 0x3F]);
}
