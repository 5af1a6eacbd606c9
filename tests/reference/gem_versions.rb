# RubyGems' own answers (Debian's ruby): for each line of standard input after the first, -1, 0 or 1 for the
# version before it against it, as Gem::Version orders them
versions = STDIN.read.split("\n").map { |text| Gem::Version.new(text) }
versions.each_cons(2) { |before, after| puts(before <=> after) }
