package images

import (
	"fmt"
	"runtime"
	"strings"
)

// CheckPlatform checks a --platform value: OS[/ARCH[/VARIANT]] must be this machine's
// (linux and runtime.GOARCH; a variant is accepted as given), since hutch runs no
// emulation. flag names the flag in the error.
func CheckPlatform(flag, v string) error {
	if v == "" {
		return nil
	}
	here := "linux/" + runtime.GOARCH
	parts := strings.Split(v, "/")
	if len(parts) > 3 || parts[0] != "linux" || (len(parts) > 1 && parts[1] != runtime.GOARCH) {
		return fmt.Errorf("%s %s: this machine is %s, and hutch runs no emulation (no binfmt_misc/qemu-user): use an image built for %s, or leave --platform out", flag, v, here, here)
	}
	return nil
}
