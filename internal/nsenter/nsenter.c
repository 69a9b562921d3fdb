// Joining the namespaces of a running container must happen before the Go runtime
// starts threads: setns(CLONE_NEWUSER) and setns(CLONE_NEWNS) fail in a multithreaded
// process. This constructor runs first, in every hutch process, and does nothing unless
// HUTCH_ENV_NSENTER_PID is set (the names are in internal/contract/contract.h). It then
// joins the namespaces named by HUTCH_ENV_NSENTER_FLAGS of that process (through a
// pidfd, all at once) and, when HUTCH_ENV_NSENTER_FORK is "1", forks so that the child
// is inside the joined pid namespace. The parent never enters Go: a process whose
// children go to another pid namespace cannot create threads, so it stays here as a
// small relay that forwards signals to the child and exits with its status (at once
// with HUTCH_ENV_NSENTER_DETACH "1"). Go's side (nsenter_linux.go) reads the outcome
// from HUTCH_ENV_NSENTER_ROLE and HUTCH_ENV_NSENTER_ERROR.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "contract.h"

static void fail(const char *what, int err)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s: %s", what, strerror(err));
	setenv(HUTCH_ENV_NSENTER_ERROR, buf, 1);
}

static pid_t relay_child;

static void relay_signal(int sig)
{
	kill(relay_child, sig);
}

// relay waits for the child, passing on every signal it can catch; it never returns.
static void relay(pid_t child, int detach)
{
	if (detach)
		_exit(0);
	close(3); /* the exec status pipe belongs to the child */
	relay_child = child;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = relay_signal;
	sa.sa_flags = SA_RESTART;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD)
			continue;
		sigaction(sig, &sa, NULL);
	}
	int status;
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			_exit(125);
	}
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

__attribute__((constructor)) static void hutch_nsenter(void)
{
	const char *pid_s = getenv(HUTCH_ENV_NSENTER_PID);
	if (pid_s == NULL)
		return;
	const char *flags_s = getenv(HUTCH_ENV_NSENTER_FLAGS);
	const char *fork_s = getenv(HUTCH_ENV_NSENTER_FORK);
	int pid = atoi(pid_s);
	int flags = flags_s ? atoi(flags_s) : 0;
	int do_fork = fork_s && strcmp(fork_s, "1") == 0;
	const char *detach_s = getenv(HUTCH_ENV_NSENTER_DETACH);
	int detach = detach_s && strcmp(detach_s, "1") == 0;
	unsetenv(HUTCH_ENV_NSENTER_DETACH);
	unsetenv(HUTCH_ENV_NSENTER_PID);
	unsetenv(HUTCH_ENV_NSENTER_FLAGS);
	unsetenv(HUTCH_ENV_NSENTER_FORK);

	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		fail("pidfd_open", errno);
		return;
	}
	if (setns(pidfd, flags) < 0) {
		fail("setns", errno);
		close(pidfd);
		return;
	}
	close(pidfd);
	if (!do_fork) {
		setenv(HUTCH_ENV_NSENTER_ROLE, "joined", 1);
		return;
	}
	pid_t child = fork();
	if (child < 0) {
		fail("fork", errno);
		return;
	}
	if (child == 0) {
		setenv(HUTCH_ENV_NSENTER_ROLE, "child", 1);
		return;
	}
	relay(child, detach);
}

// A container's processes (its init, hutch-init, and every exec, hutch-exec) start
// with every signal at its default action and none blocked, whatever hutch was started
// with: nohup, for one, ignores SIGHUP, an ignored signal stays ignored through execve,
// and a shell may not trap a signal ignored when it started, so a container's trap
// would silently never run (`stop --stop-signal HUP` then waits out its timeout).
__attribute__((constructor)) static void hutch_default_signals(int argc, char **argv)
{
	if (argc < 1 || argv == NULL || argv[0] == NULL ||
	    (strcmp(argv[0], "hutch-init") != 0 && strcmp(argv[0], "hutch-exec") != 0))
		return;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction old;
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			signal(sig, SIG_DFL);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

// Entering a new user namespace (every hutch command that touches the store): with
// HUTCH_ENV_USERNS_NEW set, the constructor unshares a user and a mount namespace,
// tells the parent on fd HUTCH_ENV_USERNS_READY (one byte), and waits on fd
// HUTCH_ENV_USERNS_GO for the parent to have written the id maps ("g"; anything else
// aborts). The Go runtime then starts as root in the namespace, with no second exec.
__attribute__((constructor)) static void hutch_userns_new(void)
{
	if (getenv(HUTCH_ENV_USERNS_NEW) == NULL)
		return;
	const char *r = getenv(HUTCH_ENV_USERNS_READY);
	const char *g = getenv(HUTCH_ENV_USERNS_GO);
	int ready = r ? atoi(r) : -1, go = g ? atoi(g) : -1;
	unsetenv(HUTCH_ENV_USERNS_NEW);
	unsetenv(HUTCH_ENV_USERNS_READY);
	unsetenv(HUTCH_ENV_USERNS_GO);
	if (ready < 0 || go < 0)
		_exit(125);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		char msg[256];
		int n = snprintf(msg, sizeof(msg), "E%s", strerror(errno));
		if (write(ready, msg, (size_t)n) < 0) {
			/* the parent reports the failure either way */
		}
		_exit(125);
	}
	if (write(ready, "1", 1) != 1)
		_exit(125);
	close(ready);
	char c = 0;
	if (read(go, &c, 1) != 1 || c != 'g')
		_exit(125);
	close(go);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		_exit(125);
}
