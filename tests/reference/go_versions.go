// Go's own answers (golang.org/x/mod/semver, as Debian's golang-golang-x-mod-dev ships it): for each line of
// standard input after the first, -1, 0 or 1 for the version before it against it (semver.Compare)
package main

import (
	"bufio"
	"fmt"
	"os"

	"golang.org/x/mod/semver"
)

func main() {
	lines := bufio.NewScanner(os.Stdin)
	previous, first := "", true
	for lines.Scan() {
		if !first {
			fmt.Println(semver.Compare(previous, lines.Text()))
		}
		previous, first = lines.Text(), false
	}
}
