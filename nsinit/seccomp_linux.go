package nsinit

import "hutch.dev/hutch/security"

// loadSeccomp installs the spec's seccomp filter at one of the two moments runc uses,
// called at both; it acts at the one that fits (afterIdentity says which call this is):
//
//   - without no_new_privs, installing a filter needs CAP_SYS_ADMIN in the user
//     namespace, which the container's capability set lacks, and which a non-root user
//     loses with setresuid: so before setupIdentity, while the init (or the exec'd
//     process, just joined to the container's user namespace) still holds every
//     capability. The filter then also covers the few syscalls of setupIdentity, which
//     Docker's profile allows (capset, prctl, setgroups, setres[ug]id).
//   - with no_new_privs (set at the end of setupIdentity), as late as possible: after
//     the identity and the parent-death signal, just before execve.
//
// The filter is synchronised to every thread (TSYNC) and inherited across execve and
// fork: with --init, the reaper and the command it starts both run under it.
func loadSeccomp(spec *Spec, afterIdentity bool) error {
	if len(spec.Seccomp) == 0 || spec.NoNewPrivileges != afterIdentity {
		return nil
	}
	return security.Install(spec.Seccomp, spec.SeccompFlags)
}
