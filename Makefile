# nicelogin: PGXS build
EXTENSION    = nicelogin
EXTVERSION   = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)
MODULE_big   = nicelogin
OBJS = \
	src/nicelogin.o \
	src/base64url.o \
	src/jwk.o \
	src/jws.o \
	src/claims.o \
	src/keycache.o \
	src/tokencache.o \
	src/sharedcache.o \
	src/request.o \
	src/verify.o \
	src/revocation.o \
	src/http.o \
	src/api.o \
	src/secret.o \
	src/worker.o
# every install and upgrade script: nicelogin--1.0.sql, nicelogin--1.1.sql, nicelogin--1.0--1.1.sql ...
DATA         = $(wildcard $(EXTENSION)--*.sql)
PGFILEDESC   = "nicelogin - JWT verification against a stored JWKS"

REGRESS      = setup verify keys privileges wycheproof request rls_example api api_deactivation limits secrets revoke lists store search_path upgrade
ISOLATION    = key_change deactivation_race long_transaction
TAP_TESTS    = 1

PG_CONFIG   ?= pg_config
# -Wextra on top of PostgreSQL's -Wall; -Wno-unused-parameter because callback
# signatures (GUC hooks, curl, PostgreSQL's own inline headers) have parameters
# a given implementation does not use.
PG_CPPFLAGS  = -DNICELOGIN_VERSION=\"$(EXTVERSION)\" $(shell pkg-config --cflags openssl libcurl) -Wextra -Wno-unused-parameter
SHLIB_LINK   = $(shell pkg-config --libs openssl libcurl)
EXTRA_CLEAN  = results output_iso tmp_check log

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
