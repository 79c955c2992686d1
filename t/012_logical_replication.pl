# Logical replication of the extension's tables (a FOR ALL TABLES
# publication, as blue/green upgrade tooling creates), with nicelogin
# preloaded on both sides, the shared token cache on, and both refresh
# workers configured the same way:
# - on the publisher every function and the worker keep working (each table
#   can be published: a primary key or replica identity FULL);
# - the initial copy meets keys, a fetch row, a revocation and a deactivation
#   the subscriber stored before the subscription existed, and merges them;
# - on the subscriber a replicated key rotation, key removal, revocation,
#   deactivation and reactivation are honoured at the next statement by a
#   session connected before (its own caches) and by a new one (the shared
#   cache, whose entries were made before the change);
# - the subscriber's worker does not refresh (and says so), nicelogin_set_jwks
#   and nicelogin_refresh_jwks refuse with a hint, purging leaves the
#   replicated revocations alone; a local revocation works, and the same
#   revocation arriving from the publisher later merges with it; the
#   subscription keeps running throughout;
# - after the subscription is dropped (a cutover), the subscriber manages its
#   keys itself.
# It prints the time from a revocation's commit on the publisher to a
# subscriber session refusing the token.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

my $root = abs_path(dirname(__FILE__) . '/..');
my $jwks = decode_json(fixture_text('jwks.json'));
my $alice_id = '11111111-1111-4111-8111-111111111111';
my $carol_id = '33333333-3333-4333-8333-333333333333';

# Tokens signed with the fixture key rsa1, as SQL literals.
sub signed_literals { return map { "'$_'" } sign_tokens(@_); }

# The fixture key set without the keys of these kids, as a file for the
# stand-in server and as a SQL literal.
sub jwks_without
{
	my @kids = @_;
	my %drop = map { $_ => 1 } @kids;
	my $text = encode_json({ keys => [ grep { !$drop{ $_->{kid} } } @{ $jwks->{keys} } ] });
	my $file = "${PostgreSQL::Test::Utils::tmp_check}/jwks_without_" . join('_', @kids, 'none') . '.json';
	unlink $file;
	PostgreSQL::Test::Utils::append_to_file($file, $text);
	return ($file, jwks_lit($text));
}

my ($api, $api_url) = start_api_server();
END { local $?; $api->kill_kill if $api; }
my ($reduced_file, $reduced) = jwks_without('ec256');    # the "rotation" adds ec256
my ($full_file) = jwks_without();
my (undef, $no_rsa1) = jwks_without('rsa1');
api_ctl('jwks', $reduced_file);

my $conf = qq{
shared_preload_libraries = 'nicelogin'
nicelogin.database = 'postgres'
nicelogin.base_url = '$api_url'
nicelogin.api_key = 'test-api-key'
nicelogin.jwks_refresh_interval = '1h'
nicelogin.jwks_min_refresh_interval = '1s'
};
my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', $conf);
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf('postgresql.conf', $conf);
$sub->start;

# Both sides store the key set the stand-in server serves, each on its own
# (as their workers do, which start trying before the extension exists).
for my $node ($pub, $sub)
{
	$node->safe_psql('postgres', 'CREATE EXTENSION nicelogin');
	is($node->safe_psql('postgres', 'SELECT nicelogin_refresh_jwks()'), '10',
		$node->name . ': the key set is stored');
}

# ------------------------------------------------------------------ the publisher
$pub->safe_psql('postgres', 'CREATE PUBLICATION nl_pub FOR ALL TABLES');
is( $pub->safe_psql('postgres', q{
		SELECT string_agg(c.relname || ':' || CASE WHEN c.relreplident = 'f' THEN 'full'
		                                          WHEN EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) THEN 'pk'
		                                          ELSE 'none' END, ',' ORDER BY c.relname)
		  FROM pg_publication_tables p JOIN pg_class c ON c.relname = p.tablename
		 WHERE p.pubname = 'nl_pub' AND c.relname LIKE 'nicelogin%'}),
	'nicelogin_deactivated_users:pk,nicelogin_jwks_fetch:pk,nicelogin_keys:full,nicelogin_revocations:pk',
	'every table of the extension is published, each with an identity for updates and deletes');
is($pub->safe_psql('postgres', "SELECT nicelogin_set_jwks($no_rsa1)"), '10',
	'publisher: nicelogin_set_jwks replaces the keys (deletes) with the publication in place');
api_ctl('jwks', $reduced_file);
is($pub->safe_psql('postgres', 'SELECT nicelogin_refresh_jwks()'), '10',
	'publisher: nicelogin_refresh_jwks stores and records the fetch');
$pub->safe_psql('postgres', q{
	SELECT nicelogin_revoke_jti('jti-shared', '2100-01-01');
	INSERT INTO nicelogin_revocations (kind, value, expires_at) VALUES ('jti', 'jti-expired', '2000-01-01');
	INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('33333333-3333-4333-8333-333333333333');
	UPDATE nicelogin_revocations SET expires_at = '2001-01-01' WHERE value = 'jti-expired'});
is($pub->safe_psql('postgres', 'SELECT nicelogin_purge_revocations()'), '1',
	'publisher: nicelogin_purge_revocations deletes');

# The subscriber revoked and deactivated on its own, the same jti and user, and holds a key the
# publisher lacks (the initial copy must replace the whole set, not only the same kids).
$sub->safe_psql('postgres', q{
	INSERT INTO nicelogin_keys (kid, kty, alg, use, jwk)
	SELECT 'sub-only', kty, alg, use, jsonb_set(jwk, '{kid}', '"sub-only"')
	  FROM nicelogin_keys WHERE kid = 'rsa1'});
$sub->safe_psql('postgres', qq{
	SELECT nicelogin_revoke_jti('jti-shared');
	INSERT INTO nicelogin_deactivated_users (user_id, deactivated_by) VALUES ('$carol_id', 'subscriber')});

# ------------------------------------------------------------------ the subscription
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION nl_sub CONNECTION '$connstr' PUBLICATION nl_pub");
$sub->wait_for_subscription_sync($pub, 'nl_sub');

sub running
{
	my ($what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	$pub->wait_for_catchup('nl_sub');
	# (from 16 on parallel apply workers show with relid NULL too; every *_error_count column,
	# as 19 split sync_error_count into one per kind of object synchronized)
	is( $sub->safe_psql('postgres', q{
			SELECT (SELECT bool_or(s.pid IS NOT NULL) FROM pg_stat_subscription s
			         WHERE s.subname = 'nl_sub' AND s.relid IS NULL),
			       (SELECT sum(e.value::bigint) FROM pg_stat_subscription_stats st,
			               jsonb_each_text(to_jsonb(st)) e
			         WHERE st.subname = 'nl_sub' AND e.key LIKE '%error_count')}),
		't|0', "the subscription runs without an error: $what");
}
running('the initial copy');

my $keys_sql = 'SELECT string_agg(jwk::text, \',\' ORDER BY kid) || count(*) FROM nicelogin_keys';
is($sub->safe_psql('postgres', $keys_sql), $pub->safe_psql('postgres', $keys_sql),
	'initial copy: the publisher\'s keys replaced the subscriber\'s, the key only it had too');
my $fetch_sql = 'SELECT fetched_at, fetched_by, keys, (SELECT count(*) FROM nicelogin_jwks_fetch) FROM nicelogin_jwks_fetch';
is($sub->safe_psql('postgres', $fetch_sql), $pub->safe_psql('postgres', $fetch_sql),
	'initial copy: the publisher\'s fetch row replaced the subscriber\'s');
is( $sub->safe_psql('postgres',
		"SELECT count(*), bool_and(expires_at IS NULL) FROM nicelogin_revocations WHERE value = 'jti-shared'"),
	'1|t', 'initial copy: the revocation made on both sides is one row, for good (the later expiry)');
is( $sub->safe_psql('postgres',
		"SELECT count(*), min(deactivated_by) FROM nicelogin_deactivated_users WHERE user_id = '$carol_id'"),
	'1|subscriber', 'initial copy: the deactivation made on both sides stays');

# ------------------------------------------------------------------ sessions on the subscriber
# A is connected before every change; each check is one statement.
my $sa = $sub->background_psql('postgres', on_error_stop => 0);
sub a_says
{
	my ($sql) = @_;
	$sa->{stderr} = '';
	my $out = $sa->query($sql);
	die "session A: $sa->{stderr}" if $sa->{stderr} =~ /ERROR/;
	return $out;
}

sub all_say
{
	my ($token, $want, $what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is(a_says("SELECT nicelogin_check($token)"), $want, "subscriber, connected session: $what: $want");
	is($sub->safe_psql('postgres', "SELECT nicelogin_check($token)"), $want,
		"subscriber, new session: $what: $want");
}

# Fill both cache levels with the verdicts the changes must overturn.
for my $t (tok('rs256'), tok('bob'), tok('es256'))
{
	a_says("SELECT nicelogin_check($t)");
	$sub->safe_psql('postgres', "SELECT nicelogin_check($t)");
}
all_say(tok('rs256'), 'valid', 'before the changes');
all_say(tok('bob'), 'valid', 'before the changes');
all_say(tok('es256'), 'unknown_key', 'before the rotation');
ok($sub->safe_psql('postgres', 'SELECT hits > 0 FROM nicelogin_shared_cache_info()') eq 't',
	'subscriber: new sessions were answered from the shared cache');

# The unknown kid asked the subscriber's worker for an early refresh.
ok( $sub->wait_for_log(
		qr/nicelogin does not refresh the JWKS in database "postgres": table nicelogin_keys is replicated by subscription "nl_sub"/),
	'subscriber: the worker does not refresh, and says why');

# ------------------------------------------------------------------ replicated changes
# Right before each change both levels hold the verdict it must overturn (a
# check refreshes them), so no earlier invalidation can answer for it.
all_say(tok('bob'), 'valid', 'before a revocation');
$pub->safe_psql('postgres', "SELECT nicelogin_revoke_jti('jti-bob-1')");
$pub->wait_for_catchup('nl_sub');
all_say(tok('bob'), 'revoked', 'a revocation on the publisher');

all_say(tok('rs256'), 'valid', 'before a deactivation');
$pub->safe_psql('postgres', "INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('$alice_id')");
$pub->wait_for_catchup('nl_sub');
all_say(tok('rs256'), 'user_deactivated', 'a deactivation on the publisher');
$pub->safe_psql('postgres', "DELETE FROM nicelogin_deactivated_users WHERE user_id = '$alice_id'");
$pub->wait_for_catchup('nl_sub');
all_say(tok('rs256'), 'valid', 'a reactivation on the publisher');
running('revocation, deactivation, reactivation');

# the rotation, as NiceLogin publishes it: the publisher's worker path
all_say(tok('es256'), 'unknown_key', 'before a key rotation');
api_ctl('jwks', $full_file);
is($pub->safe_psql('postgres', 'SELECT nicelogin_refresh_jwks()'), '11', 'publisher: the rotated set is stored');
$pub->wait_for_catchup('nl_sub');
all_say(tok('es256'), 'valid', 'a key rotation on the publisher');
all_say(tok('rs256'), 'valid', 'a key rotation on the publisher (kept key)');
running('a key rotation');

# ------------------------------------------------------------------ the subscriber's own functions
my ($ret, $out, $err) = $sub->psql('postgres', "SELECT nicelogin_set_jwks($reduced)");
like($err, qr/ERROR:  nicelogin_keys is replicated from another server by subscription "nl_sub"/,
	'subscriber: nicelogin_set_jwks refuses');
like($err, qr/HINT:  Change the keys on the publisher; after a cutover, drop the subscription/,
	'subscriber: with a hint');
my $requests = () = `python3 $root/test/nicelogin_ctl.py requests` =~ m{/\.well-known/jwks/}g;
($ret, $out, $err) = $sub->psql('postgres', 'SELECT nicelogin_refresh_jwks()');
like($err, qr/ERROR:  nicelogin_keys is replicated from another server/,
	'subscriber: nicelogin_refresh_jwks refuses');
my $requests_after = () = `python3 $root/test/nicelogin_ctl.py requests` =~ m{/\.well-known/jwks/}g;
is($requests_after, $requests, 'subscriber: nicelogin_refresh_jwks fetched nothing');
# (the publisher's purge deletes its expired revocations here; a purge here
# could delete a row that the publisher updates later, and the update would
# find nothing: a revocation lost)
$sub->safe_psql('postgres', q{
	INSERT INTO nicelogin_revocations (kind, value, expires_at) VALUES ('jti', 'jti-expired', '2000-01-01')});
is($sub->safe_psql('postgres', 'SELECT nicelogin_purge_revocations()'), '0',
	'subscriber: purging leaves the revocations to the publisher');
is($sub->safe_psql('postgres', "SELECT count(*) FROM nicelogin_revocations WHERE value = 'jti-expired'"),
	'1', 'subscriber: the expired revocation is still there');

# a local revocation (an application that revokes where it runs, or after a cutover)
all_say(tok('es256'), 'valid', 'before a local revocation');
$sub->safe_psql('postgres', "SELECT nicelogin_revoke_sid('sid-alice-1')");
all_say(tok('es256'), 'revoked', 'a local revocation on the subscriber');
is($pub->safe_psql('postgres', 'SELECT nicelogin_check(' . tok('es256') . ')'), 'valid',
	'publisher: the subscriber\'s revocation stays there');
# the same revocation made on the publisher later: merged, not a unique violation
$pub->safe_psql('postgres', "SELECT nicelogin_revoke_sid('sid-alice-1', '2100-01-01')");
running('the publisher revoked what the subscriber had revoked');
is( $sub->safe_psql('postgres',
		"SELECT count(*), bool_and(expires_at IS NULL) FROM nicelogin_revocations WHERE value = 'sid-alice-1'"),
	'1|t', 'subscriber: one row, for good (the later expiry)');
# revoked again on the publisher: its row is updated there, and the replicated UPDATE keeps
# the subscriber's revocation for good too
$pub->safe_psql('postgres', "SELECT nicelogin_revoke_sid('sid-alice-1', '2200-01-01')");
running('the publisher revoked it again');
is( $sub->safe_psql('postgres',
		"SELECT count(*), bool_and(expires_at IS NULL) FROM nicelogin_revocations WHERE value = 'sid-alice-1'"),
	'1|t', 'subscriber: a replicated update keeps the revocation for good');
all_say(tok('es256'), 'revoked', 'after the merge');
$pub->safe_psql('postgres', "SELECT nicelogin_unrevoke_sid('sid-alice-1')");
$pub->wait_for_catchup('nl_sub');
all_say(tok('es256'), 'valid', 'an unrevocation on the publisher');

# key removal last: rsa1 signs the tokens below
all_say(tok('rs256'), 'valid', 'before a key removal');
$pub->safe_psql('postgres', "SELECT nicelogin_set_jwks($no_rsa1)");
$pub->wait_for_catchup('nl_sub');
all_say(tok('rs256'), 'unknown_key', 'a key removal on the publisher');
all_say(tok('es256'), 'valid', 'a key removal on the publisher (other key)');
running('a key removal');
$pub->safe_psql('postgres', "SELECT nicelogin_set_jwks(" . jwks_lit(encode_json($jwks)) . ")");

# ------------------------------------------------------------------ how long it takes
my $n = 20;
my @toks = signed_literals(map { { sub => $alice_id, exp => 4102444800, iat => 1767225600, jti => "lat-$_" } } 1 .. $n);
$pub->wait_for_catchup('nl_sub');
for my $t (@toks)
{
	is(a_says("SELECT nicelogin_check($t)"), 'valid', 'latency token is valid first') or last;
}
my $ps = $pub->background_psql('postgres', on_error_stop => 1);
my @ms;
for my $i (1 .. $n)
{
	my $t = $toks[ $i - 1 ];
	$ps->query_safe("SELECT nicelogin_revoke_jti('lat-$i')");
	my $t0 = time;
	my $got = '';
	while (time - $t0 < 30)
	{
		$got = a_says("SELECT nicelogin_check($t)");
		last if $got eq 'revoked';
	}
	is($got, 'revoked', "revocation $i honoured on the subscriber") or last;
	push @ms, (time - $t0) * 1000;
}
$ps->quit;
@ms = sort { $a <=> $b } @ms;
diag(sprintf('publisher commit to a subscriber session refusing the token, %d revocations: '
	  . 'median %.1f ms, min %.1f ms, max %.1f ms', scalar @ms, $ms[ $#ms / 2 ], $ms[0], $ms[-1]))
  if @ms;
running('the revocations timed');

# ------------------------------------------------------------------ the cutover
$sa->quit;
# the stand-in serves the reduced set first: the worker may refresh as soon as the subscription
# is gone, and must not store the full set before the unknown kid is checked
api_ctl('jwks', $reduced_file);
my $log_offset = -s $sub->logfile;
$sub->safe_psql('postgres', 'DROP SUBSCRIPTION nl_sub');
is($sub->safe_psql('postgres', "SELECT nicelogin_set_jwks($reduced)"), '10',
	'after the cutover: nicelogin_set_jwks works on the former subscriber');
is($sub->safe_psql('postgres', 'SELECT nicelogin_check(' . tok('es256') . ')'), 'unknown_key',
	'after the cutover: an unknown kid');
api_ctl('jwks', $full_file);
ok( $sub->wait_for_log(qr/nicelogin refreshes the JWKS in database "postgres" again/, $log_offset),
	'after the cutover: the worker refreshes again');
ok(defined wait_for_value($sub, 'postgres', 'SELECT nicelogin_check(' . tok('es256') . ')', 'valid', 30),
	'after the cutover: the worker stored the rotated set');
is($sub->safe_psql('postgres', 'SELECT nicelogin_purge_revocations()'), '1',
	'after the cutover: purging works');

$sub->stop;
$pub->stop;
done_testing();
