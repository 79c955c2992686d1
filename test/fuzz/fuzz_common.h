/*
 * fuzz_common.h
 *		Shared by the libFuzzer targets over the JOSE core (src/jose/, built
 *		with FRONTEND: see test/fuzz/Makefile).  Each target runs one entry
 *		point of the core on the fuzzer's bytes and frees everything it got,
 *		so that a leak is a finding too.
 */
#ifndef NL_FUZZ_COMMON_H
#define NL_FUZZ_COMMON_H

#include "jose/jose.h"

#include <openssl/err.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int			LLVMFuzzerInitialize(int *argc, char ***argv);

/* nicelogin's defaults, with an issuer and audience so that those rules run */
static const NlPolicy fuzz_policy = {
	.require_exp = true,
	.leeway = 30,
	.issuer = "https://auth.example",
	.audience = "app",
	.max_token_length = 16384,
};

/* 2026-01-01 00:00:00 UTC, as a timestamptz */
#define FUZZ_NOW ((TimestampTz) INT64CONST(820540800) * USECS_PER_SEC)

/* The input as a palloc'd, NUL-terminated copy (the core takes lengths; the copy catches overreads). */
static inline char *
fuzz_copy(const uint8_t *data, size_t size)
{
	char	   *buf = palloc(size + 1);

	memcpy(buf, data, size);
	buf[size] = '\0';
	return buf;
}

/* A whole file, palloc'd and NUL-terminated; exits when it cannot be read. */
static inline char *
fuzz_read_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	StringInfoData buf;
	char		chunk[4096];
	size_t		n;

	if (f == NULL)
	{
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		appendBinaryStringInfo(&buf, chunk, n);
	fclose(f);
	return buf.data;
}

#endif							/* NL_FUZZ_COMMON_H */
