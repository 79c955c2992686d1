
# Copyright: nicelogin contributors
#
# 002_dump.pl -- pg_dump / pg_restore of a database using nicelogin.
#
# The three tables are extension configuration tables: their rows (keys,
# deactivated users, revocations) must survive a dump and restore, in the
# custom format (pg_restore) and in the plain format (psql), tokens must get
# the same verdicts in the copy, and the copy's statement triggers must still
# invalidate the per-session caches.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

# ------------------------------------------------------------------ fixtures

my $jwks    = fixture_text('jwks.json');
my $nkeys  = scalar @{ decode_json($jwks)->{keys} };

my $alice_id = '11111111-1111-4111-8111-111111111111';

# Verdicts with jwks.json stored, alice deactivated, jti-bob-1 and
# sid-carol-1 revoked.
my %expect = (
	rs256        => 'user_deactivated',    # alice
	rs256_kid2   => 'user_deactivated',    # alice, key rsa2
	es256        => 'user_deactivated',    # alice, key ec256
	bob          => 'revoked',             # jti-bob-1
	alice2       => 'revoked',             # carol, sid-carol-1
	sub_not_uuid => 'valid',               # sub "alice": not a uuid, not deactivated
	bob_expired  => 'expired',
	unknown_kid  => 'unknown_key',
	rs256_bad_sig => 'bad_signature',
	hs256        => 'unknown_key',
);
my @names = sort keys %expect;

sub verdicts
{
	my ($node, $db, $schema) = @_;
	my $fn = defined $schema ? "$schema.nicelogin_check" : 'nicelogin_check';
	my %got;
	for my $n (@names)
	{
		$got{$n} = $node->safe_psql($db, "SELECT $fn(" . tok($n) . ')');
	}
	return \%got;
}

# The content of the three tables, every column, in a stable order.
my $contents_sql = q{
SELECT 'k', kid, kty, alg, use, jwk::text, added_at::text FROM nicelogin_keys
UNION ALL
SELECT 'd', user_id::text, deactivated_at::text, deactivated_by::text, NULL, NULL, NULL
  FROM nicelogin_deactivated_users
UNION ALL
SELECT 'r', kind, value, expires_at::text, revoked_at::text, revoked_by::text, NULL
  FROM nicelogin_revocations
ORDER BY 1, 2, 3
};

my $counts_sql = q{
SELECT (SELECT count(*) FROM nicelogin_keys), (SELECT count(*) FROM nicelogin_deactivated_users),
       (SELECT count(*) FROM nicelogin_revocations)
};

# The extension's triggers: a statement trigger per table, enabled ALWAYS
# (they fire under session_replication_role = replica too), and the row
# triggers for logical replication's apply, enabled REPLICA; a member of
# nothing else.
my $triggers_sql = q{
SELECT string_agg(format('%s:%s:%s', c.relname, t.tgname, t.tgenabled), ',' ORDER BY c.relname, t.tgname)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE NOT t.tgisinternal AND c.relname LIKE 'nicelogin%'
};
my $triggers_expected = join(',',
	map { my ($t, $trig, $e) = @$_; "nicelogin_$t:nicelogin_${t}_$trig:$e" }
	  [ 'deactivated_users', 'applied', 'R' ], [ 'deactivated_users', 'changed', 'A' ],
	  [ 'deactivated_users', 'merge', 'R' ], [ 'jwks_fetch', 'merge', 'R' ],
	  [ 'keys', 'applied', 'R' ], [ 'keys', 'changed', 'A' ], [ 'keys', 'merge', 'R' ],
	  [ 'revocations', 'applied', 'R' ], [ 'revocations', 'changed', 'A' ],
	  [ 'revocations', 'merge', 'R' ]);

# ------------------------------------------------------------------ source database

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION nicelogin');
is($node->safe_psql('src', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . ')'),
	$nkeys, "src: $nkeys keys stored");
$node->safe_psql('src',
	"INSERT INTO nicelogin_deactivated_users(user_id) VALUES ('$alice_id')");
$node->safe_psql('src', "SELECT nicelogin_revoke_jti('jti-bob-1')");
$node->safe_psql('src',
	"SELECT nicelogin_revoke_sid('sid-carol-1', '2100-01-01 00:00:00+00')");

my $src_counts   = $node->safe_psql('src', $counts_sql);
my $src_contents = $node->safe_psql('src', $contents_sql);
is($src_counts, "$nkeys|1|2", 'src: keys, one deactivated user, two revocations');
is_deeply(verdicts($node, 'src'), \%expect, 'src: verdicts');

# ------------------------------------------------------------------ custom format

my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $dump = "$tmp/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', 'src' ], 'pg_dump -Fc src');

$node->safe_psql('postgres', 'CREATE DATABASE dst');
{
	local %ENV = $node->_get_env();
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ 'pg_restore', '--exit-on-error', '-d', 'dst', $dump ],
		'>', \$stdout, '2>', \$stderr);
	ok($ok, 'pg_restore into dst');
	is($stderr, '', 'pg_restore printed no error or warning');
}

is($node->safe_psql('dst', "SELECT extversion FROM pg_extension WHERE extname = 'nicelogin'"),
	'1.3', 'dst: the extension is restored');
is($node->safe_psql('dst', $counts_sql), $src_counts, 'dst: same row counts as src');
is($node->safe_psql('dst', $contents_sql), $src_contents,
	'dst: same keys, deactivated users and revocations as src (every column)');
is($node->safe_psql('dst', 'SELECT count(*) FROM nicelogin_key_list'), $nkeys,
	'dst: nicelogin_key_list shows the keys');
is($node->safe_psql('dst', $triggers_sql), $triggers_expected,
	'dst: one invalidation trigger per table, enabled, not duplicated');
is($node->safe_psql('dst', q{
	SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	 WHERE e.extname = 'nicelogin' AND d.deptype = 'e' AND d.classid = 'pg_class'::regclass
	   AND d.objid IN ('nicelogin_keys'::regclass, 'nicelogin_deactivated_users'::regclass,
	                   'nicelogin_revocations'::regclass)}),
	'3', 'dst: the tables are still members of the extension');
is_deeply(verdicts($node, 'dst'), \%expect, 'dst: same verdicts as src');

# --- the restored triggers still invalidate a session's caches

my $bg = $node->background_psql('dst', on_error_stop => 0);

sub bgq
{
	my ($sql, $name) = @_;
	$bg->{stderr} = '';
	my $out = $bg->query($sql);
	is($bg->{stderr}, '', "no error in the dst session: $name");
	return $out;
}

sub bg_check
{
	my ($token, $verdict, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is(bgq('SELECT nicelogin_check(' . tok($token) . ')', $name), $verdict, $name);
}

my $pid = bgq('SELECT pg_backend_pid()', 'pid');
# warm the caches
bg_check('rs256_kid2', 'user_deactivated', 'dst session: rs256_kid2 user_deactivated (cached)');
bg_check('rs256',      'user_deactivated', 'dst session: rs256 user_deactivated (cached)');
bg_check('bob',        'revoked',          'dst session: bob revoked (cached)');
bg_check('alice2',     'revoked',          'dst session: alice2 revoked (cached)');
bg_check('sub_not_uuid', 'valid',          'dst session: sub_not_uuid valid (cached)');

$node->safe_psql('dst', "DELETE FROM nicelogin_keys WHERE kid = 'rsa2'");
bg_check('rs256_kid2', 'unknown_key',
	'dst session: after deleting key rsa2 elsewhere, rs256_kid2 unknown_key');
bg_check('rs256', 'user_deactivated', 'dst session: rs256 still user_deactivated');

$node->safe_psql('dst', "DELETE FROM nicelogin_deactivated_users WHERE user_id = '$alice_id'");
bg_check('rs256', 'valid', 'dst session: after reactivating alice elsewhere, rs256 valid');

$node->safe_psql('dst', "DELETE FROM nicelogin_revocations WHERE kind = 'jti'");
bg_check('bob', 'valid', 'dst session: after deleting the jti revocation elsewhere, bob valid');
bg_check('alice2', 'revoked', 'dst session: alice2 still revoked (by sid)');

$node->safe_psql('dst', "SELECT nicelogin_revoke_jti('jti-alice-1')");
bg_check('sub_not_uuid', 'revoked', 'dst session: after revoke_jti(jti-alice-1), sub_not_uuid revoked');

is(bgq('SELECT pg_backend_pid()', 'pid at end'), $pid, 'dst: the same session throughout');
$bg->quit;

# src is untouched by all that
is_deeply(verdicts($node, 'src'), \%expect, 'src: verdicts unchanged by changes in dst');
is($node->safe_psql('src', $contents_sql), $src_contents, 'src: contents unchanged');

# ------------------------------------------------------------------ plain format

my $plain = "$tmp/src.sql";
$node->command_ok([ 'pg_dump', '-Fp', '-f', $plain, '-d', 'src' ], 'pg_dump -Fp src');
$node->safe_psql('postgres', 'CREATE DATABASE dst_plain');
{
	local %ENV = $node->_get_env();
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'dst_plain', '-f', $plain ],
		'>', \$stdout, '2>', \$stderr);
	ok($ok, 'psql restores the plain dump into dst_plain');
	is($stderr, '', 'psql printed no error or warning');
}
is($node->safe_psql('dst_plain', $contents_sql), $src_contents,
	'dst_plain: same keys, deactivated users and revocations as src');
is($node->safe_psql('dst_plain', $triggers_sql), $triggers_expected,
	'dst_plain: the invalidation triggers are there');
is_deeply(verdicts($node, 'dst_plain'), \%expect, 'dst_plain: same verdicts as src');
{
	# a session with warm caches sees a key deletion
	my ($ret, $out, $err) = $node->psql('dst_plain',
		'SELECT nicelogin_check(' . tok('es256') . ");\n"
		  . "DELETE FROM nicelogin_keys WHERE kid = 'ec256';\n"
		  . 'SELECT nicelogin_check(' . tok('es256') . ');');
	is($out, "user_deactivated\nunknown_key",
		'dst_plain: deleting key ec256 makes es256 unknown_key in the same session');
}

# ------------------------------------------------------------------ extension in its own schema

$node->safe_psql('postgres', 'CREATE DATABASE src2');
$node->safe_psql('src2', 'CREATE SCHEMA auth; CREATE EXTENSION nicelogin SCHEMA auth');
$node->safe_psql('src2', 'SELECT auth.nicelogin_set_jwks(' . jwks_lit($jwks) . ')');
$node->safe_psql('src2',
	"INSERT INTO auth.nicelogin_deactivated_users(user_id) VALUES ('$alice_id')");
$node->safe_psql('src2', "SELECT auth.nicelogin_revoke_jti('jti-bob-1')");
$node->safe_psql('src2',
	"SELECT auth.nicelogin_revoke_sid('sid-carol-1', '2100-01-01 00:00:00+00')");
my $dump2 = "$tmp/src2.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump2, '-d', 'src2' ], 'pg_dump -Fc src2 (schema auth)');
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'dst2', $dump2 ],
	'pg_restore into dst2');
is($node->safe_psql('dst2',
		"SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'nicelogin'"),
	'auth', 'dst2: the extension is in schema auth');
is_deeply(verdicts($node, 'dst2', 'auth'), \%expect, 'dst2: same verdicts as src (schema auth)');
is($node->safe_psql('dst2', "SET search_path = auth; $contents_sql"),
	$node->safe_psql('src2', "SET search_path = auth; $contents_sql"),
	'dst2: same table contents as src2');
is($node->safe_psql('dst2', 'SELECT auth.nicelogin_set_jwks(' . jwks_lit($jwks) . ')'),
	$nkeys, 'dst2: nicelogin_set_jwks still works in the restored schema');

$node->stop;

done_testing();
