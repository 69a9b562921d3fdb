// The keeper of a detached `exec -it`'s terminal (container/attach_linux.go,
// drainTerminal): with HUTCH_ENV_DRAIN naming the terminal's master, this constructor
// reads it, dropping what it reads, until the terminal's last user closes it (the read
// fails with EIO), and exits, before the Go runtime starts: the command runs on with
// its terminal open and its output never blocked, for the memory of a small C program.
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "contract.h"

__attribute__((constructor)) static void hutch_drain(void)
{
	const char *v = getenv(HUTCH_ENV_DRAIN);
	if (v == NULL)
		return;
	prctl(PR_SET_NAME, "hutch-drain", 0, 0, 0);
	int fd = atoi(v);
	if (fd < 3)
		_exit(125);
	char buf[4096];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
	}
}
