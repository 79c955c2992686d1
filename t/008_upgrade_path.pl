# A 1.0 installation in a schema that a role other than a superuser can write
# (public of a database that role owns), with this library: that role plants
# the table 1.0 lacks and a newer library writes to (nicelogin_jwks_fetch),
# with a statement trigger that makes it a superuser.  Neither a superuser's
# nicelogin_refresh_jwks(), nor the refresh worker (woken by a token with an
# unknown kid, which any role can send), nor ALTER EXTENSION UPDATE may run
# it: the library uses only members of the extension, of the installed
# version, and the update refuses the schema with a hint whose procedure
# then works.  The same for a 1.1 installation whose schema was opened later.
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
my $jwks = decode_json(slurp_file("$root/test/fixtures/jwks.json"));
my $nkeys = scalar @{ $jwks->{keys} };

my ($api, $api_url) = start_api_server();
api_ctl('jwks', "$root/test/fixtures/jwks.json");

my $node = PostgreSQL::Test::Cluster->new('upgrade_path');
$node->init;
$node->append_conf('postgresql.conf', qq{
nicelogin.base_url = '$api_url'
nicelogin.api_key = 'test-api-key'
});
$node->start;
my $su = $node->safe_psql('postgres', 'SELECT current_user');

# alice owns the database, so (PostgreSQL 15 on) she may create in public.
$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE DATABASE victim OWNER alice;
});
$node->safe_psql('victim', q{CREATE EXTENSION nicelogin VERSION '1.0'});
is($node->safe_psql('victim', q{SELECT has_schema_privilege('alice', 'public', 'CREATE')}),
	't', 'alice can create objects where 1.0 is installed');

my $plant = q{
CREATE FUNCTION public.nl_pwn() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN ALTER ROLE alice SUPERUSER; RETURN NULL; END$$;
CREATE TABLE public.nicelogin_jwks_fetch (
    one_row boolean PRIMARY KEY DEFAULT true, fetched_at timestamptz,
    fetched_by text, keys integer);
GRANT ALL ON public.nicelogin_jwks_fetch TO PUBLIC;
CREATE TRIGGER nl_pwn AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON public.nicelogin_jwks_fetch
    FOR EACH STATEMENT EXECUTE FUNCTION public.nl_pwn();
};
$node->safe_psql('victim', $plant, extra_params => [ '-U', 'alice' ]);

my $is_super = q{SELECT rolsuper FROM pg_roles WHERE rolname = 'alice'};
sub alice_is_not_superuser
{
	my ($what) = @_;
	is($node->safe_psql('postgres', $is_super), 'f', "$what: alice is not a superuser");
	# on a failure, take it back so that the next step is judged on its own
	$node->safe_psql('postgres', 'ALTER ROLE alice NOSUPERUSER');
}

# 1. A superuser's refresh: the installed 1.0 has no nicelogin_jwks_fetch of
# its own; the library says to update and touches nothing.
my ($ret, $out, $err) = $node->psql('victim', 'SELECT nicelogin_refresh_jwks()');
like($err, qr/extension "nicelogin" is at version 1\.0, older than its library.*table nicelogin_jwks_fetch.*version 1\.1.*HINT:  Run ALTER EXTENSION nicelogin UPDATE/s,
	'nicelogin_refresh_jwks() on 1.0 refuses and says to update');
alice_is_not_superuser('after a superuser\'s nicelogin_refresh_jwks()');
is($node->safe_psql('victim', 'SELECT count(*) FROM nicelogin_keys'), '0', 'and stored nothing');

# Storing keys writes by name into a schema that alice may change: refused.
($ret, $out, $err) = $node->psql('victim',
	'SELECT nicelogin_set_jwks(' . jwks_lit(fixture_text('jwks.json')) . ')');
like($err, qr/schema "public" of extension "nicelogin" can be changed by roles that are not superusers/,
	'nicelogin_set_jwks() refuses a schema that alice can change');
alice_is_not_superuser('after nicelogin_set_jwks()');

# Verification of 1.0 keeps working: it reads the extension's own tables by OID.
$node->safe_psql('victim',
	q{DELETE FROM nicelogin_keys; INSERT INTO nicelogin_keys (kid, kty, alg, use, jwk) SELECT k->>'kid', k->>'kty', k->>'alg', k->>'use', k FROM jsonb_array_elements(}
	  . jwks_lit(fixture_text('jwks.json')) . q{->'keys') k});
is($node->safe_psql('victim', 'SELECT nicelogin_check(' . tok('rs256') . ')', extra_params => [ '-U', 'alice' ]),
	'valid', 'tokens verify on the 1.0 installation');

# 2. The refresh worker on that database, woken by an unknown kid that alice
# sends (the first refresh runs at start already).
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'nicelogin'
nicelogin.database = 'victim'
nicelogin.jwks_refresh_interval = '1h'
nicelogin.jwks_min_refresh_interval = '1s'
});
$node->restart;
sub worker_failures
{
	return scalar(() = slurp_file($node->logfile) =~
		  /nicelogin could not refresh the JWKS: extension "nicelogin" is at version 1\.0/g);
}
my $deadline = time + 30;
usleep(100_000) while worker_failures() < 1 && time < $deadline;
cmp_ok(worker_failures(), '>=', 1, 'the worker\'s first refresh is refused with the reason in the log');
like(slurp_file($node->logfile), qr/HINT:  Run ALTER EXTENSION nicelogin UPDATE as a superuser\. The stored keys were kept/,
	'and the hint says what to do');
alice_is_not_superuser('after the worker\'s first refresh');
sleep 1.1;
my $before = worker_failures();
my $forged = encode_base64url('{"alg":"RS256","kid":"forged"}') . '.e30.AAAA';
is($node->safe_psql('victim', "SELECT nicelogin_check('$forged')", extra_params => [ '-U', 'alice' ]),
	'unknown_key', 'alice sends a token with an unknown kid');
$deadline = time + 30;
usleep(100_000) while worker_failures() <= $before && time < $deadline;
cmp_ok(worker_failures(), '>', $before, 'the early refresh is refused too');
alice_is_not_superuser('after the worker\'s early refresh');

# 3. ALTER EXTENSION UPDATE refuses the schema, and its hint says how to fix it.
($ret, $out, $err) = $node->psql('victim', 'ALTER EXTENSION nicelogin UPDATE');
isnt($ret, 0, 'ALTER EXTENSION nicelogin UPDATE fails');
like($err, qr/ERROR:  schema public can be written by roles that are not superusers: alice/,
	'it refuses the schema alice can write, naming her');
like($err, qr/not part of the extension: TABLE public\.nicelogin_jwks_fetch/,
	'and names the planted table');
is($node->safe_psql('victim', q{SELECT extversion FROM pg_extension WHERE extname = 'nicelogin'}),
	'1.0', 'the extension stays at 1.0');
alice_is_not_superuser('after the refused update');
my ($fix) = $err =~ /HINT:  .*?\(1\.0 cannot move to another schema\): (.*?ALTER EXTENSION nicelogin UPDATE;)/s;
ok(defined $fix, 'the hint gives the statements to run');
$fix //= '';
like($fix, qr/^ALTER SCHEMA public OWNER TO \Q$su\E; DROP TABLE public\.nicelogin_jwks_fetch; ALTER EXTENSION nicelogin UPDATE;$/,
	'they are: a superuser owns the schema, the planted table goes, update');
note("hint: $fix");
($ret, $out, $err) = $node->psql('victim', $fix, on_error_stop => 1);
is($ret, 0, 'the hint\'s statements run') or diag($err);
is($node->safe_psql('victim', q{SELECT extversion FROM pg_extension WHERE extname = 'nicelogin'}),
	'1.3', 'and the extension is updated');
alice_is_not_superuser('after the update');

is($node->safe_psql('victim', 'SELECT nicelogin_refresh_jwks()'), $nkeys, 'nicelogin_refresh_jwks() works now');
sleep 1.1;
$node->safe_psql('victim', "SELECT nicelogin_check('$forged')", extra_params => [ '-U', 'alice' ]);
ok( defined wait_for_value($node, 'victim',
		q{SELECT last_fetch_by FROM nicelogin_jwks_state}, 'refresh worker', 30),
	'and so does the worker');
alice_is_not_superuser('after the refreshes');

# The rest of the hint: nicelogin moves to a schema of its own, and public
# gets its owner back.
$node->safe_psql('victim', q{
CREATE SCHEMA nicelogin;
ALTER EXTENSION nicelogin SET SCHEMA nicelogin;
ALTER SCHEMA public OWNER TO pg_database_owner;
});
is($node->safe_psql('victim', 'SELECT nicelogin.nicelogin_refresh_jwks(), nicelogin.nicelogin_check(' . tok('rs256') . ')'),
	"$nkeys|valid", 'after the move, refresh and verification work');
is($node->safe_psql('victim', q{SELECT has_schema_privilege('alice', 'public', 'CREATE'), has_schema_privilege('alice', 'nicelogin', 'CREATE')}),
	't|f', 'alice writes in public again, not in nicelogin\'s schema');
alice_is_not_superuser('at the end');

# 4. A 1.1 installation whose schema alice was allowed into afterwards.
$node->safe_psql('postgres', 'CREATE DATABASE victim11 OWNER alice');
$node->safe_psql('victim11', q{
CREATE SCHEMA nl;
CREATE EXTENSION nicelogin VERSION '1.1' SCHEMA nl;
GRANT CREATE ON SCHEMA nl TO alice;
});
($ret, $out, $err) = $node->psql('victim11', 'SELECT nl.nicelogin_refresh_jwks()');
like($err, qr/schema "nl" of extension "nicelogin" can be changed by roles that are not superusers/,
	'1.1: refresh refuses a schema that alice may write');
($ret, $out, $err) = $node->psql('victim11', 'ALTER EXTENSION nicelogin UPDATE');
like($err, qr/ERROR:  schema nl can be written by roles that are not superusers: alice.*HINT:  Move nicelogin to a schema of its own, then update: (CREATE SCHEMA nicelogin; ALTER EXTENSION nicelogin SET SCHEMA nicelogin; ALTER EXTENSION nicelogin UPDATE;) Or keep the schema and make it writable by superusers only: REVOKE CREATE ON SCHEMA nl FROM alice; ALTER EXTENSION nicelogin UPDATE;/s,
	'1.1: the update refuses too, with both ways out');
($fix) = $err =~ /then update: (CREATE SCHEMA.*?UPDATE;)/;
($ret, $out, $err) = $node->psql('victim11', $fix // 'SELECT 1/0', on_error_stop => 1);
is($ret, 0, '1.1: the move the hint gives works') or diag($err);
is($node->safe_psql('victim11', q{SELECT extversion, extnamespace::regnamespace FROM pg_extension WHERE extname = 'nicelogin'}),
	'1.3|nicelogin', '1.1: updated in its new schema');
is($node->safe_psql('victim11', 'SELECT nicelogin.nicelogin_refresh_jwks()'), $nkeys, '1.1: refresh works');

# An object that is not a member is never used, whatever its name.
$node->safe_psql('victim11', 'ALTER EXTENSION nicelogin DROP TABLE nicelogin.nicelogin_jwks_fetch');
($ret, $out, $err) = $node->psql('victim11', 'SELECT nicelogin.nicelogin_refresh_jwks()');
like($err, qr/relation "nicelogin\.nicelogin_jwks_fetch" is not a member of extension "nicelogin"/,
	'a table that is not a member of the extension is refused');
$node->safe_psql('victim11', 'ALTER EXTENSION nicelogin ADD TABLE nicelogin.nicelogin_jwks_fetch');
alice_is_not_superuser('in the end');

# 5. The hints offer only what fits.  An installation already in a schema
# named nicelogin cannot move to a new schema of that name: the update's hint
# gives only the fix of the schema's privileges (1.1 and 1.0), and so does
# CREATE EXTENSION's.
$node->safe_psql('postgres', 'CREATE DATABASE named11; CREATE DATABASE named10; CREATE DATABASE namednew');
for my $v ('1.1', '1.0')
{
	my $db = $v eq '1.1' ? 'named11' : 'named10';
	$node->safe_psql($db, qq{
CREATE SCHEMA nicelogin;
CREATE EXTENSION nicelogin VERSION '$v' SCHEMA nicelogin;
GRANT CREATE ON SCHEMA nicelogin TO alice;
});
	($ret, $out, $err) = $node->psql($db, 'ALTER EXTENSION nicelogin UPDATE');
	like($err, qr/ERROR:  schema nicelogin can be written by roles that are not superusers: alice\n/,
		"$v in a schema named nicelogin: the update refuses it");
	# (the HINT line only: from 18 on, the CONTEXT quotes the script's statement)
	my ($hint) = $err =~ /^HINT:  (.*)$/m;
	unlike($hint // 'CREATE SCHEMA nicelogin', qr/CREATE SCHEMA nicelogin/,
		"$v in a schema named nicelogin: the hint does not offer to create it");
	my ($named_fix) = $err =~ /HINT:  As a superuser, make the schema writable by superusers only and update(?: \(1\.0 cannot move to another schema\))?: (REVOKE CREATE ON SCHEMA nicelogin FROM alice; ALTER EXTENSION nicelogin UPDATE;)$/m;
	ok(defined $named_fix, "$v in a schema named nicelogin: the hint gives the REVOKE and the update only") or diag($err);
	($ret, $out, $err) = $node->psql($db, $named_fix // 'SELECT 1/0', on_error_stop => 1);
	is($ret, 0, "$v in a schema named nicelogin: the hint's statements run") or diag($err);
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'nicelogin'}),
		'1.3', "$v in a schema named nicelogin: updated");
}
$node->safe_psql('namednew', 'CREATE SCHEMA nicelogin; GRANT CREATE ON SCHEMA nicelogin TO alice');
($ret, $out, $err) = $node->psql('namednew', 'CREATE EXTENSION nicelogin SCHEMA nicelogin');
like($err, qr/ERROR:  schema "nicelogin" can be written by roles that are not superusers: alice\n.*HINT:  Make the schema writable by superusers only: REVOKE CREATE ON SCHEMA nicelogin FROM alice; CREATE EXTENSION nicelogin SCHEMA nicelogin;$/ms,
	'CREATE EXTENSION in a schema named nicelogin: only the REVOKE is offered');

# 6. CREATE granted to PUBLIC (a database upgraded from PostgreSQL 14 or
# older): the refusals say PUBLIC, not every role of the cluster (the
# predefined ones included), and their hints revoke it.
$node->safe_psql('postgres', 'CREATE DATABASE opened');
$node->safe_psql('opened', 'GRANT CREATE ON SCHEMA public TO PUBLIC');
($ret, $out, $err) = $node->psql('opened', 'CREATE EXTENSION nicelogin');
like($err, qr/ERROR:  schema "public" can be written by roles that are not superusers: PUBLIC\n/,
	'CREATE EXTENSION: CREATE granted to PUBLIC is named PUBLIC');
unlike(join("\n", $err =~ /(?:ERROR|HINT):  .*$/mg), qr/pg_checkpoint|pg_monitor|alice/, 'and no role is listed');
my ($ce_fix) = $err =~ /HINT:  Install nicelogin into a schema of its own: CREATE SCHEMA nicelogin; CREATE EXTENSION nicelogin SCHEMA nicelogin; Or make this schema writable by superusers only: (REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE EXTENSION nicelogin SCHEMA public;)$/m;
ok(defined $ce_fix, 'CREATE EXTENSION\'s hint gives both ways, the second with a REVOKE') or diag($err);
($ret, $out, $err) = $node->psql('opened', $ce_fix // 'SELECT 1/0', on_error_stop => 1);
is($ret, 0, 'the REVOKE and CREATE EXTENSION of the hint run') or diag($err);
$node->safe_psql('opened', q{
DROP EXTENSION nicelogin;
GRANT CREATE ON SCHEMA public TO PUBLIC;
CREATE EXTENSION nicelogin VERSION '1.0';
});
($ret, $out, $err) = $node->psql('opened', 'ALTER EXTENSION nicelogin UPDATE');
like($err, qr/ERROR:  schema public can be written by roles that are not superusers: PUBLIC\n.*HINT:  As a superuser, make the schema writable by superusers only and update \(1\.0 cannot move to another schema\): REVOKE CREATE ON SCHEMA public FROM PUBLIC; ALTER EXTENSION nicelogin UPDATE; Afterwards/s,
	'1.0 to 1.1: PUBLIC, and the hint revokes it');
unlike(join("\n", $err =~ /(?:ERROR|HINT):  .*$/mg), qr/pg_checkpoint|pg_monitor|alice/, '1.0 to 1.1: no role is listed');
$node->safe_psql('opened', q{
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER EXTENSION nicelogin UPDATE TO '1.1';
GRANT CREATE ON SCHEMA public TO PUBLIC;
});
($ret, $out, $err) = $node->psql('opened', 'ALTER EXTENSION nicelogin UPDATE');
like($err, qr/ERROR:  schema public can be written by roles that are not superusers: PUBLIC\n.*HINT:  Move nicelogin to a schema of its own, then update: CREATE SCHEMA nicelogin; ALTER EXTENSION nicelogin SET SCHEMA nicelogin; ALTER EXTENSION nicelogin UPDATE; Or keep the schema and make it writable by superusers only: REVOKE CREATE ON SCHEMA public FROM PUBLIC; ALTER EXTENSION nicelogin UPDATE;$/ms,
	'1.1 to 1.2: PUBLIC, and the hint revokes it');
unlike(join("\n", $err =~ /(?:ERROR|HINT):  .*$/mg), qr/pg_checkpoint|pg_monitor|alice/, '1.1 to 1.2: no role is listed');

$node->stop;
$api->kill_kill;
done_testing();
