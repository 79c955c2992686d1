# nicelogin_stats and nicelogin.log_failures with shared_preload_libraries:
# a known workload of valid and refused tokens from three concurrent
# sessions in two databases, then the counts checked exactly (full
# verifications against token cache answers, per database and outcome, key
# events); a backend's own pending counts, counts of a backend terminated
# inside a transaction, the reset, who may read; and the failure log: one
# line per refused full verification, hostile claims escaped and cut, at most
# 10 a minute per session with the rest counted, never a token.
use strict;
use warnings;

use IPC::Run;
use MIME::Base64 qw(encode_base64url);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

my $node = PostgreSQL::Test::Cluster->new('stats');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'nicelogin'
nicelogin.log_failures = on
# no statement in the log: every line of it is checked for tokens
log_statement = none
# no autovacuum or parallel workers to add key loads or sessions
autovacuum = off
max_parallel_workers_per_gather = 0
nicelogin.base_url = 'http://127.0.0.1:1'
});
$node->start;

my $jwks = jwks_lit(fixture_text('jwks.json'));
$node->safe_psql('postgres', q{
CREATE ROLE app LOGIN;
CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
CREATE DATABASE db1;
CREATE DATABASE db2;
});
for my $db ('db1', 'db2')
{
	$node->safe_psql($db, "CREATE EXTENSION nicelogin; SELECT nicelogin_set_jwks($jwks);");
}
# 10 rows of ALICE's company, 5 of BOB's, under a policy on the verified claim
$node->safe_psql('db1', q{
CREATE TABLE items (company_id uuid NOT NULL, n int NOT NULL);
INSERT INTO items SELECT 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', g FROM generate_series(1, 10) g;
INSERT INTO items SELECT 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', g FROM generate_series(1, 5) g;
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON items USING (company_id = nicelogin_company_id());
GRANT SELECT ON items TO app;
});
my $reset_before = $node->safe_psql('db1', 'SELECT nicelogin_stats_reset(); SELECT now();');
is($node->safe_psql('db1', 'SELECT count(*) FROM nicelogin_stats'), '0', 'no rows after a reset');

# Hostile tokens (forged signatures): claims with a newline, quote and
# backslash, a 5000-byte jti, a kid with a newline.
sub b64json { return encode_base64url($_[0]) }
my $sig = encode_base64url('S' x 256);
my $hostile_sig = b64json('{"alg":"RS256","kid":"rsa1","typ":"JWT"}') . '.'
  . b64json('{"iss":"evil\"\\\\issuer","sub":"x\nLOG:  injected line","jti":"' . ('J' x 5000)
	  . '","exp":4102444800}')
  . ".$sig";
my $hostile_kid = b64json('{"alg":"RS256","kid":"k\nFATAL:  injected kid"}') . '.'
  . b64json('{"sub":"someone"}') . ".$sig";

# one statement (one transaction) per line
my %script = (
	a => [
		'db1',
		(map { 'SELECT nicelogin_check(' . tok('rs256') . ')' } 1 .. 3),
		(map { 'SELECT nicelogin_check(' . tok('expired') . ')' } 1 .. 2),
		(map { 'SELECT nicelogin_check(' . tok('rs256_wrong_key') . ')' } 1 .. 2),
		"SELECT nicelogin_check('garbage')",
		'SET nicelogin.token = ' . tok('bob'),
		'SELECT count(*) FROM items',
		'SELECT count(*) FROM items',
		'SET nicelogin.token = ' . tok('rs256'),
		'SELECT count(*) FROM items',
	],
	b => [
		'db1',
		'SELECT nicelogin_check(' . tok('rs256') . ')',
		(map { 'SELECT nicelogin_check(' . tok('unknown_kid') . ')' } 1 .. 2),
		"SELECT nicelogin_check(repeat('x', 20000))",
		"SELECT nicelogin_check('$hostile_sig')",
		"SELECT nicelogin_check('$hostile_kid')",
	],
	c => [
		'db2',
		(map { 'SELECT nicelogin_check(' . tok('rs256') . ')' } 1 .. 2),
		'SELECT nicelogin_check(' . tok('not_yet_valid') . ')',
		(map { 'SELECT nicelogin_check(' . tok('missing_exp') . ')' } 1 .. 2),
		"SELECT count(*) FROM generate_series(1, 12) i WHERE nicelogin_check('bad' || i) = 'malformed'",
	],);
my %want_out = (
	a => "valid\nvalid\nvalid\nexpired\nexpired\nbad_signature\nbad_signature\nmalformed\n5\n5\n10",
	b => "valid\nunknown_key\nunknown_key\ntoo_long\nbad_signature\nunknown_key",
	c => "valid\nvalid\nnot_yet_valid\nmissing_exp\nmissing_exp\n12",);

# the three sessions at once, as the ordinary role
my (%h, %out, %err);
for my $s (sort keys %script)
{
	my ($db, @sql) = @{ $script{$s} };
	my $input = join('', map { "$_;\n" } @sql);
	($out{$s}, $err{$s}) = ('', '');
	$h{$s} = IPC::Run::start(
		[ 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-U', 'app' ],
		'<', \$input, '>', \$out{$s}, '2>', \$err{$s});
}
for my $s (sort keys %script)
{
	$h{$s}->finish;
	chomp $out{$s};
	is($out{$s}, $want_out{$s}, "session $s: answers");
	is($err{$s}, '', "session $s: no error");
}

# Every session has ended, so its counts are in: exact, per database.  A
# session's miss in its own cache is a full verification or a hit in the
# shared cache (sharedcache.c), depending on which concurrent session came
# first: their sum is exact.
my $answers = q{SELECT datname, reason, verified + shared, cached FROM nicelogin_stats
 WHERE verified + cached + shared > 0 ORDER BY datname, reason};
is( $node->safe_psql('db1', $answers), join("\n",
		'db1|bad_signature|2|1',
		'db1|expired|2|0',
		'db1|malformed|1|0',
		'db1|too_long|1|0',
		'db1|unknown_key|2|1',
		'db1|valid|3|3',
		'db2|malformed|12|0',
		'db2|missing_exp|1|1',
		'db2|not_yet_valid|1|0',
		'db2|valid|1|1'),
	'verified and cached counts per database and outcome after the workload');
is($node->safe_psql('db1', 'SELECT count(*), count(DISTINCT stats_reset) FROM nicelogin_stats'),
	'28|1', 'every outcome (14) of both databases has a row, with one reset time');
is( $node->safe_psql('db1',
		'SELECT datname, key_loads, key_parses, refresh_requests FROM nicelogin_stats_keys ORDER BY 1'),
	"db1|2|2|2\ndb2|1|1|0",
	'key loads (one per session), and early refreshes asked for the two unknown kids');

# A backend sees its own counts before its transaction ends; others see
# them at its end.
is( $node->safe_psql('db2', 'BEGIN; SELECT nicelogin_check(' . tok('rs256_kid2') . ");
SELECT verified FROM nicelogin_stats WHERE datname = 'db2' AND reason = 'valid'; COMMIT;"),
	"valid\n2", 'a session sees its own counts within its transaction');

# A backend terminated inside its transaction loses nothing.
my ($in, $bout, $berr) = ('', '', '');
my $bg = IPC::Run::start([ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('db2'), '-U', 'app' ],
	'<', \$in, '>', \$bout, '2>', \$berr);
$in = 'BEGIN; SELECT nicelogin_check(' . tok('es256') . "); SELECT 'pid=' || pg_backend_pid();\n";
my $deadline = time + 30;
$bg->pump_nb while $bout !~ /pid=(\d+)/ && time < $deadline;
my ($pid) = $bout =~ /pid=(\d+)/;
ok($pid, 'a session in an open transaction after a verification');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid, 10000)");
$bg->kill_kill;
is( $node->safe_psql('db1', "SELECT verified FROM nicelogin_stats WHERE datname = 'db2' AND reason = 'valid'"),
	'3', 'the count of a backend terminated in its transaction is kept');

# Readable by pg_monitor members, not by an ordinary role.
is($node->safe_psql('db1', 'SELECT count(*) FROM nicelogin_stats', extra_params => [ '-U', 'monitor' ]),
	'28', 'a pg_monitor member reads nicelogin_stats');
is($node->safe_psql('db1', 'SELECT count(*) FROM nicelogin_stats_keys', extra_params => [ '-U', 'monitor' ]),
	'2', '... and nicelogin_stats_keys');
my ($ret, $o, $e);
$ret = $node->psql('db1', 'SELECT count(*) FROM nicelogin_stats', stdout => \$o, stderr => \$e,
	extra_params => [ '-U', 'app' ]);
like($e, qr/permission denied for view nicelogin_stats/, 'an ordinary role cannot read nicelogin_stats');
$ret = $node->psql('db1', 'SELECT nicelogin_stats_reset()', stdout => \$o, stderr => \$e,
	extra_params => [ '-U', 'monitor' ]);
like($e, qr/permission denied for function nicelogin_stats_reset/, 'nor can pg_monitor reset them');

# The reset zeroes every database's counts.
$node->safe_psql('db2', 'SELECT nicelogin_stats_reset()');
is($node->safe_psql('db1', 'SELECT count(*) FROM nicelogin_stats'), '0', 'after the reset: no rows');
is($node->safe_psql('db1', 'SELECT count(*) FROM nicelogin_stats_keys'), '0', '... in either view');
$node->safe_psql('db1', 'SELECT nicelogin_check(' . tok('rs256') . ')', extra_params => [ '-U', 'app' ]);
is( $node->safe_psql('db1', q{SELECT datname, reason, verified + shared, cached FROM nicelogin_stats
 WHERE verified + cached + shared > 0}),
	'db1|valid|1|0', 'counting starts again from zero');
# a new session verifying that token again: a hit in the shared cache
$node->safe_psql('db1', 'SELECT nicelogin_check(' . tok('rs256') . ')', extra_params => [ '-U', 'app' ]);
is( $node->safe_psql('db1', q{SELECT verified + shared, shared >= 1, cached FROM nicelogin_stats
 WHERE datname = 'db1' AND reason = 'valid'}),
	'2|t|0', "another session's verification is counted as a shared cache answer");
is($node->safe_psql('db1', "SELECT bool_and(stats_reset > '$reset_before') FROM nicelogin_stats"),
	't', 'stats_reset moved');

# ---- the failure log
# session c's exit logs how many of its refusals were not logged
my $log;
$deadline = time + 30;
do
{
	usleep(100_000);
	$log = slurp_file($node->logfile);
} while ($log !~ /did not log/ && time < $deadline);

my %lines;
$lines{$1}++ while $log =~ /LOG:  nicelogin refused a token: (\w+)\n/g;
is_deeply(
	\%lines,
	{
		expired => 2,
		bad_signature => 2,
		malformed => 9,
		unknown_key => 2,
		too_long => 1,
		not_yet_valid => 1,
		missing_exp => 1
	},
	'one line per refused full verification, none for cached refusals, 10 at most per session');
my @suppressed = $log =~ /(LOG:  nicelogin did not log \d+ further refused tokens)/g;
is_deeply(\@suppressed, ['LOG:  nicelogin did not log 4 further refused tokens'],
	'the refusals over the limit are counted, and logged at the session\'s exit');
like($log, qr/DETAIL:  nicelogin.log_failures logs at most 10 refusals a minute per session\./,
	'... saying what the limit is');

like($log, qr/DETAIL:  Token of 705 bytes; header: kid="rsa1" alg="RS256"; unverified claims: sub="11111111-1111-4111-8111-111111111111" jti="jti-alice-1"\./,
	'a refusal is logged with kid, alg, sub and jti, the claims marked unverified');
like($log,
	qr/header: kid="rsa1" alg="RS256"; unverified claims: iss="evil\\x22\\x5cissuer" sub="x\\x0aLOG:  injected line" jti="J{64}" \(5000 bytes, cut\)\./,
	'hostile claims are escaped and cut');
like($log, qr/header: kid="k\\x0aFATAL:  injected kid" alg="RS256"; unverified claims: sub="someone"\./,
	'... and a hostile kid');
like($log, qr/DETAIL:  Token of 20000 bytes\.\n/, 'a token over the length limit is not decoded');
# (the server indents continuation lines of a message with a tab)
unlike($log, qr/^\s*(?:LOG|FATAL):  injected/m, 'no line injected into the log');
unlike($log, qr/J{65}/, 'no claim longer than the limit');
unlike($log, qr/x{100}/, 'nothing of the long token');
my $leaked = 0;
for my $t ((map { substr(tok($_), 1, -1) } qw(rs256 expired rs256_wrong_key bob unknown_kid not_yet_valid missing_exp)),
	$hostile_sig, $hostile_kid)
{
	my (undef, $payload, $signature) = split /\./, $t;
	$leaked++ if index($log, $payload) >= 0 || index($log, $signature) >= 0;
}
is($leaked, 0, 'no payload or signature of any token in the log');

$node->stop;
done_testing();
