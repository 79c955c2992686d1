# auto_explain with log_nested_statements and log_verbose logs the plans of
# the extension's own SQL statements: none may carry key material (an HMAC
# key's k) as a constant, nor as a logged parameter value (auto_explain's
# "Query Parameters", PostgreSQL 16 on).  The paths that store keys:
# nicelogin_set_jwks(), nicelogin_refresh_jwks() (the refresh worker's path
# too), and nicelogin_test.use_test_key().
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

my $root = abs_path(dirname(__FILE__) . '/..');
my $jwks_hs = decode_json(slurp_file("$root/test/fixtures/jwks_hs.json"));
my @secrets = map { $_->{k} } @{ $jwks_hs->{keys} };

my ($api, $api_url) = start_api_server();
api_ctl('jwks', "$root/test/fixtures/jwks_hs.json");

my $node = PostgreSQL::Test::Cluster->new('auto_explain');
$node->init;
$node->append_conf('postgresql.conf', qq{
nicelogin.base_url = '$api_url'
nicelogin.api_key = 'test-api-key'
log_statement = 'none'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION nicelogin; CREATE EXTENSION nicelogin_test');
# the key set reaches the session by a table, so that no statement logged
# below carries it as a literal
$node->safe_psql('postgres',
	'CREATE TABLE key_sets AS SELECT ' . jwks_lit(fixture_text('jwks_hs.json')) . ' AS jwks');

my $explain = q{
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_verbose = on;
SET auto_explain.log_analyze = off;
};
my $offset = -s $node->logfile;
my $out = $node->safe_psql('postgres', $explain . q{
SELECT nicelogin_set_jwks((SELECT jwks FROM key_sets));
DELETE FROM nicelogin_keys;
SELECT nicelogin_refresh_jwks();
CREATE TEMP TABLE k AS SELECT nicelogin_test.generate_key('HS256', 'generated') AS jwk;
SELECT nicelogin_test.use_test_key((SELECT jwk FROM k)) IS NOT NULL;
SELECT jwk->>'k' FROM k;
SELECT count(*) FROM nicelogin_keys;
});
my @lines = split /\n/, $out;
my $generated = $lines[-2];
is($lines[-1], '1', 'the keys were stored (the generated key replaced the fetched set)');
like($generated, qr/^[A-Za-z0-9_-]{32,}$/, 'the generated key has a k');
push @secrets, $generated;

my $log = substr(slurp_file($node->logfile), $offset);
like($log, qr/Query Text: INSERT INTO public\.nicelogin_keys/,
	'auto_explain logged the plan of the statement that stores keys');
like($log, qr/jsonb_array_elements\(\(\$1 -> 'keys'::text\)\)/,
	'with the key set as a parameter, not a constant');
unlike($log, qr/Query Parameters:.*nicelogin|Query Parameters:.*"kty"/, 'and no parameter values');
my $leaks = grep { index($log, $_) >= 0 } @secrets;
is($leaks, 0, 'no k of the stored keys is in the server log');

$node->stop;
$api->kill_kill;
done_testing();
