package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// deep makes or reads a chain of N directories called NAME below DIR, with a file leaf
// at the bottom, by descriptor: deeper than PATH_MAX, where a shell's cd (which builds
// the whole path) fails. "make" writes TEXT into the leaf; "read" prints the leaf.
//
//	probe deep make DIR N NAME TEXT
//	probe deep read DIR N NAME
func init() {
	probes["deep"] = func(args []string) int {
		if len(args) < 4 || (args[0] == "make") != (len(args) == 5) || (args[0] != "make" && args[0] != "read") {
			fmt.Fprintln(os.Stderr, "usage: probe deep make DIR N NAME TEXT | probe deep read DIR N NAME")
			return 2
		}
		n, err := strconv.Atoi(args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "deep:", err)
			return 2
		}
		mk := args[0] == "make"
		fd, err := unix.Open(args[1], unix.O_PATH|unix.O_DIRECTORY, 0)
		for i := 0; err == nil && i < n; i++ {
			if mk {
				if err = unix.Mkdirat(fd, args[3], 0o755); err != nil {
					break
				}
			}
			var next int
			next, err = unix.Openat(fd, args[3], unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
			unix.Close(fd)
			fd = next
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "deep:", err)
			return 1
		}
		if mk {
			lf, err := unix.Openat(fd, "leaf", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
			if err == nil {
				_, err = unix.Write(lf, []byte(args[4]+"\n"))
				unix.Close(lf)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "deep: leaf:", err)
				return 1
			}
			return 0
		}
		lf, err := unix.Openat(fd, "leaf", unix.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "deep: leaf:", err)
			return 1
		}
		b := make([]byte, 4096)
		k, _ := unix.Read(lf, b)
		os.Stdout.Write(b[:max(k, 0)])
		return 0
	}
}
