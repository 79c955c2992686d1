# nicelogin.token with the library preloaded: values stored in the server
# configuration, per database and per role (stored before the library was
# loaded) give no session an identity; the refusal is logged with the reason.
# The session's own ways (SET, SET LOCAL, set_config, connection options)
# keep working.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

my $node = PostgreSQL::Test::Cluster->new('token_sources');
$node->init;
$node->start;

my $rs256 = tok('rs256');
my $bob = tok('bob');
$node->safe_psql('postgres', q{
CREATE ROLE app LOGIN;
CREATE DATABASE appdb;
});
$node->safe_psql('appdb',
	'CREATE SCHEMA nicelogin; CREATE EXTENSION nicelogin SCHEMA nicelogin; GRANT USAGE ON SCHEMA nicelogin TO app; '
	  . 'SELECT nicelogin.nicelogin_set_jwks(' . jwks_lit(fixture_text('jwks.json')) . ')');
# Each its own session, the library not loaded: stored as placeholders.
$node->safe_psql('appdb', "ALTER DATABASE appdb SET nicelogin.token = $bob");
$node->safe_psql('appdb', "ALTER ROLE app SET nicelogin.token = $rs256");
$node->safe_psql('postgres', "ALTER ROLE app IN DATABASE postgres SET nicelogin.token = $rs256");

$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'nicelogin'
nicelogin.database = 'appdb'
nicelogin.token = $rs256
});
$node->restart;

my $whoami = 'SELECT nicelogin.nicelogin_token() IS NULL, nicelogin.nicelogin_user_id() IS NULL, '
  . q{current_setting('nicelogin.token') = ''};
is($node->safe_psql('appdb', $whoami, extra_params => [ '-U', 'app' ]),
	't|t|t', 'a session of the role with a stored token has no identity');
is($node->safe_psql('appdb', $whoami), 't|t|t',
	'nor has a session of another role in the database with a stored token');
is($node->safe_psql('postgres', q{SELECT current_setting('nicelogin.token') = ''}, extra_params => [ '-U', 'app' ]),
	't', 'nor one with a setting of the role in a database, nor from postgresql.conf');

my $log = slurp_file($node->logfile);
like($log, qr/nicelogin\.token can only be set by the session itself/, 'the refusal is logged');
like($log, qr/a request's identity must come from the request/, 'with the reason');
like($log, qr/remove it with ALTER ROLE app RESET nicelogin\.token\./, 'and how to remove a stored value: the role');
like($log, qr/remove it with ALTER DATABASE appdb RESET nicelogin\.token\./, 'the database');
like($log, qr/remove it with ALTER ROLE app IN DATABASE postgres RESET nicelogin\.token\./, 'the role in a database');
unlike($log, qr/remove it with ALTER (ROLE|DATABASE)[^\n]*\.\.\./, 'every hint names its role and database');

# The session's own: SET, SET LOCAL, set_config, and the connection's options.
is( $node->safe_psql('appdb',
		"SET nicelogin.token = $rs256; SELECT nicelogin.nicelogin_check(nicelogin.nicelogin_token())",
		extra_params => [ '-U', 'app' ]),
	'valid', 'SET works');
is( $node->safe_psql('appdb',
		"BEGIN; SELECT set_config('nicelogin.token', $bob, true) IS NOT NULL; SELECT nicelogin.nicelogin_check(nicelogin.nicelogin_token()); COMMIT;",
		extra_params => [ '-U', 'app' ]),
	"t\nvalid", 'set_config(..., true) works');
{
	local $ENV{PGOPTIONS} = '-c nicelogin.token=' . substr($rs256, 1, -1);
	is($node->safe_psql('appdb', 'SELECT nicelogin.nicelogin_check(nicelogin.nicelogin_token())', extra_params => [ '-U', 'app' ]),
		'valid', 'connection options (the client\'s own choice) work');
}
{
	# request.headers follows the same rule (request.c): the connection's options count
	local $ENV{PGOPTIONS} = '-c request.headers={"authorization":"Bearer\\ ' . substr($rs256, 1, -1) . '"}';
	is($node->safe_psql('appdb', 'SELECT nicelogin.nicelogin_check(nicelogin.nicelogin_token())', extra_params => [ '-U', 'app' ]),
		'valid', 'request.headers from the connection options counts too');
}

# Stored while preloaded: refused at once.
my ($ret, $out, $err) = $node->psql('appdb', "ALTER ROLE app SET nicelogin.token = $bob");
like($err, qr/ERROR:  nicelogin\.token can only be set by the session itself/,
	'ALTER ROLE ... SET is refused');
($ret, $out, $err) = $node->psql('appdb', "ALTER SYSTEM SET nicelogin.token = $bob");
like($err, qr/ERROR:  nicelogin\.token can only be set by the session itself/,
	'ALTER SYSTEM SET is refused');

$node->stop;
done_testing();
