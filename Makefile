# nicelogin: PGXS build
# Two extensions: nicelogin, and nicelogin_test (signed test tokens, for test and CI databases;
# its own library, built by the rules at the end).
EXTENSION    = nicelogin nicelogin_test
EXTVERSION   = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" nicelogin.control)
MODULE_big   = nicelogin
OBJS = \
	src/nicelogin.o \
	src/extension.o \
	src/jose/base64url.o \
	src/jose/alg.o \
	src/jose/json.o \
	src/jose/jwk.o \
	src/jose/jws.o \
	src/jose/claims.o \
	src/verify/verify.o \
	src/verify/josebridge.o \
	src/verify/request.o \
	src/verify/keycache.o \
	src/verify/tokencache.o \
	src/verify/sharedcache.o \
	src/verify/revocation.o \
	src/admin/http.o \
	src/admin/api.o \
	src/admin/secret.o \
	src/admin/worker.o \
	src/ops/stats.o \
	src/ops/faillog.o
# every install and upgrade script: nicelogin--1.0.sql, nicelogin--1.1.sql, nicelogin--1.2.sql, nicelogin--1.0--1.1.sql ...,
# the secondary control file of 1.0 (not relocatable, unlike 1.1), and nicelogin_test's script
DATA         = $(wildcard nicelogin--*.sql) $(wildcard nicelogin--*.control) $(wildcard nicelogin_test--*.sql)
PGFILEDESC   = "nicelogin - JWT verification against a stored JWKS"

REGRESS      = setup verify keys privileges wycheproof request rls_example nicelogin_test cached_time api api_deactivation limits secrets revoke lists store search_path stats postgrest upgrade move token_sources
ISOLATION    = key_change deactivation_race long_transaction
TAP_TESTS    = 1

PG_CONFIG   ?= pg_config
# -Wextra on top of PostgreSQL's -Wall; -Wno-unused-parameter because callback
# signatures (GUC hooks, curl, PostgreSQL's own inline headers) have parameters
# a given implementation does not use.
PG_CPPFLAGS  = -I$(srcdir)/src -DNICELOGIN_VERSION=\"$(EXTVERSION)\" $(shell pkg-config --cflags openssl libcurl) -Wextra -Wno-unused-parameter
SHLIB_LINK   = $(shell pkg-config --libs openssl libcurl)
EXTRA_CLEAN  = results output_iso tmp_check log nicelogin_test$(DLSUFFIX) $(TEST_OBJS)

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies unless PostgreSQL was configured with --enable-depend
# (Debian's is not): every object depends on every header of ours, so that no stale object
# reads a struct with an old layout.
NL_HEADERS = $(wildcard $(srcdir)/src/*.h $(srcdir)/src/*/*.h)
$(OBJS) $(TEST_OBJS): $(NL_HEADERS)

# nicelogin_test.so: PGXS builds one MODULE_big, so the second library has its own link and
# install rules, with the same compiler flags (PGXS's %.o rule).  It links the JOSE core's
# base64url, JSON tree and algorithm table, the lookup of nicelogin's own objects (extension.c)
# and OpenSSL, nothing else of nicelogin's: a database without nicelogin_test never loads
# signing code.
TEST_OBJS = src/testsign.o src/jose/base64url.o src/jose/alg.o src/jose/json.o src/extension.o
all: nicelogin_test$(DLSUFFIX)
nicelogin_test$(DLSUFFIX): $(TEST_OBJS)
	$(LINK.shared) -o $@ $(TEST_OBJS) $(LDFLAGS) $(LDFLAGS_SL) $(shell pkg-config --libs openssl)
install: install-nicelogin-test
install-nicelogin-test: nicelogin_test$(DLSUFFIX) installdirs
	$(INSTALL_SHLIB) nicelogin_test$(DLSUFFIX) '$(DESTDIR)$(pkglibdir)/'
uninstall: uninstall-nicelogin-test
uninstall-nicelogin-test:
	rm -f '$(DESTDIR)$(pkglibdir)/nicelogin_test$(DLSUFFIX)'
.PHONY: install-nicelogin-test uninstall-nicelogin-test
