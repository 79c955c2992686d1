# The JWKS refresh worker: scheduled and early refreshes against the stand-in
# NiceLogin server, the rate limit on early refreshes, failures that keep the
# keys, restart after a crash, idling on a standby and taking over after
# promotion.
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

sub jwks_requests
{
	my $out = `python3 $root/test/nicelogin_ctl.py requests`;
	return scalar grep { m{/\.well-known/jwks/} } split /\n/, $out;
}

# serve the fixture set without the ES256 key at first: that kid is the "rotation"
my %without_ec = (keys => [ grep { $_->{kid} ne 'ec256' } @{ $jwks->{keys} } ]);
my $reduced_file = "${PostgreSQL::Test::Utils::tmp_check}/jwks_reduced.json";
unlink $reduced_file;    # one prove run shares tmp_check: t/011_postgrest.pl writes this name too
PostgreSQL::Test::Utils::append_to_file($reduced_file, encode_json(\%without_ec));
api_ctl('jwks', $reduced_file);

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'nicelogin'
nicelogin.database = 'postgres'
nicelogin.base_url = '$api_url'
nicelogin.api_key = 'test-api-key'
nicelogin.jwks_refresh_interval = '1h'
nicelogin.jwks_min_refresh_interval = '1s'
});
$primary->start;

is( $primary->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nicelogin jwks refresh'"),
	'1', 'the worker shows in pg_stat_activity');

$primary->safe_psql('postgres', 'CREATE EXTENSION nicelogin');


# The table is empty, so every token is refused (no_keys): the first one asks for a refresh.
my $took = wait_for_value($primary, 'postgres', "SELECT nicelogin_check('$tokens->{rs256}')", 'valid', 30);
ok(defined $took, 'an unknown kid makes the worker fetch the key set');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM nicelogin_keys'),
	scalar(@{ $without_ec{keys} }), 'the fetched keys are stored');
is( $primary->safe_psql('postgres',
		"SELECT last_fetch_by, last_fetch_keys, next_refresh_at > now() + interval '50 minutes', keys_stored FROM nicelogin_jwks_state"),
	"refresh worker|" . scalar(@{ $without_ec{keys} }) . "|t|" . scalar(@{ $without_ec{keys} }),
	'the state view reports the fetch and the next planned refresh');

# Key rotation: NiceLogin publishes a new key, a token names it.  (Wait out
# the min interval of the last fetch, to time the worker, not the rate limit.)
sleep 1.2;
api_ctl('jwks', "$root/test/fixtures/jwks.json");
my $seen = $primary->safe_psql('postgres',
	"SELECT clock_timestamp(), nicelogin_check('$tokens->{es256}')");
like($seen, qr/\|unknown_key$/, 'a token signed with the new key is unknown at first');
my $seen_at = (split /\|/, $seen)[0];
my $rotation = wait_for_value($primary, 'postgres', "SELECT nicelogin_check('$tokens->{es256}')", 'valid', 30);
ok(defined $rotation, 'the new kid becomes usable without anyone calling a function');
my $stored_ms = $primary->safe_psql('postgres',
	"SELECT round(1000 * extract(epoch FROM last_fetch_at - '$seen_at'::timestamptz)) FROM nicelogin_jwks_state");
diag(sprintf('new kid first seen -> new key set stored by the worker: %s ms; -> a new session verifies the token: %.0f ms',
		$stored_ms, 1000 * $rotation))
  if defined $rotation;

# A flood of forged kids: at most one early refresh per min interval.
sleep 1;
my $before = jwks_requests();
my $flood_start = time;
for my $i (1 .. 40)
{
	my $forged = encode_base64url(qq({"alg":"RS256","kid":"forged-$i"})) . '.e30.AAAA';
	$primary->safe_psql('postgres', "SELECT nicelogin_check('$forged')");
	usleep(50_000);
}
my $elapsed = time - $flood_start;
sleep 1;
my $flood_fetches = jwks_requests() - $before;
cmp_ok($flood_fetches, '<=', int($elapsed) + 2,
	"40 forged kids over ${\ sprintf('%.1f', $elapsed)} s cause at most one fetch per second ($flood_fetches)");

# A failing API: the keys stay, the error is reported, tokens still verify.
api_ctl('mode', 'error500');
$primary->safe_psql('postgres', "SELECT nicelogin_check('" . encode_base64url('{"alg":"RS256","kid":"new"}') . ".e30.AAAA')");
ok( defined wait_for_value($primary, 'postgres',
		"SELECT last_error IS NOT NULL AND last_error_at > last_fetch_at FROM nicelogin_jwks_state", 't', 30),
	'a failed refresh is reported');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM nicelogin_keys'),
	scalar(@{ $jwks->{keys} }), 'a failed refresh keeps the stored keys');
is($primary->safe_psql('postgres', "SELECT nicelogin_check('$tokens->{rs256}')"),
	'valid', 'tokens still verify');
like(slurp_file($primary->logfile), qr/nicelogin could not refresh the JWKS/, 'the failure is logged');
api_ctl('mode', 'normal');

# A manual refresh is reported too, with who did it.
$primary->safe_psql('postgres', 'SELECT nicelogin_refresh_jwks()');
like($primary->safe_psql('postgres', 'SELECT last_fetch_by FROM nicelogin_jwks_state'),
	qr/^\w+$/, 'a manual refresh records the session user');

# After ALTER EXTENSION nicelogin SET SCHEMA the worker finds the extension in
# its new schema: an unknown kid makes it store a rotated set there.
$primary->safe_psql('postgres', 'CREATE SCHEMA nl_moved; ALTER EXTENSION nicelogin SET SCHEMA nl_moved');
api_ctl('jwks', $reduced_file);
$primary->safe_psql('postgres',
	"SELECT nl_moved.nicelogin_check('" . encode_base64url('{"alg":"RS256","kid":"moved"}') . ".e30.AAAA')");
ok( defined wait_for_value($primary, 'postgres', 'SELECT count(*) FROM nl_moved.nicelogin_keys',
		scalar(@{ $without_ec{keys} }), 30),
	'after SET SCHEMA the worker stores the fetched keys in the new schema');
is( $primary->safe_psql('postgres',
		"SELECT last_fetch_by, nl_moved.nicelogin_check('$tokens->{rs256}') FROM nl_moved.nicelogin_jwks_state"),
	'refresh worker|valid', 'the worker recorded its fetch, and tokens verify');
$primary->safe_psql('postgres', 'ALTER EXTENSION nicelogin SET SCHEMA public; DROP SCHEMA nl_moved');
api_ctl('jwks', "$root/test/fixtures/jwks.json");
$primary->safe_psql('postgres',
	"SELECT nicelogin_check('" . encode_base64url('{"alg":"RS256","kid":"moved-back"}') . ".e30.AAAA')");
ok( defined wait_for_value($primary, 'postgres', 'SELECT count(*) FROM nicelogin_keys',
		scalar(@{ $jwks->{keys} }), 30),
	'and again once moved back');

# The worker comes back after it dies.
my $pid = $primary->safe_psql('postgres', 'SELECT worker_pid FROM nicelogin_jwks_state');
$primary->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok( defined wait_for_value($primary, 'postgres',
		"SELECT worker_pid IS NOT NULL AND worker_pid <> $pid FROM nicelogin_jwks_state", 't', 40),
	'the worker restarts after being terminated');

# A standby: keys arrive through WAL; its worker stays idle.
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT nicelogin_check('$tokens->{es256}')"),
	'valid', 'tokens verify on the standby');
ok( defined wait_for_value($standby, 'postgres',
		"SELECT worker_pid IS NOT NULL AND next_refresh_at IS NULL AND refreshes = 0 FROM nicelogin_jwks_state", 't', 30),
	'the worker on the standby is idle');
$standby->safe_psql('postgres', "SELECT nicelogin_check('" . encode_base64url('{"alg":"RS256","kid":"standby"}') . ".e30.AAAA')");
sleep 2;
is($standby->safe_psql('postgres', 'SELECT refreshes FROM nicelogin_jwks_state'),
	'0', 'an unknown kid on the standby does not make it write');

# After promotion it takes over.
$standby->promote;
ok( defined wait_for_value($standby, 'postgres', 'SELECT refreshes > 0 FROM nicelogin_jwks_state', 't', 60),
	'after promotion the worker refreshes');
is($standby->safe_psql('postgres', "SELECT nicelogin_check('$tokens->{rs256}')"),
	'valid', 'tokens verify on the promoted node');

$standby->stop;
$primary->stop;
like(slurp_file($primary->logfile), qr/nicelogin jwks refresh worker started/, 'the worker logged its start');
unlike(slurp_file($primary->logfile), qr/TRAP|PANIC|server process .* was terminated by signal (?!15)/,
	'no crash');

$api->kill_kill;
done_testing();
