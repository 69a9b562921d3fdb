package buildfs

import "golang.org/x/sys/unix"

const unixENOTDIR = unix.ENOTDIR
