// Package guest holds the checks that run INSIDE the cgroup v2 VM (tests/cgroupvm/cgvm.sh)
// as the unprivileged user uid 1000, driving the real hutch binary against the kernel's
// own cgroup files. They are compiled only with the build tag cgroupvm, statically:
//
//	CGO_ENABLED=0 go test -c -tags cgroupvm -o cgvm-checks ./tests/cgroupvm/guest
//
// and started by the host-side test in tests/cgroupvm, which boots the VM and checks that
// every one of them ran and passed. Run anywhere else they refuse to start.
package guest
