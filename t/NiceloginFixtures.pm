# t/NiceloginFixtures.pm: the committed fixtures (test/fixtures, made by
# test/gen_fixtures.py) as SQL literals for the TAP tests, and the plumbing
# they share: the stand-in NiceLogin server, its control calls, polling.
package NiceloginFixtures;

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils qw(slurp_file);
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(fixture_text tok jwks_lit sign_tokens start_api_server api_ctl wait_for_value);

my $root = File::Spec->rel2abs(File::Spec->catdir(dirname(__FILE__), '..'));

my $dir = File::Spec->rel2abs(File::Spec->catdir(dirname(__FILE__), '..', 'test', 'fixtures'));
my $tokens = decode_json(slurp_file("$dir/tokens.json"));

# The text of a fixture file, e.g. fixture_text('jwks.json').
sub fixture_text
{
	my ($name) = @_;
	return slurp_file("$dir/$name");
}

# A fixture token as a SQL literal; tokens are base64url with dots.
sub tok
{
	my ($name) = @_;
	my $t = $tokens->{$name};
	die "no fixture token $name" unless defined $t;
	die "unexpected character in token $name" unless $t =~ /^[A-Za-z0-9_.-]*$/;
	return "'$t'";
}

# A key set (JSON text) as a SQL jsonb literal, dollar-quoted.
sub jwks_lit
{
	my ($text) = @_;
	die "key set contains the quote tag" if $text =~ /\$nljwks\$/;
	return "\$nljwks\$$text\$nljwks\$::jsonb";
}

# Tokens signed at test time with the fixture key rsa1 (test/nljwt.py), one
# per claims hash given (claims with an exp seconds away, say); bare tokens.
sub sign_tokens
{
	my @claims = @_;
	my $in = "${PostgreSQL::Test::Utils::tmp_check}/claims.json";
	unlink $in;
	PostgreSQL::Test::Utils::append_to_file($in, encode_json(\@claims));
	my $out = `python3 -c '
import json, sys
sys.path.insert(0, "$root/test")
import nljwt
for c in json.load(open(sys.argv[1])):
    print(nljwt.sign({"alg": "RS256", "kid": "rsa1", "typ": "JWT"}, c, "RS256",
                     "$root/test/fixtures/keys/rs256.pem"))
' $in`;
	die "signing failed" if $? != 0;
	return split /\n/, $out;
}

# Starts test/nicelogin_server.py on a free port of its own, waits for it
# (one test: "stand-in server is up"), points NICELOGIN_API_URL at it for
# api_ctl, and returns the IPC::Run handle (kill_kill it at the end) and the
# base URL.
sub start_api_server
{
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $url = "http://127.0.0.1:$port";
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'python3', "$root/test/nicelogin_server.py", '--host', '127.0.0.1', '--port', $port ],
		'>', \$out, '2>', \$err);
	my $deadline = time + 30;
	while ($out !~ /ready/ && time < $deadline)
	{
		$h->pump_nb;
		usleep(50_000);
	}
	like($out, qr/ready/, 'stand-in server is up');
	$ENV{NICELOGIN_API_URL} = $url;
	return ($h, $url);
}

# test/nicelogin_ctl.py with these arguments, against the server started last.
sub api_ctl
{
	my @args = @_;
	system('python3', "$root/test/nicelogin_ctl.py", @args) == 0
	  or die "nicelogin_ctl @args failed";
}

# Polls a query until it returns the wanted value; returns the seconds it
# took, or undef after timeout seconds.
sub wait_for_value
{
	my ($node, $db, $sql, $want, $timeout) = @_;
	my $start = time;
	while (time - $start < $timeout)
	{
		my $got = $node->safe_psql($db, $sql);
		return time - $start if $got eq $want;
		usleep(50_000);
	}
	return undef;
}

1;
