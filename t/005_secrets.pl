# nicelogin.api_secret with and without shared_preload_libraries: a secret in
# the configuration file without preloading is dropped quietly (no warning to
# every session), explained to the admin caller, logged once per backend and
# reported to the superuser at CREATE EXTENSION; a copy stored in a catalog is
# reported by the refresh worker at start, in the server log only, and refused.
# No value is ever printed.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

my $root = abs_path(dirname(__FILE__) . '/..');
my $secret = 'test-api-secret';

my ($api, $api_url) = start_api_server();

my $user = '22222222-2222-4222-8222-222222222222';

# The server log without the statements the tests send (log_statement = all
# here, and an error logs its statement): those hold the value as typed.
sub log_without_statements
{
	my ($node) = @_;
	return join "\n", grep { !/(?:statement: |STATEMENT:  )/ } split /\n/, slurp_file($node->logfile);
}

# ---- without shared_preload_libraries, the secret in postgresql.conf
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->append_conf('postgresql.conf', qq{
nicelogin.base_url = '$api_url'
nicelogin.api_key = 'test-api-key'
nicelogin.api_secret = '$secret'
});
$plain->start;

my ($ret, $out, $err);
$plain->psql('postgres', 'CREATE EXTENSION nicelogin', stderr => \$err);
like($err, qr/WARNING:  nicelogin.api_secret from the server configuration is ignored because nicelogin is not in shared_preload_libraries/,
	'CREATE EXTENSION tells the superuser that the secret in the file is ignored');
unlike($err, qr/\Q$secret\E/, '... without the value');

$plain->safe_psql('postgres', qq{
CREATE ROLE app LOGIN;
GRANT EXECUTE ON FUNCTION nicelogin_deactivate(uuid) TO app;
});

# A session that has not loaded the library: the setting is a placeholder
# that any role can read.  This is why the secret needs preloading.
is($plain->safe_psql('postgres', 'SHOW nicelogin.api_secret', extra_params => [ '-U', 'app' ]),
	$secret, 'without preloading, a placeholder from the file is readable before the library loads');

is( $plain->safe_psql('postgres', "SELECT count(*) FROM pg_settings WHERE name = 'nicelogin.api_secret'",
		extra_params => [ '-U', 'app' ]),
	'0', '... but left out of pg_settings');

# Loading the library in an ordinary session: no warning.
$ret = $plain->psql('postgres', "SELECT nicelogin_verify('x')",
	stdout => \$out, stderr => \$err, extra_params => [ '-U', 'app' ]);
is($err, '', 'no warning in an ordinary session that loads the library');
$ret = $plain->psql('postgres', "SELECT nicelogin_verify('x'); SHOW nicelogin.api_secret;",
	stdout => \$out, stderr => \$err, on_error_stop => 0, extra_params => [ '-U', 'app' ]);
# 15 and 16+ word the refusal differently
like($err, qr/must be superuser or have privileges of pg_read_all_settings|permission denied to examine "nicelogin.api_secret"/,
	'once loaded, an ordinary role cannot SHOW it');

# The admin caller learns why, twice in one session; the log says it once.
$ret = $plain->psql('postgres', "SELECT nicelogin_deactivate('$user'); SELECT nicelogin_deactivate('$user');",
	stdout => \$out, stderr => \$err, on_error_stop => 0, extra_params => [ '-U', 'app' ]);
like($err, qr/ERROR:  nicelogin.api_secret is not set\nDETAIL:  The value in the server configuration is ignored because nicelogin is not in shared_preload_libraries/,
	'the admin call explains why the secret is not used');
unlike($err, qr/\Q$secret\E/, '... without the value');
$plain->stop;
my $log = log_without_statements($plain);
my $logged = () = $log =~ /LOG:  nicelogin.api_secret from the server configuration is ignored/g;
is($logged, 1, 'the server log says it once for the backend');
unlike($log, qr/\Q$secret\E/, 'the server log never holds the value');

# ---- with shared_preload_libraries, a copy stored before preloading
my $node = PostgreSQL::Test::Cluster->new('preload');
$node->init;
$node->append_conf('postgresql.conf', qq{
nicelogin.base_url = '$api_url'
nicelogin.api_key = 'test-api-key'
nicelogin.database = 'postgres'
nicelogin.jwks_refresh_interval = '1h'
});
$node->start;
# not loaded yet: accepted as a placeholder, readable by every role
$node->safe_psql('postgres', "CREATE ROLE app LOGIN; ALTER ROLE app SET nicelogin.api_secret = '$secret'");
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'nicelogin'
nicelogin.api_secret = '$secret'
});
$node->restart;
my $deadline = time + 30;
while (slurp_file($node->logfile) !~ /nicelogin.api_secret is stored in a catalog/ && time < $deadline)
{
	usleep(100_000);
}
like(slurp_file($node->logfile),
	qr/nicelogin jwks refresh worker started.*\n(?:.*\n)*?.*LOG:  nicelogin.api_secret is stored in a catalog that every role can read\n.*DETAIL:  A value is stored in the setting of role "app"; any role can read it there, and nicelogin never uses it.\n.*HINT:  Remove it \(ALTER ROLE app RESET nicelogin.api_secret\) and rotate the secret at NiceLogin./,
	'the worker reports the stored copy in the server log at start');

$node->psql('postgres', 'CREATE EXTENSION nicelogin', stderr => \$err);
like($err, qr/WARNING:  nicelogin.api_secret is stored in a catalog that every role can read/,
	'CREATE EXTENSION warns the superuser');
unlike($err, qr/ignored because nicelogin is not in shared_preload_libraries/, '... and the preloaded secret is not ignored');

# a session of that role: no warning, the stored value is dropped
$ret = $node->psql('postgres', "SELECT nicelogin_verify('x')",
	stdout => \$out, stderr => \$err, extra_params => [ '-U', 'app' ]);
is($err, '', 'no warning in the session of the role with the stored copy');

# the secret in use is refused while a copy of it is stored
$ret = $node->psql('postgres', "SELECT nicelogin_deactivate('$user')", stderr => \$err);
like($err, qr/nicelogin.api_secret is not used because a copy of it is stored in a catalog that every role can read\nDETAIL:  The value in use is stored in the setting of role "app"./,
	'the secret is refused while a copy is stored');
$node->safe_psql('postgres', 'ALTER ROLE app RESET nicelogin.api_secret');
is($node->safe_psql('postgres', "SELECT nicelogin_deactivate('$user'), nicelogin_activate('$user')"),
	't|t', 'with the copy removed, the preloaded secret works');
# with preloading, storing it again is refused
$ret = $node->psql('postgres', "ALTER ROLE app SET nicelogin.api_secret = '$secret'", stderr => \$err);
like($err, qr/cannot be set per role, per database or per function/, 'storing it is refused once preloaded');
$node->stop;
$log = log_without_statements($node);
unlike($log, qr/\Q$secret\E/, 'the server log never holds the value');

$api->kill_kill;
done_testing();
