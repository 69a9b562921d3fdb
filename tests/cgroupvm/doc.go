// Package cgroupvm proves hutch's resource limits on a real cgroup v2 kernel: its test
// (build tag cgroupvm, run as root) boots a Debian cloud kernel with cgroup_no_v1=all
// under qemu through cgvm.sh, runs the checks of ./guest there as uid 1000 with the real
// hutch binary and a delegated cgroup subtree, and fails unless every check ran and
// passed. See docs/cgroup-vm.md.
//
//	sudo tests/cgroupvm/cgvm.sh setup
//	sudo HUTCH_BIN=$PWD/bin/hutch go test -tags 'cgroupvm containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs' -count=1 -v ./tests/cgroupvm/
package cgroupvm
