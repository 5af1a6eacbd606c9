// npm's own answers (Debian's node-semver, the semver package npm uses): for each line of standard input
// after the first, -1, 0 or 1 for the version before it against it (semver.compare)
const semver = require("semver");
const versions = require("fs").readFileSync(0, "utf8").split("\n");
for (let i = 1; i < versions.length; i++) console.log(semver.compare(versions[i - 1], versions[i]));
