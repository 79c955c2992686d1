# The refresh worker runs nothing that a database owner (not a superuser)
# placed on its search path: the attack of the 1.0 release, where a shadowing
# ->> operator and ALTER DATABASE ... SET search_path made the owner a
# superuser at the worker's next start.  Here the worker is restarted under
# such settings (database level, then role level) and made to store a changed
# key set; the trap must never fire.  Also: a refresh that brings the same
# keys writes nothing, so forged kids cannot flush every session's caches.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use JSON::PP;
use MIME::Base64 qw(encode_base64url);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep sleep);

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

my $root = abs_path(dirname(__FILE__) . '/..');
my $tokens = decode_json(slurp_file("$root/test/fixtures/tokens.json"));
my $jwks = decode_json(slurp_file("$root/test/fixtures/jwks.json"));

my ($api, $api_url) = start_api_server();

# key sets to serve: the fixture set without one kid each time
my $n = 0;
sub serve_without
{
	my ($kid) = @_;
	my %set = (keys => [ grep { $_->{kid} ne $kid } @{ $jwks->{keys} } ]);
	my $file = "${PostgreSQL::Test::Utils::tmp_check}/jwks_" . $n++ . ".json";
	PostgreSQL::Test::Utils::append_to_file($file, encode_json(\%set));
	api_ctl('jwks', $file);
	return join(',', sort map { $_->{kid} } @{ $set{keys} });
}
my $kids_sql = q{SELECT string_agg(kid, ',' ORDER BY kid COLLATE "C") FROM nicelogin.nicelogin_keys};

my $node = PostgreSQL::Test::Cluster->new('privilege');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'nicelogin'
nicelogin.database = 'app'
nicelogin.base_url = '$api_url'
nicelogin.api_key = 'test-api-key'
nicelogin.jwks_refresh_interval = '1h'
nicelogin.jwks_min_refresh_interval = '1s'
});
$node->start;

# A database whose owner is not a superuser; the extension installed by one.
$node->safe_psql('postgres', q{
CREATE ROLE dbo LOGIN;
CREATE DATABASE app OWNER dbo;
});
# Not into public: the database owner owns it (PostgreSQL 15) and could add
# overloads there that beat the extension's functions in any call.
my ($ret, $stdout, $stderr) = $node->psql('app', 'CREATE EXTENSION nicelogin');
like($stderr, qr/schema "public" can be written by roles that are not superusers: dbo/,
	'CREATE EXTENSION refuses a schema that the database owner can write');
$node->safe_psql('app', 'CREATE SCHEMA nicelogin; CREATE EXTENSION nicelogin SCHEMA nicelogin');

# The database owner's trap: every operator and function the stored-keys SQL
# could use, shadowed in a schema of its own; each records its call and tries
# to make dbo a superuser.
$node->safe_psql('app', q{
CREATE SCHEMA evil;
CREATE TABLE evil.hits (at timestamptz DEFAULT pg_catalog.clock_timestamp(), who name, what text);
GRANT USAGE ON SCHEMA evil TO PUBLIC;
GRANT SELECT, INSERT ON evil.hits TO PUBLIC;
CREATE FUNCTION evil.hit(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO evil.hits (who, what) VALUES (current_user, what);
    EXECUTE 'ALTER ROLE dbo SUPERUSER';
END $$;
CREATE FUNCTION evil.jt(j jsonb, k text) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('->>'); RETURN pg_catalog.jsonb_object_field_text(j, k); END$$;
CREATE OPERATOR evil.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.jt);
CREATE FUNCTION evil.jo(j jsonb, k text) RETURNS jsonb LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('->'); RETURN pg_catalog.jsonb_object_field(j, k); END$$;
CREATE OPERATOR evil.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.jo);
CREATE FUNCTION evil.jsonb_array_elements(j jsonb) RETURNS SETOF jsonb LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('jsonb_array_elements'); RETURN QUERY SELECT pg_catalog.jsonb_array_elements(j); END$$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('now()'); RETURN pg_catalog.now(); END$$;
ALTER DATABASE app SET search_path = evil, pg_catalog, public;
}, extra_params => [ '-U', 'dbo' ]);

# The trap is real: dbo's own unqualified query calls it (its ALTER ROLE fails:
# dbo is no superuser), so a clean result below means the worker avoided it.
my ($rc, $out, $err) = $node->psql('app', q{SELECT '{"a":"1"}'::jsonb ->> 'a'},
	extra_params => [ '-U', 'dbo' ]);
like($err, qr/permission denied|must be superuser/, "the trap fires for dbo's own query");
is($node->safe_psql('app', 'SHOW search_path', extra_params => [ '-U', 'dbo' ]),
	'evil, pg_catalog, public', "the database's search_path reaches new sessions");

# The overload attack: dbo adds better-matching functions where it can (public),
# and cannot add any to the extension's schema; a superuser's qualified call
# with a varchar argument (as JDBC sends) runs nicelogin's own.
$node->safe_psql('app', q{
CREATE FUNCTION public.nicelogin_verify(token varchar) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN PERFORM evil.hit('nicelogin_verify(varchar)'); RETURN true; END$$;
}, extra_params => [ '-U', 'dbo' ]);
($ret, $stdout, $stderr) = $node->psql('app',
	q{CREATE FUNCTION nicelogin.nicelogin_verify(token varchar) RETURNS boolean LANGUAGE sql AS 'SELECT true'},
	extra_params => [ '-U', 'dbo' ]);
like($stderr, qr/permission denied for schema nicelogin/, "dbo cannot create objects in the extension's schema");
is($node->safe_psql('app',
		q{PREPARE p(varchar) AS SELECT nicelogin.nicelogin_verify($1); EXECUTE p('garbage')}),
	'f', "a qualified call with a varchar argument runs nicelogin's function");
is($node->safe_psql('app', 'SELECT count(*) FROM evil.hits'), '0', 'the overload did not run');

sub check_clean
{
	my ($what) = @_;
	is($node->safe_psql('app', 'SELECT count(*) FROM evil.hits'), '0', "$what: no shadowing object ran");
	is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'dbo'}),
		'f', "$what: the database owner is no superuser");
}

# 1. database-level search_path; the worker restarts and stores a changed set
# (and, at start, purges expired revocations: one past its day of grace, one not)
$node->safe_psql('app', q{INSERT INTO nicelogin.nicelogin_revocations (kind, value, expires_at)
	VALUES ('jti', 'long-expired', pg_catalog.now() - interval '3 days'), ('jti', 'recent', pg_catalog.now() - interval '1 hour')});
my $want = serve_without('ec256');
$node->restart;
ok( defined wait_for_value($node, 'app', $kids_sql, $want, 30),
	'database-level search_path: the restarted worker stored the changed key set');
check_clean('database-level search_path');
ok( defined wait_for_value($node, 'app',
		q{SELECT string_agg(value, ',' ORDER BY value) FROM nicelogin.nicelogin_revocations}, 'recent', 30),
	'the worker purged the expired revocation at start, and kept the one within its day');
like(slurp_file($node->logfile), qr/nicelogin purged 1 expired revocations/, 'the purge is logged');

# 2. role-level search_path of the role the worker connects as (the bootstrap
#    superuser; a superuser's mistake, or one made for it)
$node->safe_psql('postgres',
	q{ALTER ROLE CURRENT_USER IN DATABASE app SET search_path = evil, pg_catalog, public});
$want = serve_without('ed1');
$node->restart;
ok( defined wait_for_value($node, 'app', $kids_sql, $want, 30),
	'role-level search_path: the restarted worker stored the changed key set');
check_clean('role-level search_path');

# 3. an early refresh (a token names an unknown kid) under the same settings
$want = serve_without('rsa2');
$node->safe_psql('app',
	"SELECT nicelogin.nicelogin_check('" . encode_base64url('{"alg":"RS256","kid":"rotated"}') . ".e30.AAAA')");
ok( defined wait_for_value($node, 'app', $kids_sql, $want, 30),
	'early refresh: the worker stored the changed key set');
check_clean('early refresh');

# The worker's refresh ran as the extension's owner, with the pinned path:
# its log line says it stored keys, and nothing was refused.
like(slurp_file($node->logfile), qr/nicelogin refreshed the JWKS: 10 keys/, 'the worker logged the refresh');

# A refresh that brings the same keys writes nothing: same row versions, no
# cache invalidation for the sessions.
my $rows = $node->safe_psql('app', 'SELECT string_agg(xmin::text, \',\' ORDER BY kid) FROM nicelogin.nicelogin_keys');
my $refreshes = $node->safe_psql('app', 'SELECT refreshes FROM nicelogin.nicelogin_jwks_state');
sleep 1.1;    # past the min interval
for my $i (1 .. 3)
{
	$node->safe_psql('app',
		"SELECT nicelogin.nicelogin_check('" . encode_base64url(qq({"alg":"RS256","kid":"forged-$i"})) . ".e30.AAAA')");
	ok( defined wait_for_value($node, 'app', 'SELECT refreshes FROM nicelogin.nicelogin_jwks_state', $refreshes + $i, 30),
		"forged kid $i: the worker fetched the key set again");
	sleep 1.1;
}
is($node->safe_psql('app', 'SELECT string_agg(xmin::text, \',\' ORDER BY kid) FROM nicelogin.nicelogin_keys'),
	$rows, 'refreshes that brought the same keys left the stored rows untouched');
check_clean('unchanged refreshes');

# 4. nicelogin.worker_role: the worker connects as a role with no more than
#    it needs (LOGIN, and SELECT, INSERT, DELETE on the key table).  Without
#    the grants the refresh fails, is logged, and keeps the keys.
$node->safe_psql('postgres', q{CREATE ROLE nicelogin_worker LOGIN});
$node->append_conf('postgresql.conf', "nicelogin.worker_role = 'nicelogin_worker'\n");
$node->reload;
ok( defined wait_for_value($node, 'app',
		q{SELECT usename FROM pg_stat_activity WHERE backend_type = 'nicelogin jwks refresh'},
		'nicelogin_worker', 30),
	'after a reload the worker reconnects as nicelogin.worker_role');
my $kept = $node->safe_psql('app', $kids_sql);
$want = serve_without('rsa384');
ok( defined wait_for_value($node, 'app',
		q{SELECT last_error LIKE '%permission denied%' FROM nicelogin.nicelogin_jwks_state}, 't', 30),
	'without grants the refresh is refused: permission denied');
is($node->safe_psql('app', $kids_sql), $kept, 'a refused refresh keeps the keys');
$node->safe_psql('app', q{GRANT SELECT, INSERT, DELETE ON nicelogin.nicelogin_keys TO nicelogin_worker;
	GRANT INSERT, DELETE ON nicelogin.nicelogin_jwks_fetch TO nicelogin_worker;
	GRANT EXECUTE ON FUNCTION nicelogin.nicelogin_purge_revocations() TO nicelogin_worker;
	GRANT USAGE ON SCHEMA nicelogin TO nicelogin_worker});
$node->safe_psql('app',
	"SELECT nicelogin.nicelogin_check('" . encode_base64url('{"alg":"RS256","kid":"after-grant"}') . ".e30.AAAA')");
ok( defined wait_for_value($node, 'app', $kids_sql, $want, 60),
	'with the grants the worker (no superuser) stores the changed key set');
check_clean('worker_role');

# The schedule at the largest settings: no overflow, the next refresh is the
# interval ahead.
$node->append_conf('postgresql.conf', "nicelogin.jwks_refresh_interval = 2147483\n");
$node->reload;
sleep 1.1;
my $before_max = $node->safe_psql('app', 'SELECT refreshes FROM nicelogin.nicelogin_jwks_state');
$node->safe_psql('app',
	"SELECT nicelogin.nicelogin_check('" . encode_base64url('{"alg":"RS256","kid":"max-interval"}') . ".e30.AAAA')");
ok( defined wait_for_value($node, 'app', 'SELECT refreshes > ' . $before_max . ' FROM nicelogin.nicelogin_jwks_state', 't', 30),
	'an early refresh at the largest refresh interval');
is( $node->safe_psql('app',
		q{SELECT abs(extract(epoch FROM next_refresh_at - now()) - 2147483) < 120 FROM nicelogin.nicelogin_jwks_state}),
	't', 'the next refresh is planned 2147483 s ahead');

$node->stop;
unlike(slurp_file($node->logfile), qr/TRAP|PANIC|server process .* was terminated by signal (?!15)/,
	'no crash');
$api->kill_kill;
done_testing();
