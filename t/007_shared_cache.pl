# The verified-token cache shared by all backends (src/sharedcache.c), with
# nicelogin in shared_preload_libraries: a token verified in one session is a
# hit in another (nicelogin_shared_cache_info() counts it); a committed key
# change, revocation or deactivation is honoured by every session at its next
# transaction, also by sessions that did not exist or did nothing meanwhile;
# sessions whose verification settings differ never share a verdict; an entry
# never outlives its token, nor does a refusal lifted after its exp; a transaction that wrote sees its own changes;
# eviction under pressure keeps every answer right; a hot standby has a cache
# of its own that follows replay; after kill -9 of a backend the cache starts
# empty and works.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

my $jwks = fixture_text('jwks.json');
my $alice_id = '11111111-1111-4111-8111-111111111111';
my $alice_co = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';


sub lit { my ($t) = @_; die "bad token" unless $t =~ /^[A-Za-z0-9_.-]+$/; return "'$t'"; }

sub info
{
	my ($node) = @_;
	my @v = split /\|/, $node->safe_psql('postgres',
		'SELECT capacity, entries, hits, misses, inserts, evictions, too_large FROM nicelogin_shared_cache_info()');
	my %h;
	@h{qw(capacity entries hits misses inserts evictions too_large)} = @v;
	return \%h;
}

# A long-lived session; q() runs one statement (its own transaction) and
# checks that it raised nothing.
sub session
{
	my ($node, $name) = @_;
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	return sub {
		my ($sql, $what) = @_;
		$s->{stderr} = '';
		my $out = $s->query($sql);
		is($s->{stderr}, '', "$name: no error: $what");
		return $out;
	}, $s;
}

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'nicelogin'
nicelogin.base_url = 'http://127.0.0.1:9'
max_prepared_transactions = 5
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION nicelogin; SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . ')');

my $i = info($node);
is($i->{capacity}, 10000, 'capacity: nicelogin.shared_token_cache_size (10000 by default)');
is($node->safe_psql('postgres', 'SELECT entry_bytes BETWEEN 1024 AND 1300 FROM nicelogin_shared_cache_info()'),
	't', 'an entry takes about 1.2 kB');

# ------------------------------------------------------------------ privileges
$node->safe_psql('postgres', 'CREATE ROLE plain LOGIN; CREATE ROLE monitor LOGIN IN ROLE pg_monitor');
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT * FROM nicelogin_shared_cache_info()',
	extra_params => [ '-U', 'plain' ]);
like($err, qr/permission denied/, 'an ordinary role cannot read the counters');
($ret, $out, $err) = $node->psql('postgres', 'SELECT capacity FROM nicelogin_shared_cache_info()',
	extra_params => [ '-U', 'monitor' ]);
is($out, '10000', 'a member of pg_monitor can');

# ------------------------------------------------------------------ A verifies, B hits
my ($qa, $sa) = session($node, 'A');
my ($qb, $sb) = session($node, 'B');
my $rs256 = tok('rs256');

my $before = info($node);
is($qa->("SELECT nicelogin_check($rs256)", 'A checks rs256'), 'valid', 'A: rs256 valid');
my $after = info($node);
is($after->{misses} - $before->{misses}, 1, 'A: a shared miss');
is($after->{inserts} - $before->{inserts}, 1, 'A: its verdict is stored');
$before = $after;
is($qb->("SELECT nicelogin_check($rs256)", 'B checks rs256'), 'valid', 'B: rs256 valid');
$after = info($node);
is($after->{hits} - $before->{hits}, 1, 'B: a shared hit (verified by A)');
is($after->{inserts} - $before->{inserts}, 0, 'B: nothing stored');
is($qb->("SELECT nicelogin_claims($rs256) = nicelogin_claims($rs256, false), nicelogin_claims($rs256) ->> 'sub'",
		'B claims'), "t|$alice_id", 'B: the claims are the token\'s payload, exactly');
$before = info($node);
is($node->safe_psql('postgres', "SET nicelogin.token = $rs256; SELECT nicelogin_company_id(), nicelogin_user_id()"),
	"$alice_co|$alice_id", 'a new session: the RLS helpers from a shared hit');
is(info($node)->{hits} - $before->{hits}, 1, 'a new session: a shared hit');
$before = info($node);
is($qb->("SELECT nicelogin_check($rs256)", 'B again'), 'valid', 'B again: valid');
is(info($node)->{hits} - $before->{hits}, 0, 'B again: its own cache answered (no shared lookup)');

# ------------------------------------------------------------------ changes committed by C
sub all_say
{
	my ($token, $want, $what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is($qa->("SELECT nicelogin_check($token)", "A $what"), $want, "A after $what: $want");
	is($qb->("SELECT nicelogin_check($token)", "B $what"), $want, "B after $what: $want");
	is($node->safe_psql('postgres', "SELECT nicelogin_check($token)"), $want,
		"a new session after $what: $want");
}

# the new session connects after the commit, and A and B did nothing meanwhile:
# only the committing transaction can have told the shared cache
$node->safe_psql('postgres', "SELECT nicelogin_revoke_jti('jti-alice-1')");
all_say($rs256, 'revoked', 'a revocation');
$node->safe_psql('postgres', "DELETE FROM nicelogin_revocations");
all_say($rs256, 'valid', 'the unrevocation');
# a new session first, with A and B idle
$node->safe_psql('postgres', "INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('$alice_id')");
is($node->safe_psql('postgres', "SELECT nicelogin_check($rs256)"), 'user_deactivated',
	'a new session first after a deactivation: user_deactivated');
all_say($rs256, 'user_deactivated', 'a deactivation');
$node->safe_psql('postgres', "DELETE FROM nicelogin_deactivated_users");
all_say($rs256, 'valid', 'the reactivation');
$node->safe_psql('postgres', q{SELECT nicelogin_set_jwks(jsonb_build_object('keys',
	(SELECT jsonb_agg(k) FROM jsonb_array_elements(} . jwks_lit($jwks) . q{ -> 'keys') k
	  WHERE k ->> 'kid' <> 'rsa1')))});
is($node->safe_psql('postgres', "SELECT nicelogin_check($rs256)"), 'unknown_key',
	'a new session first after rsa1 was removed: unknown_key');
all_say($rs256, 'unknown_key', 'a key change');
$node->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . ')');
all_say($rs256, 'valid', 'the keys restored');

# A transaction that wrote sees its own uncommitted change, not a shared verdict.
is($node->safe_psql('postgres',
		"BEGIN; SELECT nicelogin_revoke_jti('jti-alice-1'); SELECT nicelogin_check($rs256); ROLLBACK;"),
	"\nrevoked", 'a transaction that revoked: its own revocation, not the shared valid verdict');
all_say($rs256, 'valid', 'a rolled-back revocation');

# A prepared transaction: from its PREPARE on, every backend that processes
# its invalidation moves the epoch, and new backends trust no older entry.
$node->safe_psql('postgres', "BEGIN; SELECT nicelogin_revoke_jti('jti-alice-1'); PREPARE TRANSACTION 'p1';");
all_say($rs256, 'valid', 'a prepared revocation');
$node->safe_psql('postgres', "COMMIT PREPARED 'p1'");
all_say($rs256, 'revoked', 'COMMIT PREPARED of a revocation');
$node->safe_psql('postgres', "DELETE FROM nicelogin_revocations");
all_say($rs256, 'valid', 'the unrevocation after 2PC');

# ------------------------------------------------------------------ settings are part of an entry
my $now = time;
my ($recent, $with_iss, $with_aud) = sign_tokens(
	{ sub => $alice_id, company_id => $alice_co, exp => $now - 10, jti => 'recent-1' },
	{ sub => $alice_id, company_id => $alice_co, exp => $now + 3600, iss => 'https://issuer.example', jti => 'iss-1' },
	{ sub => $alice_id, company_id => $alice_co, exp => $now + 3600, aud => 'app1', jti => 'aud-1' });

sub differ
{
	my ($token, $set_a, $want_a, $set_b, $want_b, $what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is($node->safe_psql('postgres', "$set_a; SELECT nicelogin_check(" . lit($token) . ')'), $want_a,
		"$what: first session ($set_a): $want_a");
	my $b = info($node);
	is($node->safe_psql('postgres', "$set_b; SELECT nicelogin_check(" . lit($token) . ')'), $want_b,
		"$what: second session ($set_b): $want_b");
	my $a = info($node);
	is($a->{hits} - $b->{hits}, 0, "$what: no shared hit across settings");
	is($a->{misses} - $b->{misses}, 1, "$what: a shared miss");
}
differ($recent, 'SET nicelogin.leeway = 30', 'valid', 'SET nicelogin.leeway = 0', 'expired',
	'leeway (exp 10 s ago)');
differ($recent, 'SET nicelogin.leeway = 0', 'expired', 'SET nicelogin.leeway = 60', 'valid',
	'leeway the other way');
differ($with_iss, "SET nicelogin.issuer = 'https://issuer.example'", 'valid',
	"SET nicelogin.issuer = 'https://other.example'", 'wrong_issuer', 'issuer');
differ($with_aud, "SET nicelogin.audience = 'app1'", 'valid',
	"SET nicelogin.audience = 'app2'", 'wrong_audience', 'audience');
differ($with_aud, "SET nicelogin.audience = 'app1'", 'valid',
	"SET nicelogin.require_exp = off", 'valid', 'require_exp');

# ------------------------------------------------------------------ an entry never outlives its token
my ($short) = sign_tokens({ sub => $alice_id, company_id => $alice_co, exp => time + 2, jti => 'short-1' });
is($node->safe_psql('postgres', 'SET nicelogin.leeway = 0; SELECT nicelogin_check(' . lit($short) . ')'),
	'valid', 'a token expiring in 2 s: valid, stored');
sleep(3);
$before = info($node);
is($node->safe_psql('postgres', 'SET nicelogin.leeway = 0; SELECT nicelogin_check(' . lit($short) . ')'),
	'expired', 'after its exp: expired in another session');
is(info($node)->{hits} - $before->{hits}, 0, 'after its exp: the entry is not used');

# ------------------------------------------------------------------ a cached refusal never outlives its token
# A verifies a token that expires in 3 s (stored in the shared level), B takes
# it from there; a revocation is cached by both; after the token's exp the
# revocation is lifted (by jti, by sid, a deactivation deleted): every answer
# is expired, from A's and B's own caches as from a new session, never valid.
my ($soon) = sign_tokens({ sub => $alice_id, company_id => $alice_co, exp => time + 3,
	jti => 'soon-1', sid => 'soon-sid' });
$soon = lit($soon);
$qa->('SET nicelogin.leeway = 0', 'A: leeway 0');
$qb->('SET nicelogin.leeway = 0', 'B: leeway 0');
$before = info($node);
is($qa->("SELECT nicelogin_check($soon)", 'A checks soon'), 'valid', 'soon: valid for A');
is($qb->("SELECT nicelogin_check($soon)", 'B checks soon'), 'valid', 'soon: valid for B');
is(info($node)->{hits} - $before->{hits}, 1, 'soon: B took it from the shared level');
$node->safe_psql('postgres', "SELECT nicelogin_revoke_jti('soon-1'); SELECT nicelogin_revoke_sid('soon-sid');"
	. " INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('$alice_id')");
is($qa->("SELECT nicelogin_check($soon)", 'A soon refused'), 'user_deactivated', 'soon: refused for A');
is($qb->("SET nicelogin.token = $soon; SELECT nicelogin_user_id()", 'B soon refused'), '',
	'soon: no user for B');
sleep(4);
$node->safe_psql('postgres', "SELECT nicelogin_unrevoke_jti('soon-1')");
is($qa->("SELECT nicelogin_check($soon)", 'A soon unrevoked'), 'expired', 'jti unrevoked after exp: expired for A');
$node->safe_psql('postgres', "SELECT nicelogin_unrevoke_sid('soon-sid')");
is($qa->("SELECT nicelogin_check($soon)", 'A soon sid'), 'expired', 'sid unrevoked after exp: expired for A');
$node->safe_psql('postgres', "DELETE FROM nicelogin_deactivated_users");
is($qa->("SELECT nicelogin_check($soon)", 'A soon reactivated'), 'expired', 'reactivated after exp: expired for A');
is($qb->("SELECT nicelogin_user_id() IS NULL, nicelogin_check(nicelogin_token())", 'B soon reactivated'),
	't|expired', 'every refusal lifted after exp: no user for B, expired');
is($node->safe_psql('postgres', "SET nicelogin.leeway = 0; SELECT nicelogin_check($soon)"), 'expired',
	'every refusal lifted after exp: expired in a new session');
$qa->('RESET nicelogin.leeway', 'A: leeway reset');
$qb->('RESET nicelogin.leeway; RESET nicelogin.token', 'B: leeway reset');

# ------------------------------------------------------------------ refusals are not shared
$before = info($node);
$node->safe_psql('postgres', join(';', map { 'SELECT nicelogin_check(' . tok($_) . ')' }
		qw(rs256_bad_sig unknown_kid expired alg_none rs256_wrong_key)));
is(info($node)->{inserts} - $before->{inserts}, 0, 'refusals are never stored in the shared cache');

$sa->quit;
$sb->quit;

# ------------------------------------------------------------------ a change of the lists: a re-probe, not a verification
# Each check runs in a new session (an empty token cache of its own): a
# revocation of another token leaves the shared signature verdicts standing;
# the lists are looked up again, and a revoked token is refused at once at
# the shared level, without a full verification anywhere.
sub answers
{
	my @v = split /\|/, $node->safe_psql('postgres',
		'SELECT coalesce(sum(verified), 0), coalesce(sum(shared), 0) FROM nicelogin_stats'
		. ' WHERE datname = current_database()');
	return { verified => $v[0], shared => $v[1] };
}

sub fresh_check
{
	my ($token, $want, $what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($i0, $a0) = (info($node), answers());
	is($node->safe_psql('postgres', "SELECT nicelogin_check($token)"), $want, "$what: $want");
	my ($i1, $a1) = (info($node), answers());
	is(join('|', $i1->{hits} - $i0->{hits}, $i1->{misses} - $i0->{misses},
			$i1->{inserts} - $i0->{inserts}, $a1->{verified} - $a0->{verified},
			$a1->{shared} - $a0->{shared}),
		'1|0|0|0|1', "$what: a shared hit (hits|misses|inserts|verified|shared answers)");
}

sub reprobe_round
{
	my ($mode) = @_;
	my ($keep, $gone) = map { lit($_) } sign_tokens(
		{ sub => $alice_id, company_id => $alice_co, exp => time + 3600, jti => "keep-$mode" },
		{ sub => $alice_id, company_id => $alice_co, exp => time + 3600, jti => "gone-$mode" });
	$node->safe_psql('postgres', "SELECT nicelogin_check($keep), nicelogin_check($gone)");
	$node->safe_psql('postgres', "SELECT nicelogin_revoke_jti('other-$mode')");
	fresh_check($keep, 'valid', "$mode: after a revocation of another token");
	fresh_check($keep, 'valid', "$mode: again after it");
	$node->safe_psql('postgres', "SELECT nicelogin_revoke_jti('gone-$mode')");
	fresh_check($gone, 'revoked', "$mode: the revoked token");
	fresh_check($gone, 'revoked', "$mode: the revoked token in another session");
	fresh_check($keep, 'valid', "$mode: the other token after that revocation");
	$node->safe_psql('postgres', "SELECT nicelogin_unrevoke_jti('gone-$mode')");
	fresh_check($gone, 'valid', "$mode: the unrevoked token");
	$node->safe_psql('postgres', "INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('$alice_id')");
	fresh_check($keep, 'user_deactivated', "$mode: a deactivated user");
	fresh_check($gone, 'user_deactivated', "$mode: a deactivated user, the other token");
	$node->safe_psql('postgres', "DELETE FROM nicelogin_deactivated_users");
	fresh_check($keep, 'valid', "$mode: the reactivated user");
}

# commits move the epoch (a restart ends the readers' mode of the PREPARE above)
$node->restart;
reprobe_round('commit');
# from a PREPARE on, readers move the epoch and new sessions trust only newer tags
$node->safe_psql('postgres', "BEGIN; SELECT nicelogin_revoke_jti('reprobe-prepared');"
	. " PREPARE TRANSACTION 'p_reprobe'; COMMIT PREPARED 'p_reprobe';");
reprobe_round('prepared');
$node->safe_psql('postgres', "DELETE FROM nicelogin_revocations");


# ------------------------------------------------------------------ a hot standby
$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
my ($s1, $ss1) = session($standby, 'standby S1');
my ($s2, $ss2) = session($standby, 'standby S2');
my $bob = tok('bob');
my $carol = tok('alice2');
# On a standby a session takes only entries made after its first use (it may
# have missed nothing before): both start here.
is($s1->('SELECT nicelogin_check(' . tok('hs256') . ')', 'S1 first'), 'unknown_key', 'standby S1: first use');
is($s2->('SELECT nicelogin_check(' . tok('hs256') . ')', 'S2 first'), 'unknown_key', 'standby S2: first use');
is($s1->("SELECT nicelogin_check($bob)", 'S1 bob'), 'valid', 'standby S1: bob valid');
$before = info($standby);
is($s2->("SELECT nicelogin_check($bob)", 'S2 bob'), 'valid', 'standby S2: bob valid');
is(info($standby)->{hits} - $before->{hits}, 1, 'standby S2: a shared hit in the standby\'s own cache');
$node->safe_psql('postgres', "SELECT nicelogin_revoke_jti('jti-bob-1')");
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT nicelogin_check($bob)"), 'revoked',
	'standby: a new session first after the replayed revocation: revoked');
is($s1->("SELECT nicelogin_check($bob)", 'S1 bob revoked'), 'revoked', 'standby S1: revoked');
is($s2->("SELECT nicelogin_check($bob)", 'S2 bob revoked'), 'revoked', 'standby S2: revoked');
$node->safe_psql('postgres', "DELETE FROM nicelogin_revocations");
$node->wait_for_catchup($standby);
is($s2->("SELECT nicelogin_check($bob)", 'S2 bob again'), 'valid', 'standby S2: valid again');
is($s1->("SELECT nicelogin_check($bob)", 'S1 bob again'), 'valid', 'standby S1: valid again');
is($standby->safe_psql('postgres', "SELECT nicelogin_check($bob)"), 'valid', 'standby: a new session: valid again');
is($s2->("SELECT nicelogin_check($carol)", 'S2 carol'), 'valid', 'standby S2: carol valid');
$before = info($standby);
is($s1->("SELECT nicelogin_check($carol)", 'S1 carol'), 'valid', 'standby S1: carol valid');
is(info($standby)->{hits} - $before->{hits}, 1, 'standby S1: a shared hit on S2\'s entry');
$node->safe_psql('postgres', "INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('22222222-2222-4222-8222-222222222222')");
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT nicelogin_check($bob)"), 'user_deactivated',
	'standby: a new session first after the replayed deactivation: user_deactivated');
is($s1->("SELECT nicelogin_check($bob)", 'S1 bob deactivated'), 'user_deactivated', 'standby S1: user_deactivated');
is($s2->("SELECT nicelogin_check($bob)", 'S2 bob deactivated'), 'user_deactivated', 'standby S2: user_deactivated');
$node->safe_psql('postgres', "DELETE FROM nicelogin_deactivated_users");
$node->wait_for_catchup($standby);
# a key change reaches no list table: the entries' key set digest turns it away
$s1->('SELECT 1', 'S1 processes the replayed invalidation');
$s2->('SELECT 1', 'S2 processes the replayed invalidation');
is($s1->("SELECT nicelogin_check($rs256)", 'S1 rs256'), 'valid', 'standby S1: rs256 valid');
$before = info($standby);
is($s2->("SELECT nicelogin_check($rs256)", 'S2 rs256'), 'valid', 'standby S2: rs256 valid');
is(info($standby)->{hits} - $before->{hits}, 1, 'standby S2: rs256 a shared hit');
$node->safe_psql('postgres', q{SELECT nicelogin_set_jwks(jsonb_build_object('keys',
	(SELECT jsonb_agg(k) FROM jsonb_array_elements(} . jwks_lit($jwks) . q{ -> 'keys') k
	  WHERE k ->> 'kid' <> 'rsa1')))});
$node->wait_for_catchup($standby);
is($s1->("SELECT nicelogin_check($rs256)", 'S1 rs256 key removed'), 'unknown_key', 'standby S1: unknown_key after the key removal');
is($s2->("SELECT nicelogin_check($rs256)", 'S2 rs256 key removed'), 'unknown_key', 'standby S2: unknown_key after the key removal');
is($standby->safe_psql('postgres', "SELECT nicelogin_check($rs256)"), 'unknown_key',
	'standby: a new session after the replayed key removal: unknown_key');
$node->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . ')');
$node->wait_for_catchup($standby);
is($s2->("SELECT nicelogin_check($rs256)", 'S2 rs256 keys restored'), 'valid', 'standby S2: valid after the keys are back');
$ss1->quit;
$ss2->quit;
$standby->stop;

# ------------------------------------------------------------------ kill -9 of a backend
my ($qk, $sk) = session($node, 'K');
is($qk->("SELECT nicelogin_check($rs256)", 'K'), 'valid', 'K: valid');
my $pid = $qk->('SELECT pg_backend_pid()', 'pid');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
eval { $sk->quit; };			# its connection is gone
# until the postmaster has noticed the crash, a new connection still succeeds
# and the restart comes after it: wait for the restart, then for the server
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT true', 't'), 'the server is back after kill -9 of a backend');
$i = info($node);
is("$i->{entries}|$i->{hits}|$i->{inserts}", '0|0|0', 'after the crash: shared memory was reset, the cache is empty');
is($node->safe_psql('postgres', "SELECT nicelogin_check($rs256)"), 'valid', 'after the crash: valid');
is($node->safe_psql('postgres', "SELECT nicelogin_check($rs256)"), 'valid', 'after the crash: valid again');
is(info($node)->{hits}, 1, 'after the crash: the shared cache works');
like(slurp_file($node->logfile), qr/terminated by signal 9/, 'the log shows the crash');

# ------------------------------------------------------------------ 2PC across a restart or crash
# A transaction prepared before a restart (or a crash, which resets shared
# memory) and committed after it: its commit callback never runs, so the
# COMMIT PREPARED statement's own transaction moves the epoch.
for my $how ('restart', 'crash')
{
	$node->safe_psql('postgres', "BEGIN; SELECT nicelogin_revoke_jti('jti-alice-1'); PREPARE TRANSACTION 'p_$how';");
	if ($how eq 'restart')
	{
		$node->restart;
	}
	else
	{
		my ($qc, $sc) = session($node, 'C');
		my $cpid = $qc->('SELECT pg_backend_pid()', 'pid');
		my $offset = -s $node->logfile;
		kill 'KILL', $cpid;
		eval { $sc->quit; };
		$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
		ok($node->poll_query_until('postgres', 'SELECT true', 't'), "the server is back after kill -9 ($how)");
	}
	is($node->safe_psql('postgres', "SELECT nicelogin_check($rs256)"), 'valid',
		"after a $how with a prepared revocation: valid, now in the shared cache");
	is($node->safe_psql('postgres', "SELECT nicelogin_check($rs256)"), 'valid', "... and again ($how)");
	$node->safe_psql('postgres', "COMMIT PREPARED 'p_$how'");
	is($node->safe_psql('postgres', "SELECT nicelogin_check($rs256)"), 'revoked',
		"a new session after COMMIT PREPARED of a transaction prepared before the $how: revoked");
	$node->safe_psql('postgres', "DELETE FROM nicelogin_revocations");
	is($node->safe_psql('postgres', "SELECT nicelogin_check($rs256)"), 'valid', "unrevoked after the $how case");
}

$node->stop;

# ------------------------------------------------------------------ eviction under pressure
my $small = PostgreSQL::Test::Cluster->new('small');
$small->init;
$small->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'nicelogin'
nicelogin.base_url = 'http://127.0.0.1:9'
nicelogin.shared_token_cache_size = 4
nicelogin.token_cache_size = 0
});
$small->start;
$small->safe_psql('postgres', 'CREATE EXTENSION nicelogin; SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . ')');
is(info($small)->{capacity}, 4, 'small: capacity 4');
my @claims = map {
	{ sub => sprintf('%08x-1111-4111-8111-%012x', $_, $_), company_id => sprintf('%08x-aaaa-4aaa-8aaa-%012x', $_, $_),
	  exp => time + 3600, jti => "many-$_" }
} 1 .. 40;
my @many = sign_tokens(@claims);
is(scalar @many, 40, '40 tokens signed');
my $sql = join(";\n", map { 'SELECT nicelogin_claims(' . lit($many[$_]) . ") ->> 'sub'" } 0 .. $#many);
my $want = join("\n", map { $_->{sub} } @claims);
# several rounds in several sessions: hits, misses and evictions interleave
for my $round (1 .. 3)
{
	is($small->safe_psql('postgres', $sql), $want, "small, round $round: every token gets its own claims");
}
$small->safe_psql('postgres', "SELECT nicelogin_revoke_jti('many-7')");
my @want = map { $_->{sub} } @claims;
$want[6] = '';
is($small->safe_psql('postgres', $sql), join("\n", @want), 'small: the revoked one has no claims, the others theirs');
$i = info($small);
ok($i->{evictions} > 0, "small: entries were evicted ($i->{evictions})");
ok($i->{entries} <= 4, "small: never more than 4 entries ($i->{entries})");
# a repeated token stays cached while others come and go
$sql = join(";\n", map { ("SELECT nicelogin_check($rs256)", 'SELECT nicelogin_check(' . lit($many[$_]) . ')') } 10 .. 20);
$before = info($small);
is($small->safe_psql('postgres', $sql), join("\n", ('valid') x 22), 'small: alternating tokens all valid');
ok(info($small)->{hits} - $before->{hits} >= 9, 'small: the repeated token is kept by CLOCK');
$small->stop;

done_testing();
