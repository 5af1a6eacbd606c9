<?php
// Composer's own answers: each version normalized by composer/semver's VersionParser (or INVALID), then
// PHP's version_compare of each normalized version with the next (as Composer's constraints compare them)
require '/usr/share/php/Composer/Semver/autoload.php';
$parser = new Composer\Semver\VersionParser();
$normalized = array();
foreach (array_filter(explode("\n", stream_get_contents(STDIN)), 'strlen') as $version) {
    try { $normal = $parser->normalize($version); } catch (\Exception $e) { $normal = 'INVALID'; }
    $normalized[] = $normal;
    echo $normal, "\n";
}
echo "--\n";
for ($i = 1; $i < count($normalized); $i++) {
    echo version_compare($normalized[$i - 1], $normalized[$i]), "\n";
}
