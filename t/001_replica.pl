
# Copyright: nicelogin contributors
#
# 001_replica.pl -- nicelogin on a streaming hot standby.
#
# The keys and the revocation tables reach a standby through WAL, and so do
# the relcache invalidations that the statement triggers queue: a session
# that is already connected to the standby, and has already cached the keys
# and a verification result, sees every committed change made on the primary
# once it is replayed, without reconnecting.  Verification on the standby
# never writes (it could not: a standby is read-only).

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

# ------------------------------------------------------------------ fixtures

my $jwks    = fixture_text('jwks.json');
my $jwks_hs = fixture_text('jwks_hs.json');
my $nkeys    = scalar @{ decode_json($jwks)->{keys} };
my $nkeys_hs = scalar @{ decode_json($jwks_hs)->{keys} };

my $alice_id   = '11111111-1111-4111-8111-111111111111';
my $alice_co   = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
my $bob_co     = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

# ------------------------------------------------------------------ clusters

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# Everything below reaches the standby through WAL only (the base backup was
# taken before the extension existed).
$primary->safe_psql('postgres', 'CREATE EXTENSION nicelogin');
is($primary->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . ')'),
	$nkeys, "primary: nicelogin_set_jwks(jwks.json) stores $nkeys keys");
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'standby is in recovery (hot standby)');
is($standby->safe_psql('postgres', 'SELECT extversion FROM pg_extension WHERE extname = \'nicelogin\''),
	'1.3', 'the extension reached the standby through WAL');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM nicelogin_keys'),
	$nkeys, 'the key rows reached the standby');

# ------------------------------------------------------------------ verification on the standby

# One fresh standby session: loads the key cache there, read-only.
my %expect = (
	rs256         => 'valid',
	rs256_kid2    => 'valid',
	es256         => 'valid',
	eddsa         => 'valid',
	bob           => 'valid',
	expired       => 'expired',
	rs256_bad_sig => 'bad_signature',
	unknown_kid   => 'unknown_key',
	hs256         => 'unknown_key',
	alg_none      => 'unsupported_alg',
);
my @names = sort keys %expect;
my $sql = "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')";
$sql .= ";\nSELECT nicelogin_check(" . tok($_) . ')' for @names;
my ($ret, $out, $err) = $standby->psql('postgres', $sql, on_error_stop => 1);
is($ret, 0, 'standby: nicelogin_check() calls succeed in a read-only session');
is($err, '', 'standby: no error or warning from verification');
is_deeply([ split /\n/, $out ], [ 't|on', map { $expect{$_} } @names ],
	'standby: verdicts (valid / expired / bad_signature / unknown_key / unsupported_alg)');

is($standby->safe_psql('postgres',
		'SELECT nicelogin_verify(' . tok('rs256') . '), nicelogin_claims(' . tok('rs256') . ")->>'sub'"),
	"t|$alice_id", 'standby: nicelogin_verify and nicelogin_claims agree');

# A verification assigns no transaction id: it does not write (checked on the
# primary, where a write would be possible).
is($primary->safe_psql('postgres',
		'BEGIN; SELECT nicelogin_check(' . tok('rs256') . ') IS NOT NULL; '
		  . 'SELECT pg_current_xact_id_if_assigned() IS NULL; COMMIT;'),
	"t\nt", 'primary: verifying a token assigns no transaction id (no write)');

# ------------------------------------------------------------------ a long-lived standby session

my $bg = $standby->background_psql('postgres', on_error_stop => 0);

# One statement (hence one transaction, in autocommit) in the long-lived
# session; its output, and a test that it raised nothing.
sub bgq
{
	my ($sql, $name) = @_;
	$bg->{stderr} = '';
	my $out = $bg->query($sql);
	my $err = $bg->{stderr};
	is($err, '', "no error in the standby session: $name");
	return $out;
}

sub bg_check
{
	my ($token, $verdict, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is(bgq('SELECT nicelogin_check(' . tok($token) . ')', $name), $verdict, $name);
}

my $pid = bgq('SELECT pg_backend_pid()', 'backend pid');
like($pid, qr/^\d+$/, "standby session connected (pid $pid)");

sub same_session
{
	my ($when) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is(bgq('SELECT pg_backend_pid()', "pid $when"), $pid, "same standby session $when");
}

bg_check('rs256', 'valid', 'session: rs256 valid (keys and result now cached)');
bg_check('rs256', 'valid', 'session: rs256 valid again (from the cache)');
bg_check('bob', 'valid', 'session: bob valid');
bg_check('hs256', 'unknown_key', 'session: hs256 unknown_key (no HS key stored yet)');

# The request helpers follow SET nicelogin.token.
is(bgq('SELECT nicelogin_company_id() IS NULL', 'company_id unset'),
	't', 'session: nicelogin_company_id() is NULL without a token');
bgq('SET nicelogin.token = ' . tok('rs256'), 'SET token rs256');
is(bgq('SELECT nicelogin_company_id()', 'company_id alice'),
	$alice_co, 'session: nicelogin_company_id() follows SET nicelogin.token (alice)');
is(bgq('SELECT nicelogin_user_id()', 'user_id alice'),
	$alice_id, 'session: nicelogin_user_id() is alice');
bgq('SET nicelogin.token = ' . tok('bob'), 'SET token bob');
is(bgq('SELECT nicelogin_company_id()', 'company_id bob'),
	$bob_co, 'session: nicelogin_company_id() follows SET nicelogin.token (bob)');
bgq('SET nicelogin.token = ' . tok('expired'), 'SET token expired');
is(bgq('SELECT nicelogin_company_id() IS NULL', 'company_id expired'),
	't', 'session: nicelogin_company_id() is NULL for an expired token');
bgq('RESET nicelogin.token', 'RESET token');
is(bgq('SELECT nicelogin_company_id() IS NULL', 'company_id reset'),
	't', 'session: nicelogin_company_id() is NULL after RESET nicelogin.token');
bgq('SET nicelogin.token = ' . tok('bob'), 'SET token bob again');
is(bgq('SELECT nicelogin_company_id()', 'company_id bob again'),
	$bob_co, 'session: nicelogin_company_id() is bob\'s company (request state now cached)');

# --- key rotation on the primary: only the HS keys remain
is($primary->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks_hs) . ')'),
	$nkeys_hs, "primary: nicelogin_set_jwks(jwks_hs.json) stores $nkeys_hs keys");
$primary->wait_for_catchup($standby);

same_session('after the key rotation');
bg_check('rs256', 'unknown_key', 'session after rotation: rs256 unknown_key (cached result dropped)');
bg_check('hs256', 'valid', 'session after rotation: hs256 valid');
bg_check('hs512', 'valid', 'session after rotation: hs512 valid');
is(bgq('SELECT nicelogin_company_id() IS NULL', 'company_id after rotation'),
	't', 'session after rotation: nicelogin_company_id() for the still-set bob token is NULL now');

# --- keys restored, alice deactivated
$primary->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . ')');
$primary->safe_psql('postgres',
	"INSERT INTO nicelogin_deactivated_users(user_id) VALUES ('$alice_id')");
is($primary->safe_psql('postgres', 'SELECT nicelogin_check(' . tok('rs256') . ')'),
	'user_deactivated', 'primary: rs256 user_deactivated');
$primary->wait_for_catchup($standby);

same_session('after the deactivation');
bg_check('rs256', 'user_deactivated', 'session after deactivation: rs256 user_deactivated');
bg_check('es256', 'user_deactivated', 'session after deactivation: es256 (alice) user_deactivated');
bg_check('bob', 'valid', 'session after deactivation: bob valid');
bg_check('hs256', 'unknown_key', 'session after deactivation: hs256 unknown_key again');
is(bgq('SELECT nicelogin_company_id()', 'company_id bob after restore'),
	$bob_co, 'session after deactivation: nicelogin_company_id() is bob\'s company again');
bgq('SET nicelogin.token = ' . tok('rs256'), 'SET token rs256 (deactivated)');
is(bgq('SELECT nicelogin_company_id() IS NULL', 'company_id deactivated alice'),
	't', 'session after deactivation: nicelogin_company_id() NULL for deactivated alice');
bgq('SET nicelogin.token = ' . tok('bob'), 'SET token bob (3)');

# --- bob's token revoked by jti
$primary->safe_psql('postgres', "SELECT nicelogin_revoke_jti('jti-bob-1')");
$primary->wait_for_catchup($standby);

same_session('after the revocation');
bg_check('bob', 'revoked', 'session after revoke_jti: bob revoked');
bg_check('bob_expired', 'expired', 'session after revoke_jti: bob_expired still expired');
bg_check('rs256', 'user_deactivated', 'session after revoke_jti: rs256 still user_deactivated');
is(bgq('SELECT nicelogin_company_id() IS NULL', 'company_id bob revoked'),
	't', 'session after revoke_jti: nicelogin_company_id() NULL for the revoked, still-set bob token');

# --- alice reactivated, then her session revoked by sid
$primary->safe_psql('postgres',
	"DELETE FROM nicelogin_deactivated_users WHERE user_id = '$alice_id'");
$primary->wait_for_catchup($standby);
same_session('after the reactivation');
bg_check('rs256', 'valid', 'session after reactivation: rs256 valid again');

$primary->safe_psql('postgres', "SELECT nicelogin_revoke_sid('sid-alice-1')");
$primary->wait_for_catchup($standby);
same_session('after revoke_sid');
bg_check('rs256', 'revoked', 'session after revoke_sid: rs256 revoked');
bg_check('rs256_kid2', 'revoked', 'session after revoke_sid: rs256_kid2 (same sid) revoked');

# A change on the primary that is not yet replayed cannot be seen; once it is,
# it is seen.  (Rolled-back changes are never seen.)
$primary->safe_psql('postgres',
	"BEGIN; DELETE FROM nicelogin_revocations; ROLLBACK;");
$primary->wait_for_catchup($standby);
bg_check('rs256', 'revoked', 'session after a rolled-back delete: rs256 still revoked');

# --- at scale: 200,000 revocations and 50,000 deactivations on the primary;
# the connected standby session follows a revoke and an unrevoke of one entry
$primary->safe_psql('postgres', q{
	INSERT INTO nicelogin_revocations (kind, value, expires_at)
		SELECT k, k || '-other-' || g, now() + interval '1 day'
		  FROM generate_series(1, 100000) g, (VALUES ('jti'), ('sid')) v(k);
	INSERT INTO nicelogin_deactivated_users (user_id)
		SELECT md5(g::text)::uuid FROM generate_series(1, 50000) g;
});
$primary->wait_for_catchup($standby);
bg_check('alice2', 'valid', 'at scale: carol valid in the connected standby session');
bg_check('bob', 'revoked', 'at scale: bob still revoked');
$primary->safe_psql('postgres', "SELECT nicelogin_revoke_sid('sid-carol-1')");
$primary->wait_for_catchup($standby);
bg_check('alice2', 'revoked', 'at scale: carol revoked after replay');
$primary->safe_psql('postgres', "DELETE FROM nicelogin_revocations WHERE value = 'sid-carol-1'");
$primary->wait_for_catchup($standby);
bg_check('alice2', 'valid', 'at scale: carol valid again after the unrevoke replayed');
is(bgq(q{SELECT sum(total_bytes) < 256 * 1024 FROM pg_backend_memory_contexts WHERE name LIKE 'nicelogin%'},
		'memory at scale'),
	't', 'at scale: the standby session holds nothing of the tables in memory');
$primary->safe_psql('postgres',
	'DELETE FROM nicelogin_deactivated_users; DELETE FROM nicelogin_revocations WHERE value LIKE \'%-other-%\'');
$primary->wait_for_catchup($standby);

$bg->quit;

# A new standby session sees the same.
is($standby->safe_psql('postgres',
		'SELECT nicelogin_check(' . tok('rs256') . '), nicelogin_check(' . tok('bob') . ')'),
	'revoked|revoked', 'new standby session: rs256 and bob revoked');

# ------------------------------------------------------------------ nothing was written on the standby

# (FATAL lines of the walreceiver at shutdown are not ours; a backend dying
# would have failed the psql calls above.)
unlike(slurp_file($standby->logfile), qr/\b(ERROR|PANIC):/,
	'standby log: no error (verification never attempted a write)');

# For contrast: a write on the standby is refused.
($ret, $out, $err) = $standby->psql('postgres', "SELECT nicelogin_revoke_jti('x')");
isnt($ret, 0, 'standby: nicelogin_revoke_jti() (a write) fails');
like($err, qr/read-only transaction/, 'standby: ... because the standby is read-only');

$standby->stop;
$primary->stop;

done_testing();
