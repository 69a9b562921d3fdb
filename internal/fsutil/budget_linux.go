package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Limits of what one layer or archive entry may be, whatever space is free: a name
// longer than PATH_MAX cannot be made by any path-based system call, and every level of
// a path costs each later entry below it a lookup (4096 nested directories took the
// store's unpacker five minutes before it failed).
const (
	MaxEntryName  = 4096 // bytes
	MaxEntryDepth = 512  // directories
)

// Budget bounds what one command may unpack into a file system (load, pull, import,
// build ADD): what the user may still write there when the command starts, less a
// reserve of min(1 GiB, 5% of the file system), in bytes and in inodes alike. A
// decompression bomb, or a sparse file of a terabyte, is refused when its header says
// how big it is, naming it, instead of filling a disk other users share. The nil
// *Budget allows everything.
type Budget struct {
	Dir string // the directory whose file system it measures

	mu           sync.Mutex
	bytes, files int64 // what is left
	total        int64 // bytes the budget started with
}

// NewBudget measures the file system of dir (or of its nearest existing parent).
func NewBudget(dir string) (*Budget, error) {
	p := dir
	var st unix.Statfs_t
	for {
		err := unix.Statfs(p, &st)
		if err == nil {
			break
		}
		if parent := filepath.Dir(p); parent != p && errors.Is(err, fs.ErrNotExist) {
			p = parent
			continue
		}
		return nil, fmt.Errorf("measuring the free space of %s: %w", dir, err)
	}
	size := int64(st.Blocks) * st.Bsize
	free := int64(st.Bavail) * st.Bsize
	reserve := min(1<<30, size/20)
	files := int64(st.Ffree)
	fileReserve := min(100_000, int64(st.Files)/20)
	b := &Budget{Dir: dir, bytes: max(free-reserve, 0), files: max(files-fileReserve, 0)}
	if st.Files == 0 { // no inode limit (btrfs and others report none)
		b.files = 1 << 62
	}
	b.total = b.bytes
	return b, nil
}

// FixedBudget is a budget of the given bytes and files, whatever is free (for tests).
func FixedBudget(dir string, bytes, files int64) *Budget {
	return &Budget{Dir: dir, bytes: bytes, files: files, total: bytes}
}

// Take accounts for n more bytes and files, and says false (taking nothing) when they
// do not fit.
func (b *Budget) Take(n, files int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.bytes || files > b.files {
		return false
	}
	b.bytes -= n
	b.files -= files
	return true
}

// Error describes an entry that does not fit: what (an archive, a layer), the entry,
// its size, and what was left.
func (b *Budget) Error(what, entry string, size int64) error {
	left, files := int64(0), int64(0)
	if b != nil {
		b.mu.Lock()
		left, files = b.bytes, b.files
		b.mu.Unlock()
	}
	if b != nil && b.total == 0 {
		// Nothing was free to begin with: not a bomb, a full disk. ENOSPC lets the
		// caller name the file system and its free space (diskspace.Explain).
		return fmt.Errorf("%s: unpacking into %s: %w", what, b.Dir, unix.ENOSPC)
	}
	if files == 0 {
		return fmt.Errorf("%s: entry %q does not fit: the file system of %s has no more free inodes than hutch keeps in reserve for everyone else: free some, or set [storage] graphroot to a larger file system", what, entry, b.Dir)
	}
	subject := fmt.Sprintf("entry %q expands to %s, more than the %s still free for it", Short(entry), human(size), human(left))
	if entry == "" { // a stream, refused part way: say what it had when it started
		subject = fmt.Sprintf("it expands to more than the %s free for it", human(b.total))
	}
	return fmt.Errorf("%s: %s in the file system of %s "+
		"(hutch leaves min(1 GiB, 5%%) of it free for everyone else): a decompression bomb, or an image too big for this disk: "+
		"free some space (`hutch system prune`), or set [storage] graphroot to a larger file system", what, subject, b.Dir)
}

// Short keeps a long entry name readable in a message.
func Short(name string) string {
	if len(name) > 120 {
		return name[:100] + "…(" + fmt.Sprint(len(name)) + " bytes)"
	}
	return name
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// CheckEntryShape refuses an archive entry name longer than MaxEntryName or deeper than
// MaxEntryDepth, naming it.
func CheckEntryShape(name string) error {
	if len(name) > MaxEntryName {
		return fmt.Errorf("entry %q has a name of %d bytes, more than the %d a path may have", Short(name), len(name), MaxEntryName)
	}
	depth := 0
	for i := 0; i < len(name); i++ {
		if name[i] == '/' && i+1 < len(name) {
			depth++
		}
	}
	if depth > MaxEntryDepth {
		return fmt.Errorf("entry %q is %d directories deep, more than the %d hutch unpacks (each level costs every entry below it a lookup)", Short(name), depth, MaxEntryDepth)
	}
	return nil
}

// Writer is w within the budget: a write that does not fit fails, naming what is
// written (the budget's Error).
func (b *Budget) Writer(w io.Writer, what string) io.Writer {
	return &budgetWriter{b: b, w: w, what: what}
}

type budgetWriter struct {
	b     *Budget
	w     io.Writer
	what  string
	total int64
}

func (bw *budgetWriter) Write(p []byte) (int, error) {
	bw.total += int64(len(p))
	if !bw.b.Take(int64(len(p)), 0) {
		return 0, bw.b.Error(bw.what, "", bw.total)
	}
	return bw.w.Write(p)
}
