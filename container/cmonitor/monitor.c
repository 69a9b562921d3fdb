// The long-lived half of a detached container's monitor. The Go monitor mounts the
// container's root, starts its init and then executes the hutch binary again with
// HUTCH_ENV_CMONITOR set (the names are in internal/contract/contract.h): this
// constructor takes over before the Go runtime starts, so the process that waits for
// the container (and keeps its mount namespace alive) costs about as much memory as a
// small C program, not a Go one. It copies the container's output
// into its log, in the log driver's line format (log_line; container/logfile.go reads
// it), feeds a terminal from the stdin FIFO, and
// when the init exits it executes hutch once more to record the exit and clean up:
//   hutch-monitor ID exited STATUS
// With a healthcheck (HUTCH_ENV_CM_HEALTH), a timerfd in the same poll loop starts one
// probe at a time, as a child that executes hutch as `hutch-health ID`: the Go
// probe (container/health_linux.go) runs the check through launch.Exec, records the
// result and acts on an unhealthy container. Between probes this process holds nothing
// more than the timer.
// A terminal container's monitor also serves attach clients (`run -it`, `attach`,
// `start -ai`; container/attach_linux.go) on a SOCK_SEQPACKET socket: each client is
// sent the terminal's master first ('m', with SCM_RIGHTS: the client writes its input
// there and sets the window size on it), then every read of the terminal ('o' + bytes),
// and at the end the container's exit status ('x' + decimal). A client leaves (detaches)
// by closing its end; the output goes on into the log.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "contract.h"

#define CHUNK 32768

struct stream {
	int fd;
	const char *name;
	char buf[2 * CHUNK];
	size_t len;
};

static int log_fd = -1;

static int env_int(const char *k)
{
	const char *v = getenv(k);
	return v ? atoi(v) : -1;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

// The log's format and rotation (container/logfile.go writes the same lines for a
// container run in the foreground): json-file is Docker's
// {"log":"text\n","stream":"stdout","time":"RFC 3339"}, k8s-file Podman's
// "TIME stdout F text" (P for a partial line), none writes nothing.
enum { FMT_JSON, FMT_K8S, FMT_NONE };
static int log_fmt = FMT_JSON;
static const char *log_path;
static long long log_max, log_size;
static int log_files = 1;

// rotate shifts PATH.N-2 … PATH.1, PATH to PATH.N-1 … PATH.2, PATH.1 and starts an
// empty PATH (with one file, PATH is emptied), as Docker's json-file does.
static void rotate(void)
{
	char from[4096], to[4096];
	if (log_files > 1) {
		for (int i = log_files - 1; i > 1; i--) {
			snprintf(from, sizeof(from), "%s.%d", log_path, i - 1);
			snprintf(to, sizeof(to), "%s.%d", log_path, i);
			rename(from, to);
		}
		snprintf(to, sizeof(to), "%s.1", log_path);
		if (rename(log_path, to) < 0)
			return;
		int fd = open(log_path, O_CREAT | O_WRONLY | O_APPEND, 0600);
		if (fd < 0)
			return;
		dup2(fd, log_fd);
		close(fd);
	} else if (ftruncate(log_fd, 0) < 0) {
		return;
	}
	log_size = 0;
}

static size_t escape_json(char *out, const char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		switch (c) {
		case '"': out[o++] = '\\'; out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; out[o++] = '\\'; break;
		case '\n': out[o++] = '\\'; out[o++] = 'n'; break;
		case '\r': out[o++] = '\\'; out[o++] = 'r'; break;
		case '\t': out[o++] = '\\'; out[o++] = 't'; break;
		default:
			if (c < 0x20)
				o += (size_t)sprintf(out + o, "\\u%04x", c);
			else
				out[o++] = (char)c;
		}
	}
	return o;
}

// log_line writes one log entry, stamped with the time now, rotating the log first
// when the entry would take it past its size.
static void log_line(const char *stream, const char *p, size_t n)
{
	static char out[6 * 2 * CHUNK + 128];
	if (log_fmt == FMT_NONE)
		return;
	struct timespec ts;
	struct tm tm;
	char stamp[64];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t sl = strftime(stamp, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + sl, sizeof(stamp) - sl, ".%09ldZ", ts.tv_nsec);
	size_t o = 0;
	if (log_fmt == FMT_K8S) {
		int full = n > 0 && p[n - 1] == '\n';
		o += (size_t)snprintf(out, 128, "%s %s %s ", stamp, stream, full ? "F" : "P");
		memcpy(out + o, p, n - (size_t)full);
		o += n - (size_t)full;
		out[o++] = '\n';
	} else {
		o += (size_t)snprintf(out, 64, "{\"log\":\"");
		o += escape_json(out + o, p, n);
		o += (size_t)snprintf(out + o, 128, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, stamp);
	}
	if (log_max > 0 && log_path != NULL && log_size > 0 && log_size + (long long)o > log_max)
		rotate();
	write_all(log_fd, out, o);
	log_size += (long long)o;
}

// drain logs every complete line in s; with flush, the rest too.
static void drain(struct stream *s, int flush)
{
	size_t start = 0;
	for (size_t i = 0; i < s->len; i++) {
		if (s->buf[i] == '\n') {
			log_line(s->name, s->buf + start, i + 1 - start);
			start = i + 1;
		}
	}
	if (start < s->len && (flush || s->len - start >= CHUNK)) {
		log_line(s->name, s->buf + start, s->len - start);
		start = s->len;
	}
	memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
}

// The attach clients, and the message buffer they are sent from.
#define MAX_CLIENTS 16
static int clients[MAX_CLIENTS];
static int nclients;
static char msg[CHUNK + 1];

static void drop_client(int i)
{
	close(clients[i]);
	clients[i] = clients[--nclients];
}

// add_client takes a connected client: it is sent the terminal's master first. A
// client that cannot be sent to in 10 seconds (stopped, not reading) is dropped rather
// than hold the container's output back for ever.
static void add_client(int fd, int term_fd)
{
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (nclients == MAX_CLIENTS || term_fd < 0) {
		close(fd);
		return;
	}
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char m = 'm';
	struct iovec iov = {.iov_base = &m, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &term_fd, sizeof(int));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != 1) {
		close(fd);
		return;
	}
	clients[nclients++] = fd;
}

// broadcast sends one message (kind, then p) to every client; a client gone is dropped.
static void broadcast(char kind, const char *p, size_t n)
{
	if (nclients == 0)
		return;
	msg[0] = kind;
	memcpy(msg + 1, p, n);
	for (int i = nclients - 1; i >= 0; i--) {
		ssize_t w;
		do
			w = send(clients[i], msg, n + 1, MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0)
			drop_client(i);
	}
}

// pump reads what is there; it returns 0 at end of file. A terminal's reads go to the
// attach clients as they come (tty: the stream is the terminal).
static int pump(struct stream *s, int tty)
{
	ssize_t n = read(s->fd, s->buf + s->len, CHUNK);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0) {
		drain(s, 1);
		return 0;
	}
	if (tty)
		broadcast('o', s->buf + s->len, (size_t)n);
	s->len += (size_t)n;
	drain(s, 0);
	return 1;
}

// The healthcheck's schedule (milliseconds; interval 0: none) and its one probe.
static struct {
	long interval, timeout, start_period, start_interval;
	struct timespec began;
	pid_t probe;
	int tfd;
} health = {.tfd = -1};

static long since_ms(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void arm(long ms)
{
	struct itimerspec its = {0};
	if (ms < 1)
		ms = 1;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (ms % 1000) * 1000000;
	timerfd_settime(health.tfd, 0, &its, NULL);
}

// arm_next schedules the next probe: every start interval during the start period,
// every interval after it.
static void arm_next(void)
{
	if (health.start_interval > 0 && since_ms(&health.began) < health.start_period)
		arm(health.start_interval);
	else
		arm(health.interval);
}

static const char *cm_vars[] = {HUTCH_ENV_CMONITOR, HUTCH_ENV_CM_ID, HUTCH_ENV_CM_PID, HUTCH_ENV_CM_OUT,
	HUTCH_ENV_CM_ERR, HUTCH_ENV_CM_IN, HUTCH_ENV_CM_TERM, HUTCH_ENV_CM_LOG, HUTCH_ENV_CM_LOG_FORMAT,
	HUTCH_ENV_CM_LOG_PATH, HUTCH_ENV_CM_LOG_MAX, HUTCH_ENV_CM_LOG_FILES, HUTCH_ENV_CM_NETFD,
	HUTCH_ENV_CM_SLIRP, HUTCH_ENV_CM_PORTS, HUTCH_ENV_CM_HEALTH, HUTCH_ENV_CM_ATTACH, HUTCH_ENV_CM_CLIENT};

// start_probe forks the probe: hutch executed as `hutch-health ID`, with
// none of this process's descriptors or variables, dying with it (a killed monitor's
// probe does not outlive it). The timer becomes the probe's deadline: its own
// timeout, and some slack for starting hutch.
static void start_probe(const char *id, const int *fds, size_t nfds)
{
	pid_t parent = getpid();
	pid_t p = fork();
	if (p < 0) {
		arm_next();
		return;
	}
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(125);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		for (size_t i = 0; i < nfds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		for (size_t i = 0; i < sizeof(cm_vars) / sizeof(cm_vars[0]); i++)
			unsetenv(cm_vars[i]);
		char idbuf[128];
		snprintf(idbuf, sizeof(idbuf), "%s", id);
		char *argv[] = {"hutch-health", idbuf, NULL};
		execv("/proc/self/exe", argv);
		_exit(125);
	}
	health.probe = p;
	arm(health.timeout + 30000);
}

// keeps_network tells whether the init (not yet reaped) still has its network namespace:
// an init that is exiting drops its namespaces first, and only then is the namespace torn
// down, which ends slirp4netns; so slirp4netns may be reaped before the init is a zombie,
// and its end is then no news (network/attach_linux.go's keepsNetwork does the same).
static int keeps_network(pid_t init)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)init);
	return readlink(path, link, sizeof(link)) > 0;
}

__attribute__((constructor)) static void hutch_cmonitor(void)
{
	if (getenv(HUTCH_ENV_CMONITOR) == NULL)
		return;
	// Executed as /proc/self/exe, the process would be called "exe" in ps -o comm.
	prctl(PR_SET_NAME, "hutch-monitor", 0, 0, 0);
	const char *id = getenv(HUTCH_ENV_CM_ID);
	pid_t init = (pid_t)env_int(HUTCH_ENV_CM_PID);
	static struct stream out, err;
	out.fd = env_int(HUTCH_ENV_CM_OUT);
	out.name = "stdout";
	err.fd = env_int(HUTCH_ENV_CM_ERR);
	err.name = "stderr";
	int in_fd = env_int(HUTCH_ENV_CM_IN);    // stdin FIFO to copy to a terminal, or -1
	int term_fd = env_int(HUTCH_ENV_CM_TERM); // the terminal's master, or -1
	int attach_fd = env_int(HUTCH_ENV_CM_ATTACH); // the listening attach socket, or -1
	if (attach_fd >= 0)
		fcntl(attach_fd, F_SETFD, FD_CLOEXEC);
	if (env_int(HUTCH_ENV_CM_CLIENT) >= 0)
		add_client(env_int(HUTCH_ENV_CM_CLIENT), term_fd);
	log_fd = env_int(HUTCH_ENV_CM_LOG);
	if (id == NULL || init <= 0 || log_fd < 0)
		_exit(125);
	const char *fmt = getenv(HUTCH_ENV_CM_LOG_FORMAT);
	if (fmt != NULL && strcmp(fmt, "k8s-file") == 0)
		log_fmt = FMT_K8S;
	else if (fmt != NULL && strcmp(fmt, "none") == 0)
		log_fmt = FMT_NONE;
	log_path = getenv(HUTCH_ENV_CM_LOG_PATH);
	if (getenv(HUTCH_ENV_CM_LOG_MAX) != NULL)
		log_max = atoll(getenv(HUTCH_ENV_CM_LOG_MAX));
	if (env_int(HUTCH_ENV_CM_LOG_FILES) > 0)
		log_files = env_int(HUTCH_ENV_CM_LOG_FILES);
	{
		off_t end = lseek(log_fd, 0, SEEK_END);
		log_size = end > 0 ? (long long)end : 0;
	}
	// The container's network (network/attach_linux.go): slirp4netns and the port
	// forwarder end when this descriptor closes, i.e. when this process executes hutch
	// again at the container's end, or dies. If either ends before the container, the
	// log says so.
	int net_fd = env_int(HUTCH_ENV_CM_NETFD);
	if (net_fd >= 0)
		fcntl(net_fd, F_SETFD, FD_CLOEXEC);
	pid_t slirp = (pid_t)env_int(HUTCH_ENV_CM_SLIRP);
	pid_t ports = (pid_t)env_int(HUTCH_ENV_CM_PORTS);
	char idbuf[128];
	snprintf(idbuf, sizeof(idbuf), "%s", id);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	const char *hs = getenv(HUTCH_ENV_CM_HEALTH);
	if (hs != NULL && sscanf(hs, "%ld:%ld:%ld:%ld", &health.interval, &health.timeout, &health.start_period,
				 &health.start_interval) == 4 && health.interval > 0) {
		health.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		clock_gettime(CLOCK_MONOTONIC, &health.began);
		if (health.tfd >= 0)
			arm_next();
	}

	int status = 0, exited = 0;
	// The init may have ended before SIGCHLD was blocked here (while the Go half was
	// still running, or during the exec): that SIGCHLD is gone, so look once now.
	{
		int st;
		pid_t r;
		while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
			if (r == init) {
				status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
				exited = 1;
			}
		}
	}
	for (;;) {
		struct pollfd p[6 + MAX_CLIENTS];
		int n = 0, iout = -1, ierr = -1, iin = -1, itimer = -1, iattach = -1, iclients = -1;
		p[n].fd = sfd;
		p[n++].events = POLLIN;
		if (out.fd >= 0) {
			iout = n;
			p[n].fd = out.fd;
			p[n++].events = POLLIN;
		}
		if (err.fd >= 0) {
			ierr = n;
			p[n].fd = err.fd;
			p[n++].events = POLLIN;
		}
		if (in_fd >= 0 && term_fd >= 0) {
			iin = n;
			p[n].fd = in_fd;
			p[n++].events = POLLIN;
		}
		if (health.tfd >= 0 && !exited) {
			itimer = n;
			p[n].fd = health.tfd;
			p[n++].events = POLLIN;
		}
		if (attach_fd >= 0 && !exited) {
			iattach = n;
			p[n].fd = attach_fd;
			p[n++].events = POLLIN;
		}
		iclients = n;
		for (int i = 0; i < nclients; i++) {
			p[n].fd = clients[i];
			p[n++].events = POLLIN;
		}
		if (exited && out.fd < 0 && err.fd < 0)
			break;
		// Once the init is gone, whatever is left in the pipes is read, but no process
		// of a dead pid namespace can keep them open for long.
		if (poll(p, (nfds_t)n, exited ? 200 : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (exited && p[0].revents == 0 && (iout < 0 || p[iout].revents == 0) && (ierr < 0 || p[ierr].revents == 0))
			break;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) < 0) {
				/* nothing */
			}
			int st;
			pid_t r;
			while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
				if (r == init) {
					status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
					exited = 1;
				} else if (r == health.probe) {
					health.probe = 0;
					if (!exited)
						arm_next();
				} else if (!exited && r > 0 && (r == slirp || r == ports) && (r != slirp || keeps_network(init))) {
					char msg[256];
					int len = snprintf(msg, sizeof(msg),
						"hutch: %s (pid %d) ended unexpectedly (%s %d): the container has %s; restart it to reconnect\n",
						r == slirp ? "slirp4netns" : "the port forwarder hutch-port", (int)r,
						WIFSIGNALED(st) ? "signal" : "exit status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
						r == slirp ? "no network any more" : "no published ports any more");
					log_line("stderr", msg, (size_t)len);
					if (r == slirp)
						slirp = 0;
					else
						ports = 0;
				}
			}
		}
		if (iout >= 0 && (p[iout].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(&out, term_fd >= 0)) {
			close(out.fd);
			out.fd = -1;
		}
		if (ierr >= 0 && (p[ierr].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(&err, 0)) {
			close(err.fd);
			err.fd = -1;
		}
		if (itimer >= 0 && (p[itimer].revents & POLLIN) && !exited) {
			uint64_t ticks;
			if (read(health.tfd, &ticks, sizeof(ticks)) < 0) {
				/* nothing */
			}
			if (health.probe > 0) {
				// Past its deadline: ended, and reaped above like any probe.
				kill(health.probe, SIGKILL);
			} else {
				int fds[] = {log_fd, in_fd, term_fd, out.fd, err.fd, net_fd};
				start_probe(idbuf, fds, sizeof(fds) / sizeof(fds[0]));
			}
		}
		// A client says nothing: anything it sends is read and dropped, and its hang-up
		// (a detach) drops it. Clients are looked at last and backwards, as broadcast
		// above may have dropped some (then the poll's slots no longer match).
		for (int i = iclients + nclients - 1; i >= iclients && nclients > 0; i--) {
			int c = i - iclients;
			if (c >= nclients || clients[c] != p[i].fd || p[i].revents == 0)
				continue;
			char b[256];
			ssize_t r = recv(clients[c], b, sizeof(b), MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				drop_client(c);
		}
		if (iattach >= 0 && (p[iattach].revents & POLLIN)) {
			int fd = accept4(attach_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				add_client(fd, term_fd);
		}
		if (iin >= 0 && (p[iin].revents & POLLIN)) {
			char b[4096];
			ssize_t r = read(in_fd, b, sizeof(b));
			if (r > 0)
				write_all(term_fd, b, (size_t)r);
		}
	}
	// A probe still running is of a container that is gone: it ends here, before the
	// exit is recorded (it would record a failure of the next run, or act on it).
	if (health.probe > 0) {
		kill(health.probe, SIGKILL);
		waitpid(health.probe, NULL, 0);
		health.probe = 0;
	}
	if (health.tfd >= 0)
		close(health.tfd);
	if (out.len)
		drain(&out, 1);
	if (err.len)
		drain(&err, 1);
	char code[16];
	snprintf(code, sizeof(code), "%d", status);
	// The attach clients hear the status (before the exit is recorded: `run -it` waits
	// for this process to end for that) and are let go.
	broadcast('x', code, strlen(code));
	while (nclients > 0)
		drop_client(nclients - 1);
	if (attach_fd >= 0)
		close(attach_fd);
	// The Go half hands a restarted container over with fresh variables appended to
	// this environment: none of these may survive, or getenv would find the stale ones
	// first (the old init's pid, the old descriptors). Nor do the old descriptors.
	for (size_t i = 0; i < sizeof(cm_vars) / sizeof(cm_vars[0]); i++)
		unsetenv(cm_vars[i]);
	int fds[] = {log_fd, in_fd, term_fd, out.fd, err.fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	// The Go half waits for the network's processes to end before it records the exit,
	// so that a stopped container's ports are free again.
	if (slirp > 0 || ports > 0) {
		char pids[64];
		snprintf(pids, sizeof(pids), "%d,%d", (int)slirp, (int)ports);
		setenv(HUTCH_ENV_NET_PIDS, pids, 1);
	}
	char *argv[] = {"hutch-monitor", idbuf, "exited", code, NULL};
	execv("/proc/self/exe", argv);
	_exit(125);
}
