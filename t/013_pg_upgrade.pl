# pg_upgrade of a cluster with nicelogin in shared_preload_libraries and the
# refresh worker on its default database (postgres), where the extension is
# installed at 1.1 with keys, a deactivation, revocations and 100,000 more
# revocations.  The new cluster is of the same major (a test machine has one
# major per chroot): what is tested is that nothing of the extension runs
# while pg_upgrade's servers restore (before, the worker connected to
# postgres and the restore failed: "database postgres is being accessed by
# other users"), and that afterwards the rows, the verdicts of every fixture
# token, the triggers and the worker are as before, and ALTER EXTENSION
# nicelogin UPDATE runs and changes no verdict.  It prints how long
# pg_upgrade took.
#
# When NL_UPGRADE_FROM_BINDIR names the bin folder of an older major with
# nicelogin installed (test/run-tests.sh sets it in a chroot that has one:
# /usr/lib/postgresql/18/bin in 19's), the same checks run once more for a
# pg_upgrade from that major to the one under test.
use strict;
use warnings;

use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

my $nrevocations = 100_000;
my $tokens = decode_json(fixture_text('tokens.json'));
my @names = sort keys %$tokens;

my $conf = q{
shared_preload_libraries = 'nicelogin'
nicelogin.base_url = 'http://127.0.0.1:9'
nicelogin.api_key = 'test-api-key'
};

my $tokens_sql = 'SELECT n, t FROM (VALUES '
  . join(', ', map { "('$_', " . tok($_) . ')' } @names) . ') AS v(n, t)';
my $verdicts_sql = "SELECT string_agg(n || ':' || nicelogin_check(t), ' ' ORDER BY n) FROM ($tokens_sql) v";
my $contents_sql = q{
SELECT md5(string_agg(x, E'\n' ORDER BY x)), count(*) FROM (
  SELECT concat_ws(' ', 'k', kid, kty, alg, use, jwk::text, added_at::text) FROM nicelogin_keys
  UNION ALL
  SELECT concat_ws(' ', 'd', user_id::text, deactivated_at::text, deactivated_by) FROM nicelogin_deactivated_users
  UNION ALL
  SELECT concat_ws(' ', 'r', kind, value, expires_at::text, revoked_at::text, revoked_by) FROM nicelogin_revocations
) AS rows(x)};
my $triggers_sql = q{
SELECT string_agg(format('%s:%s:%s', c.relname, t.tgname, t.tgenabled), ',' ORDER BY c.relname, t.tgname)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE NOT t.tgisinternal AND c.relname LIKE 'nicelogin%'};

# pg_upgrade a cluster of the installation OLD_INSTALL (undef: the major under
# test) to one of the major under test, with the checks above.  Across majors,
# every test name starts with "OLD -> NEW: ".
sub upgrade_case
{
	my ($old_install) = @_;
	my $old = $old_install
	  ? PostgreSQL::Test::Cluster->new('old_major', install_path => $old_install)
	  : PostgreSQL::Test::Cluster->new('old');
	my $new = PostgreSQL::Test::Cluster->new($old_install ? 'new_major' : 'new');
	my ($from, $to) = map { $_->pg_version->major } $old, $new;
	my $prefix = $old_install ? "$from -> $to: " : '';
	$old->init;
	$old->append_conf('postgresql.conf', $conf);
	$old->start;

	$old->safe_psql('postgres', q{CREATE EXTENSION nicelogin VERSION '1.1'});
	$old->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit(fixture_text('jwks.json')) . ')');
	$old->safe_psql('postgres', qq{
		INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('22222222-2222-4222-8222-222222222222');
		SELECT nicelogin_revoke_jti('jti-alice-1', '2100-01-01');
		SELECT nicelogin_revoke_sid('sid-other');
		INSERT INTO nicelogin_revocations (kind, value, expires_at)
		SELECT 'jti', 'bulk-' || i, '2100-01-01'::timestamptz FROM generate_series(1, $nrevocations) i});
	is( $old->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nicelogin jwks refresh' AND datname = 'postgres'"),
		'1', $prefix . 'old cluster: the refresh worker is connected to postgres');

	my $verdicts = $old->safe_psql('postgres', $verdicts_sql);
	like($verdicts, qr/\bbob:user_deactivated\b.*\brs256:revoked\b/,
		$prefix . 'old cluster: the revocation and the deactivation decide verdicts');
	my $contents = $old->safe_psql('postgres', $contents_sql);
	like($contents, qr/\|\d+$/, $prefix . 'old cluster: the rows');
	my $triggers = $old->safe_psql('postgres', $triggers_sql);
	$old->stop;

	$new->init;
	$new->append_conf('postgresql.conf', $conf);

	my $bindir = $old->config_data('--bindir');
	my $newbindir = $new->config_data('--bindir');
	my $tmp = PostgreSQL::Test::Utils::tempdir;
	chdir $tmp or die "chdir $tmp: $!";
	my $t0 = time;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[
			"$newbindir/pg_upgrade", '--no-sync', '--retain',
			'-d', $old->data_dir, '-D', $new->data_dir,
			'-b', $bindir, '-B', $newbindir,
			'-s', $new->host, '-p', $old->port, '-P', $new->port
		],
		'>', \$stdout, '2>', \$stderr);
	my $took = time - $t0;
	ok($ok, $prefix . 'pg_upgrade succeeds with nicelogin preloaded')
	  or diag("pg_upgrade:\n$stdout\n$stderr\n"
		  . join("\n", map { "--- $_\n" . slurp_file($_) } glob($new->data_dir . '/pg_upgrade_output.d/*/log/*')));
	diag(sprintf('pg_upgrade %swith %d revocations took %.1f s',
			$old_install ? "$from -> $to " : '', $nrevocations, $took));

	# pg_upgrade's own server logs: the worker never started, on either side
	my @logs = grep { -f $_ } (glob($new->data_dir . '/pg_upgrade_output.d/*/log/pg_upgrade_server.log'),
		"$tmp/pg_upgrade_server.log");
	ok(@logs, $prefix . 'pg_upgrade kept its server log');
	for my $log (@logs)
	{
		unlike(slurp_file($log), qr/nicelogin jwks refresh worker started/,
			$prefix . 'no refresh worker started by pg_upgrade\'s servers');
	}

	$new->start;
	is($new->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'nicelogin'"),
		'1.1', $prefix . 'new cluster: the extension at its version');
	is($new->safe_psql('postgres', $contents_sql), $contents, $prefix . 'new cluster: the same rows');
	is($new->safe_psql('postgres', $triggers_sql), $triggers, $prefix . 'new cluster: the same triggers');
	is($new->safe_psql('postgres', $verdicts_sql), $verdicts, $prefix . 'new cluster: every fixture token, the same verdict');
	ok( defined wait_for_value($new, 'postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nicelogin jwks refresh'", '1', 30),
		$prefix . 'new cluster: the refresh worker runs once the upgrade is done');

	$new->safe_psql('postgres', 'ALTER EXTENSION nicelogin UPDATE');
	is($new->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'nicelogin'"),
		'1.3', $prefix . 'ALTER EXTENSION nicelogin UPDATE runs');
	is($new->safe_psql('postgres', $contents_sql), $contents, $prefix . 'after the update: the same rows');
	is($new->safe_psql('postgres', $verdicts_sql), $verdicts, $prefix . 'after the update: the same verdicts');
	# and a change still reaches the sessions
	$new->safe_psql('postgres', "DELETE FROM nicelogin_revocations WHERE value = 'jti-alice-1'");
	like($new->safe_psql('postgres', $verdicts_sql), qr/\brs256:valid\b/, $prefix . 'after the update: an unrevocation is honoured');

	$new->stop;
	return;
}

upgrade_case(undef);

if (my $from = $ENV{NL_UPGRADE_FROM_BINDIR})
{
	(my $install = $from) =~ s{/bin/?$}{};
	upgrade_case($install);
}
else
{
	note('NL_UPGRADE_FROM_BINDIR is not set: no pg_upgrade from an older major');
}

done_testing();
