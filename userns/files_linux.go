package userns

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/contract"
)

// HandFiles gives the hutch that cmd starts files, after the descriptors cmd already
// passes, and names their numbers in contract.Files, so that TakeFiles finds them.
func HandFiles(cmd *exec.Cmd, files []*os.File) {
	if len(files) == 0 {
		return
	}
	nums := make([]string, len(files))
	for i, f := range files {
		nums[i] = strconv.Itoa(3 + len(cmd.ExtraFiles))
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	cmd.Env = append(cmd.Env, contract.Files+"="+strings.Join(nums, ","))
}

// TakeFiles returns the files the process that started this one handed it (HandFiles),
// in order, and removes contract.Files from the environment. They are marked
// close-on-exec at once: nothing this process starts inherits them.
func TakeFiles() ([]*os.File, error) {
	v, ok := os.LookupEnv(contract.Files)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(contract.Files)
	var files []*os.File
	for _, n := range strings.Split(v, ",") {
		fd, err := strconv.Atoi(n)
		if err == nil && fd < 3 {
			err = fmt.Errorf("descriptor %d is not a handed one", fd)
		}
		if err == nil {
			_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("internal error: bad %s=%q: %w", contract.Files, v, err)
		}
		files = append(files, os.NewFile(uintptr(fd), "handed descriptor "+n))
	}
	return files, nil
}
