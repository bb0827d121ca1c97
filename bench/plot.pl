#!/usr/bin/perl
# plot.pl: a small SVG line chart (panels side by side) from a description
# on standard input, so the benchmark needs no plotting package.
#
#   panel TITLE|X LABEL|Y LABEL|lin or log    starts a panel
#   x A B C ...                               the x positions' labels, evenly spaced
#   line NAME V1 V2 ...                       a series, one value per x ("-": none)
#   hline NAME V                              a horizontal reference line
#
# Names may not contain spaces (use "_"; shown as spaces).
use strict;
use warnings;

my ($pw, $ph) = (500, 320);                        # one panel
my ($left, $right, $top, $bottom) = (60, 150, 30, 45);   # margins inside a panel
my @colours = ('#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf');

my @panels;
while (my $l = <STDIN>) {
	chomp $l;
	next if $l =~ /^\s*$/;
	my ($kind, $rest) = split / /, $l, 2;
	if ($kind eq 'panel') {
		my ($title, $xl, $yl, $scale) = split /\|/, $rest;
		push @panels, { title => $title, xl => $xl, yl => $yl, log => ($scale // '') eq 'log',
						x => [], lines => [], hlines => [] };
	} elsif ($kind eq 'x') {
		$panels[-1]{x} = [split / /, $rest];
	} elsif ($kind eq 'line') {
		my ($name, @v) = split / /, $rest;
		push @{$panels[-1]{lines}}, [$name, [map { /^-?[0-9.]+(e[-+]?\d+)?$/i ? $_ : undef } @v]];
	} elsif ($kind eq 'hline') {
		my ($name, $v) = split / /, $rest;
		push @{$panels[-1]{hlines}}, [$name, $v];
	}
}

sub esc { my $s = shift; $s =~ s/&/&amp;/g; $s =~ s/</&lt;/g; $s =~ s/>/&gt;/g; $s =~ s/_/ /g; $s }
sub fmt { my $v = shift; $v >= 100 ? sprintf('%.0f', $v) : $v >= 1 ? sprintf('%.4g', $v) : sprintf('%.2g', $v) }

# Tick values covering [lo, hi]: 1-2-5 steps (log) or about 5 round steps from 0 (lin).
sub ticks {
	my ($lo, $hi, $log) = @_;
	if ($log) {
		my @t;
		for my $e (int(log($lo) / log(10)) - 1 .. int(log($hi) / log(10)) + 1) {
			push @t, grep { $_ >= $lo && $_ <= $hi } map { $_ * 10**$e } 1, 2, 5;
		}
		return @t;
	}
	my $step = 10**int(log($hi / 5) / log(10));
	$step *= $_ for grep { $hi / ($step * $_) > 4 } 2, 2.5;
	return map { $_ * $step } 0 .. int($hi / $step);
}

# One panel's SVG, its origin at ($ox, 0).
sub panel {
	my ($p, $ox) = @_;
	my @vals = grep { defined && $_ > 0 } map({ @{$_->[1]} } @{$p->{lines}}), map { $_->[1] } @{$p->{hlines}};
	return '' unless @vals && @{$p->{x}};
	my ($min, $max) = (sort { $a <=> $b } @vals)[0, -1];
	my ($lo, $hi) = $p->{log} ? ($min / 1.5, $max * 1.5) : (0, $max * 1.1);
	my ($w, $h) = ($pw - $left - $right, $ph - $top - $bottom);
	my $n = @{$p->{x}};
	my $xpos = sub { $ox + $left + ($n == 1 ? $w / 2 : $_[0] * $w / ($n - 1)) };
	my $ypos = sub {
		my $v = shift;
		my $f = $p->{log} ? (log($v) - log($lo)) / (log($hi) - log($lo)) : ($v - $lo) / ($hi - $lo);
		$top + $h * (1 - $f);
	};
	my $s = sprintf qq(<text x="%.1f" y="18" font-weight="bold" text-anchor="middle">%s</text>\n),
		$ox + $left + $w / 2, esc($p->{title});
	$s .= sprintf qq(<rect x="%.1f" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>\n),
		$ox + $left, $top, $w, $h;
	for my $t (ticks($lo, $hi, $p->{log})) {
		my $y = $ypos->($t);
		$s .= sprintf qq(<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/>\n),
			$ox + $left, $ox + $left + $w, $y, $y;
		$s .= sprintf qq(<text x="%.1f" y="%.1f" text-anchor="end">%s</text>\n), $ox + $left - 4, $y + 4, fmt($t);
	}
	for my $i (0 .. $n - 1) {
		$s .= sprintf qq(<text x="%.1f" y="%d" text-anchor="middle">%s</text>\n),
			$xpos->($i), $top + $h + 16, esc($p->{x}[$i]);
	}
	$s .= sprintf qq(<text x="%.1f" y="%d" text-anchor="middle">%s</text>\n),
		$ox + $left + $w / 2, $ph - 8, esc($p->{xl});
	$s .= sprintf qq(<text transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="middle">%s</text>\n),
		$ox + 14, $top + $h / 2, esc($p->{yl});
	my $k = 0;
	my $legend = sub {	# a legend entry for series $k
		my ($name, $dash) = @_;
		my $y = $top + 10 + 18 * $k;
		my $c = $colours[$k % @colours];
		$k++;
		sprintf qq(<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>)
			. qq(<text x="%.1f" y="%d">%s</text>\n), $ox + $left + $w + 8, $ox + $left + $w + 28, $y, $y,
			$c, $dash, $ox + $left + $w + 32, $y + 4, esc($name);
	};
	for my $l (@{$p->{lines}}) {
		my $c = $colours[$k % @colours];
		my @pts = map { defined $l->[1][$_] && $l->[1][$_] > 0 ? sprintf('%.1f,%.1f', $xpos->($_), $ypos->($l->[1][$_])) : () }
			0 .. $n - 1;
		$s .= sprintf qq(<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>\n), $c, "@pts";
		$s .= join '', map { my ($x, $y) = split /,/; qq(<circle cx="$x" cy="$y" r="3" fill="$c"/>\n) } @pts;
		$s .= $legend->($l->[0], '');
	}
	for my $hl (@{$p->{hlines}}) {
		my $c = $colours[$k % @colours];
		my $y = $ypos->($hl->[1]);
		$s .= sprintf qq(<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="6,4"/>\n),
			$ox + $left, $ox + $left + $w, $y, $y, $c;
		$s .= $legend->($hl->[0], ' stroke-dasharray="6,4"');
	}
	return $s;
}

my $width = $pw * (@panels || 1);
print qq(<svg xmlns="http://www.w3.org/2000/svg" width="$width" height="$ph" font-family="sans-serif" font-size="11">\n);
print qq(<rect width="100%" height="100%" fill="white"/>\n);
print panel($panels[$_], $_ * $pw) for 0 .. $#panels;
print "</svg>\n";
