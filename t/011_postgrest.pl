
# Copyright: nicelogin contributors
#
# 011_postgrest.pl -- PostgREST's reload notification.
#
# A session listening on nicelogin.postgrest_channel, as PostgREST's listener
# does, receives exactly one 'reload config' per committed change of the
# stored keys, whoever made it: the refresh worker (against the stand-in
# NiceLogin server), nicelogin_refresh_jwks(), nicelogin_set_jwks(), SQL on
# the table, and the apply worker of a logical-replication subscriber.  None
# for a rolled-back change, a refresh that brings the same keys, a change of
# the revocation tables, or with the setting empty.
#
# Counting is exact, with no sleeping: after the actions under test, another
# session sends a marker notification on the same channel; notifications
# arrive in commit order, so once the marker is in, every notification an
# earlier commit sent is in too, and the ones before the marker are counted.

use strict;
use warnings;

use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use FindBin;
use lib $FindBin::Bin;
use NiceloginFixtures;

my $jwks      = fixture_text('jwks.json');
my $jwks_hs   = fixture_text('jwks_hs.json');
my $all_keys  = decode_json($jwks)->{keys};
my %reduced   = (keys => [ grep { $_->{kid} ne 'ec256' } @$all_keys ]);
my $jwks_less = encode_json(\%reduced);

my ($api, $api_url) = start_api_server();
my $reduced_file = "${PostgreSQL::Test::Utils::tmp_check}/jwks_reduced.json";
unlink $reduced_file;    # one prove run shares tmp_check: t/003_worker.pl writes this name too
PostgreSQL::Test::Utils::append_to_file($reduced_file, $jwks_less);
my $full_file = "$FindBin::Bin/../test/fixtures/jwks.json";
api_ctl('jwks', $reduced_file);

# ------------------------------------------------------------------ a listener

# A psql session that LISTENs on a channel, as PostgREST's listener does;
# psql prints each notification it receives after the command it ran.
my @listeners;

sub listener
{
	my ($node, $db, $channel) = @_;
	my $l = { in => '', out => '', err => '', seen => 0, channel => $channel, node => $node, db => $db };
	$l->{h} = IPC::Run::start([ 'psql', '-X', '-A', '-t', '-d', $node->connstr($db) ],
		'<', \$l->{in}, '>', \$l->{out}, '2>', \$l->{err});
	$l->{in} .= "LISTEN $channel;\nSELECT 'listening';\n";
	my $deadline = time + 60;
	while ($l->{out} !~ /^listening$/m && time < $deadline)
	{
		$l->{h}->pump_nb;
		usleep(20_000);
	}
	die "the listener did not start: $l->{err}" unless $l->{out} =~ /^listening$/m;
	push @listeners, $l;
	return $l;
}

my $marker = 0;

# The payloads received on the listener's channel since the last call, in
# order, up to a marker another session sends now.
sub received
{
	my ($l) = @_;
	my $tag = 'marker-' . ++$marker;
	$l->{node}->safe_psql($l->{db}, "NOTIFY $l->{channel}, '$tag'");
	my $deadline = time + 60;
	while (time < $deadline)
	{
		# psql reads notifications when it runs a command
		$l->{in} .= "SELECT 1;\n";
		$l->{h}->pump_nb;
		last if $l->{out} =~ /payload "\Q$tag\E"/;
		usleep(20_000);
	}
	die "the marker notification did not arrive: $l->{err}" unless $l->{out} =~ /payload "\Q$tag\E"/;
	my @payloads = $l->{out} =~ /^Asynchronous notification "\Q$l->{channel}\E" with payload "([^"]*)" received/mg;
	my @new = @payloads[ $l->{seen} .. $#payloads ];
	$l->{seen} = scalar @payloads;
	pop @new;    # the marker
	return @new;
}

# Exactly $want reload notifications (and nothing else) since the last check.
sub reloads_are
{
	my ($l, $want, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @got = received($l);
	is(scalar(@got), $want, $name)
	  or diag('received: ' . join(', ', map { "'$_'" } @got));
	is(scalar(grep { $_ ne 'reload config' } @got), 0, "$name: payload 'reload config'") if @got;
}

# ------------------------------------------------------------------ a primary with the worker

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'nicelogin'
nicelogin.database = 'postgres'
nicelogin.base_url = '$api_url'
nicelogin.api_key = 'test-api-key'
nicelogin.jwks_refresh_interval = '1h'
nicelogin.jwks_min_refresh_interval = '1s'
nicelogin.postgrest_channel = 'pgrst'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION nicelogin');

my $pgrst = listener($node, 'postgres', 'pgrst');
reloads_are($pgrst, 0, 'nothing before any key is stored');

# The worker: an empty table asks it for a refresh (the first token).
ok( defined wait_for_value($node, 'postgres', 'SELECT nicelogin_check(' . tok('rs256') . ')', 'valid', 60),
	'the worker stores the key set');
reloads_are($pgrst, 1, 'the worker storing keys: one reload');

# Rotation: NiceLogin publishes a new key, a token names it, the worker fetches.
sleep 1.2;
api_ctl('jwks', $full_file);
ok( defined wait_for_value($node, 'postgres', 'SELECT nicelogin_check(' . tok('es256') . ')', 'valid', 60),
	'the worker stores the rotated set');
reloads_are($pgrst, 1, 'the worker storing a rotated set: one reload');

# nicelogin_refresh_jwks(): the same set writes nothing, another set one reload.
$node->safe_psql('postgres', 'SELECT nicelogin_refresh_jwks()');
reloads_are($pgrst, 0, 'a manual refresh that brings the same keys: none');
api_ctl('jwks', $reduced_file);
$node->safe_psql('postgres', 'SELECT nicelogin_refresh_jwks()');
reloads_are($pgrst, 1, 'a manual refresh that brings other keys: one reload');
api_ctl('jwks', $full_file);

# nicelogin_set_jwks(): one per committed transaction, however many changes.
$node->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . ')');
reloads_are($pgrst, 1, 'nicelogin_set_jwks: one reload');
$node->safe_psql('postgres', 'BEGIN; SELECT nicelogin_set_jwks(' . jwks_lit($jwks_less) . '); '
	  . 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . '); '
	  . 'DELETE FROM nicelogin_keys WHERE kid = \'ed1\'; COMMIT;');
reloads_are($pgrst, 1, 'three changes in one transaction: one reload');
$node->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . ')');
$node->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks_less) . ')');
reloads_are($pgrst, 2, 'two committed transactions: two reloads');
$node->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks_less) . ')');
reloads_are($pgrst, 0, 'nicelogin_set_jwks with the stored set: none');

# Rolled back: nothing.
$node->safe_psql('postgres', 'BEGIN; SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . '); ROLLBACK;');
reloads_are($pgrst, 0, 'a rolled-back change: none');
$node->safe_psql('postgres', 'BEGIN; SAVEPOINT s; SELECT nicelogin_set_jwks(' . jwks_lit($jwks)
	  . '); ROLLBACK TO s; SELECT 1; COMMIT;');
reloads_are($pgrst, 0, 'a change rolled back to a savepoint: none');
my ($ret, $out, $err) = $node->psql('postgres',
	'BEGIN; SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . '); SELECT 1/0; COMMIT;');
reloads_are($pgrst, 0, 'a change in a transaction that failed: none');

# SQL on the table counts as a change; the revocation tables do not.
$node->safe_psql('postgres', "DELETE FROM nicelogin_keys WHERE kid = 'ed1'");
reloads_are($pgrst, 1, 'DELETE on the key table: one reload');
$node->safe_psql('postgres', "SELECT nicelogin_revoke_jti('j-1'); "
	  . "INSERT INTO nicelogin_deactivated_users (user_id) VALUES ('11111111-1111-4111-8111-111111111111')");
reloads_are($pgrst, 0, 'a revocation or a deactivation: none');
$node->safe_psql('postgres', 'DELETE FROM nicelogin_deactivated_users');

# The setting: empty sends nothing; another channel is not PostgREST's.
$node->safe_psql('postgres', "SET nicelogin.postgrest_channel = ''; SELECT nicelogin_set_jwks(" . jwks_lit($jwks) . ')');
reloads_are($pgrst, 0, 'nicelogin.postgrest_channel empty: none');
my $other = listener($node, 'postgres', 'other_api');
reloads_are($other, 0, 'the other channel is quiet at first');
$node->safe_psql('postgres', "SET nicelogin.postgrest_channel = 'other_api'; SELECT nicelogin_set_jwks("
	  . jwks_lit($jwks_less) . ')');
reloads_are($pgrst,  0, 'nicelogin.postgrest_channel names another channel: none on pgrst');
reloads_are($other, 1, '... and one on the channel it names');

# Off in the configuration file: the worker sends nothing either.
$node->append_conf('postgresql.conf', "nicelogin.postgrest_channel = ''\n");
$node->reload;
sleep 1.2;
$node->safe_psql('postgres', 'SELECT nicelogin_check(' . tok('es256') . ')');
ok( defined wait_for_value($node, 'postgres', 'SELECT nicelogin_check(' . tok('es256') . ')', 'valid', 60),
	'the worker stores the set again');
reloads_are($pgrst, 0, 'setting empty in the configuration: the worker sends none');
$node->append_conf('postgresql.conf', "nicelogin.postgrest_channel = 'pgrst'\n");
$node->reload;

# ------------------------------------------------------------------ a logical-replication subscriber

# The apply worker fires row triggers only (when ENABLE ALWAYS): the key
# table's change reaches a PostgREST that runs beside the subscriber through
# such a trigger, which the extension's row trigger is (added here when the
# installed version has none, to test this path).
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf('postgresql.conf', "nicelogin.postgrest_channel = 'pgrst'\n");
$sub->start;
$sub->safe_psql('postgres', 'CREATE EXTENSION nicelogin');
my $row_triggers = $sub->safe_psql('postgres', q{
SELECT count(*) FROM pg_trigger t
 WHERE t.tgrelid = 'nicelogin_keys'::regclass AND NOT t.tgisinternal
   AND (t.tgtype & 1) = 1 AND t.tgenabled = 'A'});
if ($row_triggers eq '0')
{
	$sub->safe_psql('postgres', q{
CREATE TRIGGER nicelogin_keys_row_changed AFTER INSERT OR UPDATE OR DELETE ON nicelogin_keys
    FOR EACH ROW EXECUTE FUNCTION nicelogin_invalidate_cache();
ALTER TABLE nicelogin_keys ENABLE ALWAYS TRIGGER nicelogin_keys_row_changed;});
}
$node->safe_psql('postgres', 'DELETE FROM nicelogin_keys');
# inserts only: a table without replica identity cannot publish deletes
$node->safe_psql('postgres', "CREATE PUBLICATION nl_keys FOR TABLE nicelogin_keys WITH (publish = 'insert')");
my $pubconn = $node->connstr('postgres');
$pubconn =~ s/'/''/g;
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION nl_keys CONNECTION '$pubconn' PUBLICATION nl_keys WITH (copy_data = false)");
$node->wait_for_catchup('nl_keys');
my $sub_pgrst = listener($sub, 'postgres', 'pgrst');
reloads_are($sub_pgrst, 0, 'subscriber: nothing before a change');

$node->safe_psql('postgres', 'SELECT nicelogin_set_jwks(' . jwks_lit($jwks) . ')');
$node->wait_for_catchup('nl_keys');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM nicelogin_keys'), scalar(@$all_keys),
	'subscriber: the keys arrived');
reloads_are($sub_pgrst, 1, 'subscriber: a replicated change of 11 rows: one reload');
is($sub->safe_psql('postgres', 'SELECT nicelogin_check(' . tok('es256') . ')'), 'valid',
	'subscriber: a token verifies with the replicated keys');

$node->safe_psql('postgres', 'BEGIN; INSERT INTO nicelogin_keys (kid, kty, jwk) SELECT \'extra\', kty, '
	  . 'jwk || \'{"kid": "extra"}\' FROM nicelogin_keys WHERE kid = \'rsa1\'; ROLLBACK;');
$node->safe_psql('postgres', 'INSERT INTO nicelogin_keys (kid, kty, jwk) SELECT \'extra\', kty, '
	  . 'jwk || \'{"kid": "extra"}\' FROM nicelogin_keys WHERE kid = \'rsa1\'');
$node->wait_for_catchup('nl_keys');
reloads_are($sub_pgrst, 1, 'subscriber: a rolled-back and a committed change: one reload');

# ------------------------------------------------------------------ the end

$_->{h}->kill_kill for @listeners;
$sub->stop;
$node->stop;
$api->kill_kill;
done_testing();
