# t/NiceloginFixtures.pm: the committed fixtures (test/fixtures, made by
# test/gen_fixtures.py) as SQL literals for the TAP tests.
package NiceloginFixtures;

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use JSON::PP;
use PostgreSQL::Test::Utils qw(slurp_file);

our @EXPORT = qw(fixture_text tok jwks_lit);

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

1;
