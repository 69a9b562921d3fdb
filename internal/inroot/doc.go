// Package inroot works on a directory tree that stands for "/" — an image's or a
// container's root file system — through file descriptors, so that nothing in the tree
// can lead an operation outside it: not a symlink (absolute or relative), not a `..`,
// and not a directory swapped for a symlink while the work runs (the CVE-2018-15664
// class of race, where a container wins the window between a path being checked and
// being used).
//
// Two rules make that hold:
//
//   - A path is resolved once, by the kernel, relative to a handle on the root:
//     openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) follows every symlink as if the root
//     were "/", and `..` stops at it (Root.OpenFile, Root.MkdirAll, Root.FollowLeaf).
//     Kernels without openat2 (before 5.6), or a seccomp filter refusing it, fall back to
//     filepath-securejoin's pathrs-lite, which walks the path one component at a time
//     with the same result.
//   - Everything after that works on the descriptors it returned: entries are created,
//     opened, read and removed with the *at calls relative to a directory descriptor,
//     never following a symlink at the last component (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW,
//     O_EXCL), and modes and times are set on the entry's own descriptor (fchmod,
//     futimens), never through a path that could be walked again after a symlink was
//     planted on it.
//
// A process inside the tree that races an operation can still change what the
// operation reads or where inside the tree it writes — the tree is its own — but not
// make it touch anything outside; an entry that changes under an operation (a file
// that became a fifo, a directory that became a symlink) makes it fail with an error
// naming the entry.
//
// Copy copies a tree between two directory descriptors with these rules; `hutch cp`
// uses it in both directions, with a Root on the container's file system on one side
// and a Root on the host's "/" on the other. buildfs (COPY and ADD) uses Root and the
// primitives (MkdirOpen, Create, Lstat, RemoveAll, SetTimes …).
package inroot
