package userns

import (
	"os"
	"os/exec"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/contract"
)

// HandFiles puts the files after the descriptors a command already passes and names
// their numbers; TakeFiles, in the started process, finds them there, marks them
// close-on-exec (nothing it starts inherits them) and clears the variable.
func TestHandAndTakeFiles(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	own := []*os.File{os.Stdin, os.Stdout}
	cmd := exec.Command("true")
	cmd.ExtraFiles = append([]*os.File(nil), own...)
	HandFiles(cmd, []*os.File{r, w})
	if len(cmd.ExtraFiles) != 4 || cmd.ExtraFiles[2] != r || cmd.ExtraFiles[3] != w {
		t.Fatalf("ExtraFiles after HandFiles: %v", cmd.ExtraFiles)
	}
	if got := cmd.Env[len(cmd.Env)-1]; got != contract.Files+"=5,6" {
		t.Fatalf("HandFiles named %q, want the descriptors 5,6 (3 and 4 are the command's own)", got)
	}

	// The started process: the descriptors arrive without close-on-exec, as exec leaves
	// them; here, duplicates of the pipe's ends.
	rd, err := unix.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	wd, err := unix.Dup(int(w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(contract.Files, strconv.Itoa(rd)+","+strconv.Itoa(wd))
	files, err := TakeFiles()
	if err != nil || len(files) != 2 {
		t.Fatalf("TakeFiles: %v, %v", files, err)
	}
	defer files[0].Close()
	defer files[1].Close()
	if _, still := os.LookupEnv(contract.Files); still {
		t.Fatalf("%s is still in the environment", contract.Files)
	}
	for _, f := range files {
		if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
			t.Fatalf("descriptor %d taken without close-on-exec (%v)", f.Fd(), err)
		}
	}
	if _, err := files[1].Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if n, err := files[0].Read(b); n != 1 || b[0] != 'x' {
		t.Fatalf("the handed pipe: read %q, %v", b[:n], err)
	}
	// Nothing handed: nothing taken. A descriptor below 3 is refused.
	if files, err := TakeFiles(); files != nil || err != nil {
		t.Fatalf("TakeFiles without %s: %v, %v", contract.Files, files, err)
	}
	t.Setenv(contract.Files, "1")
	if _, err := TakeFiles(); err == nil {
		t.Fatalf("TakeFiles took standard output as a handed file")
	}
}
