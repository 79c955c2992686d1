# nicelogin: PGXS build.  The test-signing extension nicelogin_test is in a folder of its own
# (nicelogin_test/, its own Makefile), which make, make install, make installcheck, make clean
# and make uninstall here reach too.
#
# Tests, against the running server that pg_config's installation serves (PGHOST, PGPORT...),
# as a superuser, after make install:
#   make installcheck       needs nothing else: pg_regress (REGRESS), pg_isolation_regress
#                           (ISOLATION), nicelogin_test/'s suite, and the TAP tests t/*.pl
#                           (PostgreSQL built with --enable-tap-tests; each starts its own
#                           clusters and stand-in server)
#   make installcheck-api   the tests that call the NiceLogin API (REGRESS_API, ISOLATION_API):
#                           they need the stand-in server on 127.0.0.1:18089 first, e.g.
#                           python3 test/nicelogin_server.py --port 18089 --jwks test/fixtures/jwks.json
# test/run-tests.sh runs both, with a cluster and the stand-in server of its own.
EXTENSION    = nicelogin
EXTVERSION   = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" nicelogin.control)
MODULE_big   = nicelogin
OBJS = \
	src/nicelogin.o \
	src/extension.o \
	src/install.o \
	src/jose/base64url.o \
	src/jose/alg.o \
	src/jose/json.o \
	src/jose/jwk.o \
	src/jose/jws.o \
	src/jose/claims.o \
	src/verify/verify.o \
	src/verify/josebridge.o \
	src/verify/request.o \
	src/verify/catalog.o \
	src/verify/keycache.o \
	src/verify/tokencache.o \
	src/verify/sharedcache.o \
	src/verify/revocation.o \
	src/admin/http.o \
	src/admin/api.o \
	src/admin/keystore.o \
	src/admin/secret.o \
	src/admin/worker.o \
	src/ops/stats.o \
	src/ops/faillog.o \
	src/ops/workerstate.o
# every install and upgrade script: nicelogin--1.0.sql, nicelogin--1.1.sql, nicelogin--1.2.sql, nicelogin--1.0--1.1.sql ...,
# and the secondary control file of 1.0 (not relocatable, unlike 1.1)
DATA         = $(wildcard nicelogin--*.sql) $(wildcard nicelogin--*.control)
PGFILEDESC   = "nicelogin - JWT verification against a stored JWKS"

REGRESS      = setup verify keys privileges wycheproof request rls_example cached_time limits revoke lists stats postgrest upgrade token_sources rls_audit encoding
ISOLATION    = key_change long_transaction
TAP_TESTS    = 1
# make installcheck-api's: the tests that need the stand-in NiceLogin API server (setup first:
# pg_regress starts from a new database)
REGRESS_API   = setup api api_deactivation secrets store search_path move
ISOLATION_API = deactivation_race
# the folders of test modules, extensions of their own; test/run-tests.sh runs their suites
# on their own (installcheck with NL_CHECK_MODULES=)
NL_MODULES       = nicelogin_test
NL_CHECK_MODULES = $(NL_MODULES)

PG_CONFIG   ?= pg_config
# -Wextra on top of PostgreSQL's -Wall; -Wno-unused-parameter because callback
# signatures (GUC hooks, curl, PostgreSQL's own inline headers) have parameters
# a given implementation does not use.
PG_CPPFLAGS  = -I$(srcdir)/src -DNICELOGIN_VERSION=\"$(EXTVERSION)\" $(shell pkg-config --cflags openssl libcurl) -Wextra -Wno-unused-parameter
SHLIB_LINK   = $(shell pkg-config --libs openssl libcurl)
EXTRA_CLEAN  = specs

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies unless PostgreSQL was configured with --enable-depend
# (Debian's is not): every object depends on every header of ours, so that no stale object
# reads a struct with an old layout.
NL_HEADERS = $(wildcard $(srcdir)/src/*.h $(srcdir)/src/*/*.h)
$(OBJS): $(NL_HEADERS)

# The test modules: built after every object of nicelogin's (they link some of them, and so
# never compile one at the same time as this make), installed, tested and cleaned with it.
NL_SUBMAKE = $(MAKE) PG_CONFIG='$(PG_CONFIG)'
all: all-modules
all-modules: $(OBJS)
	+$(foreach m,$(NL_MODULES),$(NL_SUBMAKE) -C $(m) all &&) true
install: install-modules
install-modules: all-modules
	+$(foreach m,$(NL_MODULES),$(NL_SUBMAKE) -C $(m) install &&) true
uninstall: uninstall-modules
uninstall-modules:
	+$(foreach m,$(NL_MODULES),$(NL_SUBMAKE) -C $(m) uninstall &&) true
clean: clean-modules
clean-modules:
	+$(foreach m,$(NL_MODULES),$(NL_SUBMAKE) -C $(m) clean &&) true
installcheck: installcheck-modules
installcheck-modules:
	+$(foreach m,$(NL_CHECK_MODULES),$(NL_SUBMAKE) -C $(m) installcheck &&) true

# The isolation specs, made from test/specs/*.spec.in and the fixtures by test/gen_specs.py
# before the tests run (no copy is committed).
NL_SPECS = $(patsubst $(srcdir)/test/specs/%.spec.in,$(srcdir)/specs/%.spec,$(wildcard $(srcdir)/test/specs/*.spec.in))
installcheck installcheck-api: $(NL_SPECS)
$(srcdir)/specs/%.spec: $(srcdir)/test/specs/%.spec.in $(srcdir)/test/gen_specs.py $(wildcard $(srcdir)/test/fixtures/*.json)
	python3 $(srcdir)/test/gen_specs.py $@

# The Wycheproof vectors of sql/wycheproof.sql: the committed copy unless NICELOGIN_VECTORS names
# another folder.
export NICELOGIN_VECTORS ?= $(abspath $(srcdir))/test/vectors/wycheproof

# make installcheck-api: as installcheck's pg_regress and pg_isolation_regress (pgxs.mk), with
# REGRESS_API and ISOLATION_API.
installcheck-api: submake $(REGRESS_PREP)
ifneq ($(strip $(REGRESS_API)),)
	$(pg_regress_installcheck) $(filter-out --dbname=%,$(REGRESS_OPTS)) --dbname=$(CONTRIB_TESTDB) $(REGRESS_API)
endif
ifneq ($(strip $(ISOLATION_API)),)
	$(pg_isolation_regress_installcheck) $(filter-out --dbname=%,$(ISOLATION_OPTS)) --dbname=$(ISOLATION_TESTDB) $(ISOLATION_API)
endif

.PHONY: all-modules install-modules uninstall-modules clean-modules installcheck-modules installcheck-api
