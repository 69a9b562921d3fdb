package main

import (
	"fmt"
	"strings"
)

// echo prints its arguments: the tests use it to check that the probe image runs.
func init() {
	probes["echo"] = func(args []string) int {
		fmt.Println(strings.Join(args, " "))
		return 0
	}
}
