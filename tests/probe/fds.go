package main

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// fds lists the process's open file descriptors and what each one is, as
// /proc/self/fd/N names it: "fds N: TARGET", one line each. It reads the links one by one
// (no directory is opened, and nothing of Go's that would open a descriptor of its own
// is used), so that the list is exactly what the process inherited.
func init() {
	probes["fds"] = func(args []string) int {
		out := ""
		buf := make([]byte, 4096)
		for fd := 0; fd < 65536; fd++ {
			n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf)
			if err != nil {
				continue
			}
			out += fmt.Sprintf("fds %d: %s\n", fd, buf[:n])
		}
		b := []byte(out)
		for len(b) > 0 {
			n, err := unix.Write(1, b)
			if err != nil {
				return 1
			}
			b = b[n:]
		}
		return 0
	}
}
