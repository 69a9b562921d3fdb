// The kept user namespace (docs/development.md, "How a command enters the namespace").
//
// The first command that needs hutch's user namespace starts a holder: hutch executed
// as `hutch-holder RUNTIME_DIR` with HUTCH_ENV_HOLD set. Its constructor (hold below)
// unshares a user and a mount namespace (or joins those of a running container's
// monitor, when an earlier holder is gone), waits while the command writes the id maps
// and the holder's file RUNTIME_DIR/holder, and then sleeps in C, the Go runtime never
// started, for as long as that file names it.
//
// Every later command that works on the store joins the holder's namespaces here,
// before the Go runtime starts (setns is refused to a multithreaded process): no
// newuidmap, no second process. It joins when
//   - its command line names a command that runs whole in the namespace (kept_wants;
//     a unit test in cmd/hutch checks the table against the commands' annotations),
//   - a verdict on the user's paths holds (verdict_match below): a plain-user hutch
//     checked them (config.Paths.Check) and recorded everything it looked at; every
//     stamp, the environment that chose the paths, the ids and the binary are as they
//     were, so the paths it names are the ones Go would check and pass now — Go cannot
//     check them once it is inside, where the user's files and root's both show as the
//     overflow uid. The holder's file is in the runtime directory the verdict names;
//   - no global flag moves the store (--root, --runroot, --storage-driver,
//     --storage-opt): Go checks such paths as the plain user, and hands them on,
//   - the holder is the process the file describes: the same pid, start time (pid
//     reuse), command name and namespaces,
//   - the files the id maps were planned from are unchanged (the stamps: a changed
//     /etc/subuid may mean other maps), and the helpers are found where they were,
// Otherwise it does not join, and Go finds out why (userns.EnsureKept), starts a
// holder if needed, and executes the command again with HUTCH_ENV_KEPT_JOIN, which
// makes this constructor join whatever the command line (and say on that descriptor
// whether it could).
//
// The file's format (written by userns/kept_linux.go; both sides are tested together):
//   hutch-holder 1
//   pid PID start TICKS userns INODE mntns INODE origin INODE
//                            (origin: the mount namespace the kept one was copied from)
//   helper NAME PATH        (where newuidmap and newgidmap are found: on PATH, which
//                            may differ between commands; "-" when nowhere)
//   stamp TOKEN PATH        (one per file the maps were planned from; see stamp())
//   state
//   JSON of userns.State, to the end
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "contract.h"

#define KEPT_FILE "holder"
#define KEPT_MAGIC "hutch-holder 1\n"
#define KEPT_COMM "hutch-holder"
#define KEPT_MAX (64 * 1024)
#define VERDICT_FILE "verdict"
#define VERDICT_MAGIC "hutch-verdict 1\n"
#define VERDICT_MAX (256 * 1024)

// What the constructor did, for Go (nsenter_linux.go).
static int kept_joined;		   // 1: joined the kept namespace
static int kept_own_mounts;	   // 1: in a mount namespace of its own below it
static char *kept_state;	   // the holder's state (JSON) from its file
static char kept_dir[4096];	   // the runtime directory the file was found in
static char *kept_paths;	   // the paths the verdict holds (JSON of config.Paths)
static char kept_err[512];	   // why a forced join failed
static char kept_miss[512];	   // why a command that wanted to join did not
static long kept_pid;		   // the holder joined
static unsigned long long kept_start; // its start time, in clock ticks after boot

int hutch_kept_joined(void) { return kept_joined; }
int hutch_kept_own_mounts(void) { return kept_own_mounts; }
const char *hutch_kept_state(void) { return kept_state ? kept_state : ""; }
const char *hutch_kept_dir(void) { return kept_dir; }
const char *hutch_kept_paths(void) { return kept_paths ? kept_paths : ""; }
const char *hutch_kept_error(void) { return kept_err; }
const char *hutch_kept_miss(void) { return kept_miss; }
long hutch_kept_pid(void) { return kept_pid; }
unsigned long long hutch_kept_start(void) { return kept_start; }

// The commands that run whole in the namespace: 1 joins, 2 also gets a mount namespace
// of its own below the kept one (a build: its mounts, secrets and fuse-overlayfs
// daemons end with it, even when it is killed outright; unshare: what the user mounts
// in that shell goes with it, as it did before the namespace was kept). Two split commands whose
// plain-user half only reads records join too, and run both halves here: inspect, and
// rm without -f (KEEP_UNLESS_FORCE; with -f its first half stops containers, which only
// the plain user can reach in every user namespace they may run in).
#define KEEP_UNLESS_FORCE 3

static const struct {
	const char *group, *name;
	int how;
} kept_cmds[] = {
	{"", "build", 2}, {"", "create", 1}, {"", "history", 1}, {"", "images", 1}, {"", "import", 1},
	{"", "info", 1}, {"", "load", 1}, {"", "pull", 1}, {"", "push", 1}, {"", "rename", 1}, {"", "rmi", 1},
	{"", "run", 1}, {"", "save", 1}, {"", "start", 1}, {"", "tag", 1}, {"", "untag", 1}, {"", "unshare", 2},
	{"", "inspect", 1}, {"", "rm", KEEP_UNLESS_FORCE},
	{"container", "create", 1}, {"container", "prune", 1}, {"container", "rename", 1},
	{"container", "run", 1}, {"container", "start", 1}, {"container", "inspect", 1},
	{"container", "rm", KEEP_UNLESS_FORCE}, {"container", "remove", KEEP_UNLESS_FORCE},
	{"image", "build", 2}, {"image", "exists", 1}, {"image", "history", 1}, {"image", "import", 1},
	{"image", "inspect", 1}, {"image", "load", 1}, {"image", "ls", 1}, {"image", "list", 1}, {"image", "prune", 1},
	{"image", "pull", 1}, {"image", "push", 1}, {"image", "rm", 1}, {"image", "remove", 1}, {"image", "save", 1},
	{"image", "tag", 1}, {"image", "untag", 1},
	{"builder", "build", 2}, {"builder", "prune", 1},
	{"system", "check", 1}, {"system", "df", 1}, {"system", "info", 1}, {"system", "prune", 1},
	{"volume", "create", 1}, {"volume", "exists", 1}, {"volume", "inspect", 1}, {"volume", "ls", 1},
	{"volume", "list", 1}, {"volume", "prune", 1}, {"volume", "rm", 1}, {"volume", "remove", 1},
};

static int is_group(const char *w)
{
	return strcmp(w, "container") == 0 || strcmp(w, "image") == 0 || strcmp(w, "system") == 0 ||
	       strcmp(w, "volume") == 0 || strcmp(w, "builder") == 0;
}

// hutch_kept_wants says how the command line argv wants the kept namespace: 0 not at
// all, 1 joined, 2 joined with a mount namespace of its own. The words are found as
// cobra finds them: flags are skipped, and --log-level takes the next argument.
int hutch_kept_wants(int argc, char **argv)
{
	const char *w[2] = {NULL, NULL};
	int n = 0, i;
	for (i = 1; i < argc && n < 2; i++) {
		const char *a = argv[i];
		if (a == NULL || strcmp(a, "--") == 0)
			break;
		if (a[0] == '-') {
			if (strcmp(a, "--log-level") == 0)
				i++;
			continue;
		}
		w[n++] = a;
		if (n == 1 && !is_group(a))
			break;
	}
	if (n == 0)
		return 0;
	const char *group = "", *name = w[0];
	if (is_group(w[0])) {
		if (n < 2)
			return 0;
		group = w[0];
		name = w[1];
	}
	for (size_t k = 0; k < sizeof(kept_cmds) / sizeof(kept_cmds[0]); k++) {
		if (strcmp(kept_cmds[k].group, group) != 0 || strcmp(kept_cmds[k].name, name) != 0)
			continue;
		if (kept_cmds[k].how != KEEP_UNLESS_FORCE)
			return kept_cmds[k].how;
		// Any flag but -v/--volumes (and --log-level's) may be -f in some spelling.
		for (; i < argc && argv[i] != NULL; i++) {
			const char *a = argv[i];
			if (strcmp(a, "--") == 0)
				break;
			if (strcmp(a, "--log-level") == 0) {
				i++;
				continue;
			}
			if (a[0] == '-' && strcmp(a, "-v") != 0 && strcmp(a, "--volumes") != 0 &&
			    strncmp(a, "--log-level=", 12) != 0)
				return 0;
		}
		return 1;
	}
	return 0;
}

// hutch_kept_stamp writes what a file the maps were planned from looks like now:
// "DEV:INO:SIZE:MTIME:CTIME" (times as SEC.NSEC), or "-" when it does not exist.
// userns.stamp writes the same.
void hutch_kept_stamp(const char *path, char *out, size_t size)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(out, size, "-");
		return;
	}
	snprintf(out, size, "%llu:%llu:%lld:%lld.%09ld:%lld.%09ld", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

// hutch_kept_lookpath writes where userns.CheckHelper finds helper name: the first
// executable regular file on $PATH (exec.LookPath; a relative one does not count), else
// the first of /usr/bin, /usr/sbin and /bin that has it, else "-".
void hutch_kept_lookpath(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH");
	char cand[4096];
	struct stat st;
	while (path != NULL) {
		const char *end = strchr(path, ':');
		size_t len = end ? (size_t)(end - path) : strlen(path);
		while (len > 1 && path[len - 1] == '/')
			len--;
		if (len == 0) {
			snprintf(cand, sizeof(cand), "./%s", name);
		} else {
			snprintf(cand, sizeof(cand), "%.*s/%s", (int)len, path, name);
		}
		if (stat(cand, &st) == 0 && !S_ISDIR(st.st_mode) && faccessat(AT_FDCWD, cand, X_OK, AT_EACCESS) == 0) {
			if (cand[0] == '/') {
				snprintf(out, size, "%s", cand);
				return;
			}
			break; // exec.LookPath refuses it (ErrDot): the fixed places follow
		}
		path = end ? end + 1 : NULL;
	}
	const char *dirs[] = {"/usr/bin/", "/usr/sbin/", "/bin/"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(cand, sizeof(cand), "%s%s", dirs[i], name);
		if (stat(cand, &st) == 0) {
			snprintf(out, size, "%s", cand);
			return;
		}
	}
	snprintf(out, size, "-");
}

// hutch_kept_store_flags says whether the command line has a global flag that moves
// the store (--root, --runroot, --storage-driver, --storage-opt, in either spelling):
// such a command is not joined here. Every word counts, a container's command's too: a
// word taken for a flag costs only the join (Go then enters through EnsureKept).
int hutch_kept_store_flags(int argc, char **argv)
{
	static const char *flags[] = {"--root", "--runroot", "--storage-driver", "--storage-opt"};
	for (int i = 1; i < argc && argv[i] != NULL; i++) {
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
			size_t n = strlen(flags[k]);
			if (strncmp(argv[i], flags[k], n) == 0 && (argv[i][n] == '\0' || argv[i][n] == '='))
				return 1;
		}
	}
	return 0;
}

// read_fd reads at most size-1 bytes of fd into buf, ends them with a NUL, and closes fd.
static ssize_t read_fd(int fd, char *buf, size_t size)
{
	size_t got = 0;
	while (got < size - 1) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

// read_small reads a small file (at most size-1 bytes) and ends it with a NUL.
static ssize_t read_small(int dirfd, const char *path, char *buf, size_t size)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	return read_fd(fd, buf, size);
}

// hutch_kept_proc_start reads the start time of process pid (field 22 of its stat),
// 0 when it is gone.
unsigned long long hutch_kept_proc_start(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (read_small(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
		return 0;
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	p++;
	// Fields after the command name start at 3 (the state); the start time is 22.
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (p == NULL)
			return 0;
	}
	return strtoull(p + 1, NULL, 10);
}

static unsigned long long ns_inode(long pid, const char *ns)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%ld/ns/%s", pid, ns);
	return stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

// hutch_kept_same_dir reports whether path, resolved in the mount namespace of process
// pid (through /proc/PID/root), is the directory open as fd.
int hutch_kept_same_dir(long pid, const char *path, int fd)
{
	char p[4200];
	struct stat a, b;
	if (fd < 0 || path == NULL || path[0] != '/' ||
	    snprintf(p, sizeof(p), "/proc/%ld/root%s", pid, path) >= (int)sizeof(p))
		return 0;
	return fstat(fd, &a) == 0 && stat(p, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// The holder's record: the file's first lines.
struct kept_rec {
	long pid;
	unsigned long long start, userns, mntns, origin;
	char *state;
};

// parse_rec reads buf (the file, NUL-ended) into r and, with check, checks every stamp
// and helper; it returns NULL or what is wrong.
static const char *parse_rec(char *buf, struct kept_rec *r, int check)
{
	if (strncmp(buf, KEPT_MAGIC, strlen(KEPT_MAGIC)) != 0)
		return "not a holder file of this hutch";
	char *line = buf + strlen(KEPT_MAGIC);
	if (sscanf(line, "pid %ld start %llu userns %llu mntns %llu origin %llu\n", &r->pid, &r->start, &r->userns,
		   &r->mntns, &r->origin) != 5 ||
	    r->pid <= 0)
		return "no holder line";
	for (;;) {
		char *nl = strchr(line, '\n');
		if (nl == NULL)
			return "no state";
		line = nl + 1;
		if (strncmp(line, "state\n", 6) == 0) {
			r->state = line + 6;
			return NULL;
		}
		if (!check && (strncmp(line, "helper ", 7) == 0 || strncmp(line, "stamp ", 6) == 0))
			continue;
		if (strncmp(line, "helper ", 7) == 0) {
			// "helper NAME PATH": where the helper is found on this command's PATH.
			char *name = line + 7, *sp = strchr(name, ' ');
			nl = strchr(name, '\n');
			if (sp == NULL || nl == NULL || sp > nl)
				return "bad helper line";
			*sp = '\0';
			*nl = '\0';
			char found[4096];
			hutch_kept_lookpath(name, found, sizeof(found));
			int same = strcmp(found, sp + 1) == 0;
			*sp = ' ';
			*nl = '\n';
			if (!same)
				return "the id-mapping helpers are found elsewhere";
			continue;
		}
		if (strncmp(line, "stamp ", 6) != 0)
			return "unknown line";
		char *tok = line + 6, *sp = strchr(tok, ' ');
		nl = strchr(tok, '\n');
		if (sp == NULL || nl == NULL || sp > nl)
			return "bad stamp line";
		*nl = '\0';
		char now[160];
		hutch_kept_stamp(sp + 1, now, sizeof(now));
		int same = (size_t)(sp - tok) == strlen(now) && strncmp(tok, now, (size_t)(sp - tok)) == 0;
		*nl = '\n';
		if (!same)
			return "a file the id maps were planned from changed";
	}
}

// ---- The verdict on the user's paths (config/verdict_linux.go writes it) ----

// The environment variables that choose the paths: config.VerdictEnv (a unit test holds
// the two lists together).
static const char *verdict_env[] = {"HOME", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
				    "XDG_RUNTIME_DIR"};
#define VERDICT_NENV (sizeof(verdict_env) / sizeof(verdict_env[0]))

int hutch_verdict_nenv(void) { return (int)VERDICT_NENV; }
const char *hutch_verdict_env(int i) { return verdict_env[i]; }

// token writes what st (or err, the lstat's errno when it failed) shows, as
// config.Token does: "-", "e:ERRNO", "d:DEV:INO:MODE:UID:GID" for a directory,
// "f:DEV:INO:MODE:UID:GID:CTIME" for anything else.
static void token(const struct stat *st, int err, char *out, size_t size)
{
	if (err == ENOENT)
		snprintf(out, size, "-");
	else if (err != 0)
		snprintf(out, size, "e:%d", err);
	else if (S_ISDIR(st->st_mode))
		snprintf(out, size, "d:%llu:%llu:%o:%u:%u", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
			 (unsigned)st->st_mode, (unsigned)st->st_uid, (unsigned)st->st_gid);
	else
		snprintf(out, size, "f:%llu:%llu:%o:%u:%u:%lld.%09ld", (unsigned long long)st->st_dev,
			 (unsigned long long)st->st_ino, (unsigned)st->st_mode, (unsigned)st->st_uid, (unsigned)st->st_gid,
			 (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

// hutch_verdict_token writes path's token (lstat: a symbolic link is not followed).
void hutch_verdict_token(const char *path, char *out, size_t size)
{
	struct stat st;
	token(&st, lstat(path, &st) < 0 ? errno : 0, out, size);
}

// hutch_verdict_exe writes the token of the running binary (stat of /proc/self/exe): a
// verdict made by another build of hutch does not hold.
void hutch_verdict_exe(char *out, size_t size)
{
	struct stat st;
	token(&st, stat("/proc/self/exe", &st) < 0 ? errno : 0, out, size);
}

// next_line cuts the line at *p (ending it with a NUL) and moves *p past it; NULL at
// the end.
static char *next_line(char **p)
{
	char *l = *p, *nl = strchr(l, '\n');
	if (nl == NULL)
		return NULL;
	*nl = '\0';
	*p = nl + 1;
	return l;
}

// verdict_match checks a verdict (buf, NUL-ended; cut up in place) found in the
// directory dfd: NULL when it holds, else what differs. It compares, and judges
// nothing: the ids, the binary, the host name, each variable of verdict_env, every
// stamp; and the directory it names must be dfd. On success dir holds the runtime
// directory the verdict names and *paths the paths (JSON).
static const char *verdict_match(char *buf, int dfd, char *dir, size_t dirsize, char **paths)
{
	char tok[256], *p = buf, *l;
	unsigned env_seen = 0;
	int have_ids = 0, have_exe = 0, have_host = 0;
	dir[0] = '\0';
	if (strncmp(buf, VERDICT_MAGIC, strlen(VERDICT_MAGIC)) != 0)
		return "not a verdict of this hutch";
	p += strlen(VERDICT_MAGIC);
	while ((l = next_line(&p)) != NULL) {
		if (strcmp(l, "paths") == 0) {
			if (!have_ids || !have_exe || !have_host || env_seen != (1u << VERDICT_NENV) - 1 || dir[0] == '\0')
				return "an incomplete verdict";
			struct stat a, b;
			if (fstat(dfd, &a) < 0 || stat(dir, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
				return "the verdict names another runtime directory";
			*paths = p;
			return NULL;
		}
		if (strncmp(l, "uid ", 4) == 0) {
			unsigned uid, gid;
			int off = 0;
			if (sscanf(l, "uid %u gid %u groups %n", &uid, &gid, &off) != 2 || off == 0)
				return "a bad ids line";
			if (uid != getuid() || gid != getgid())
				return "other ids";
			gid_t gs[256];
			int n = getgroups(256, gs);
			char list[256 * 11 + 1];
			size_t len = 0;
			list[0] = '\0';
			for (int i = 0; i < n && len < sizeof(list) - 12; i++)
				len += (size_t)snprintf(list + len, sizeof(list) - len, i ? ",%u" : "%u", (unsigned)gs[i]);
			if (n < 0 || strcmp(list, l + off) != 0)
				return "other groups";
			have_ids = 1;
		} else if (strncmp(l, "exe ", 4) == 0) {
			hutch_verdict_exe(tok, sizeof(tok));
			if (strcmp(tok, l + 4) != 0)
				return "another hutch binary";
			have_exe = 1;
		} else if (strncmp(l, "host ", 5) == 0) {
			struct utsname u;
			if (uname(&u) < 0 || strcmp(u.nodename, l + 5) != 0)
				return "another host name";
			have_host = 1;
		} else if (strncmp(l, "env ", 4) == 0) {
			char *name = l + 4, *eq = strchr(name, '=');
			if (eq != NULL)
				*eq = '\0';
			size_t k;
			for (k = 0; k < VERDICT_NENV && strcmp(verdict_env[k], name) != 0; k++)
				;
			if (k == VERDICT_NENV)
				return "an unknown variable";
			const char *now = getenv(name);
			if (now == NULL)
				now = "";
			if (strcmp(now, eq ? eq + 1 : "") != 0)
				return "another environment";
			env_seen |= 1u << k;
		} else if (strncmp(l, "dir ", 4) == 0) {
			if (snprintf(dir, dirsize, "%s", l + 4) >= (int)dirsize || dir[0] != '/')
				return "a bad runtime directory";
		} else if (strncmp(l, "stamp ", 6) == 0) {
			char *t = l + 6, *sp = strchr(t, ' ');
			if (sp == NULL)
				return "a bad stamp line";
			*sp = '\0';
			hutch_verdict_token(sp + 1, tok, sizeof(tok));
			if (strcmp(tok, t) != 0)
				return "a path changed since it was checked";
		} else {
			return "an unknown line";
		}
	}
	return "an incomplete verdict";
}

// verdict_read reads the verdict in directory dfd: a regular file of the user's.
static ssize_t verdict_read(int dfd, char *buf, size_t size)
{
	int fd = openat(dfd, VERDICT_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022) != 0 ||
	    (size_t)st.st_size >= size) {
		close(fd);
		return -1;
	}
	return read_fd(fd, buf, size);
}

// hutch_kept_verdict finds the verdict where config.UserPaths would look for the runtime
// directory — $XDG_RUNTIME_DIR/hutch, $TMPDIR/hutch-UID (/tmp without TMPDIR), the
// cache's run-HOST — in the first of them that is a private directory of the user's and
// holds one, and checks it (verdict_match): NULL when it holds (dir is the runtime
// directory, *paths the paths), else why not. Which of them it is found in does not
// matter: it holds only when everything that chose the runtime directory is as it was.
const char *hutch_kept_verdict(char *dir, size_t size, char **paths)
{
	static char buf[VERDICT_MAX];
	char cand[3][4096];
	int n = 0;
	unsigned uid = getuid();
	const char *rt = getenv("XDG_RUNTIME_DIR"), *tmp = getenv("TMPDIR"), *cache = getenv("XDG_CACHE_HOME"),
		   *home = getenv("HOME");
	if (rt != NULL && rt[0] == '/' && snprintf(cand[n], sizeof(cand[n]), "%s/hutch", rt) < (int)sizeof(cand[n]))
		n++;
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (tmp[0] == '/' && snprintf(cand[n], sizeof(cand[n]), "%s/hutch-%u", tmp, uid) < (int)sizeof(cand[n]))
		n++;
	struct utsname u;
	if (uname(&u) == 0) {
		char host[sizeof(u.nodename)];
		snprintf(host, sizeof(host), "%s", u.nodename);
		for (char *c = host; *c; c++)
			if (*c == '/')
				*c = '_';
		if (host[0] == '\0' || strcmp(host, ".") == 0 || strcmp(host, "..") == 0)
			snprintf(host, sizeof(host), "localhost");
		int m = -1;
		if (cache != NULL && cache[0] == '/')
			m = snprintf(cand[n], sizeof(cand[n]), "%s/hutch/run-%s", cache, host);
		else if (home != NULL && home[0] == '/')
			m = snprintf(cand[n], sizeof(cand[n]), "%s/.cache/hutch/run-%s", home, host);
		if (m > 0 && m < (int)sizeof(cand[n]))
			n++;
	}
	for (int i = 0; i < n; i++) {
		int dfd = open(cand[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd < 0)
			continue;
		struct stat st;
		if (fstat(dfd, &st) < 0 || st.st_uid != uid || (st.st_mode & 077) != 0 || verdict_read(dfd, buf, sizeof(buf)) < 0) {
			close(dfd);
			continue;
		}
		const char *why = verdict_match(buf, dfd, dir, size, paths);
		close(dfd);
		return why;
	}
	return "no verdict on the paths";
}

// kept_join joins the kept namespace of the user running this process: NULL when it
// did, or why not. dir is the runtime directory a forced join was given: the parent
// chose the holder (it may keep one whose stamps are old: ranges changed under
// running containers), so only the holder itself is checked then.
static const char *kept_join(int how, const char *dir)
{
	static char buf[KEPT_MAX];
	uid_t uid = getuid();
	if (dir != NULL) {
		if (snprintf(kept_dir, sizeof(kept_dir), "%s", dir) >= (int)sizeof(kept_dir))
			return "the runtime directory's path is too long";
	} else {
		const char *why = hutch_kept_verdict(kept_dir, sizeof(kept_dir), &kept_paths);
		if (why != NULL)
			return why;
	}
	int dfd = open(kept_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return "no runtime directory";
	struct stat st;
	if (fstat(dfd, &st) < 0 || st.st_uid != uid || (st.st_mode & 077) != 0) {
		close(dfd);
		return "the runtime directory is not private to the user";
	}
	ssize_t n = read_small(dfd, KEPT_FILE, buf, sizeof(buf));
	close(dfd);
	if (n <= 0)
		return "no holder";
	struct kept_rec r = {0};
	const char *why = parse_rec(buf, &r, dir == NULL);
	if (why != NULL)
		return why;

	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)r.pid, 0);
	if (pidfd < 0)
		return "the holder is gone";
	// Checked with the pidfd open: if the pid was reused before, the start time
	// differs; after, the pidfd still names the process checked.
	char path[64], comm_path[64], comm[64];
	snprintf(path, sizeof(path), "/proc/%ld", r.pid);
	snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm", r.pid);
	if (hutch_kept_proc_start(r.pid) != r.start || stat(path, &st) < 0 || st.st_uid != uid ||
	    read_small(AT_FDCWD, comm_path, comm, sizeof(comm)) <= 0 || strcmp(comm, KEPT_COMM "\n") != 0 ||
	    ns_inode(r.pid, "user") != r.userns || ns_inode(r.pid, "mnt") != r.mntns) {
		close(pidfd);
		return "the holder's pid names another process";
	}
	// The kept mount namespace is a copy of the one the holder was made from (origin):
	// a command from another (a service with a private /tmp, `unshare -m`) would find
	// other files at the same paths there, so it joins the user namespace only and gets
	// a mount namespace of its own, a copy of its own view.
	if (ns_inode(getpid(), "mnt") != r.origin)
		how = 2;
	// Joining the mount namespace moves the working directory to its root: it is
	// found again by its path (the namespace is a copy of the user's), or by the
	// descriptor when the path is not there.
	char cwd[4096];
	int cwdfd = open(".", O_PATH | O_CLOEXEC);
	int have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;
	// The copy may differ from the user's view since it was made: a mount made after
	// it where mounts do not propagate (a private tree) leaves the bare mount point at
	// that path in the kept namespace, and the command would work on another
	// directory than the user's. When the working directory's path does not lead to
	// the same directory there, the command joins the user namespace only and gets a
	// mount namespace of its own, a copy of its own view, as from another namespace.
	if (how != 2 && !(have_cwd && hutch_kept_same_dir(r.pid, cwd, cwdfd)))
		how = 2;
	if (setns(pidfd, how == 2 ? CLONE_NEWUSER : CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		snprintf(kept_err, sizeof(kept_err), "joining the holder's namespaces: %s", strerror(errno));
		close(pidfd);
		if (cwdfd >= 0)
			close(cwdfd);
		return kept_err;
	}
	close(pidfd);
	if (!(have_cwd && chdir(cwd) == 0) && cwdfd >= 0) {
		if (fchdir(cwdfd) < 0) {
			/* the working directory stays the namespace's root */
		}
	}
	if (cwdfd >= 0)
		close(cwdfd);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		// Joined, but not root in it: nothing sensible can run.
		fprintf(stderr, "Error: joining hutch's user namespace: becoming its root: %s\n", strerror(errno));
		_exit(125);
	}
	if (how == 2) {
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
			fprintf(stderr, "Error: a mount namespace of its own in hutch's user namespace: %s\n", strerror(errno));
			_exit(125);
		}
		kept_own_mounts = 1;
	}
	kept_joined = 1;
	kept_state = r.state;
	kept_pid = r.pid;
	kept_start = r.start;
	return NULL;
}

// hold is the holder (hutch-holder): see the top of this file.
static void hold(const char *mode)
{
	const char *r = getenv(HUTCH_ENV_HOLD_READY), *g = getenv(HUTCH_ENV_HOLD_GO);
	const char *file = getenv(HUTCH_ENV_HOLD_FILE), *adopt = getenv(HUTCH_ENV_HOLD_ADOPT);
	int ready = r ? atoi(r) : -1, go = g ? atoi(g) : -1;
	char msg[600];
	if (ready < 3 || go < 3 || file == NULL)
		_exit(125);
	file = strdup(file);
	prctl(PR_SET_NAME, KEPT_COMM, 0, 0, 0);
#define HOLD_FAIL(what)                                                                        \
	do {                                                                                   \
		int m_ = snprintf(msg, sizeof(msg), "E%s: %s", what, strerror(errno));         \
		if (write(ready, msg, (size_t)m_) < 0) { /* the parent reports the failure */ \
		}                                                                              \
		_exit(125);                                                                    \
	} while (0)
	if (strcmp(mode, "adopt") == 0) {
		int pidfd = adopt ? (int)syscall(SYS_pidfd_open, (pid_t)atol(adopt), 0) : -1;
		if (pidfd < 0)
			HOLD_FAIL("pidfd_open");
		// The user namespace only: the monitor's mount namespace is its own.
		if (setns(pidfd, CLONE_NEWUSER) < 0)
			HOLD_FAIL("setns");
		close(pidfd);
		if (unshare(CLONE_NEWNS) < 0)
			HOLD_FAIL("unshare");
	} else if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		HOLD_FAIL("unshare");
	}
	if (write(ready, "1", 1) != 1)
		_exit(125);
	char c = 0;
	if (read(go, &c, 1) != 1 || c != 'g')
		_exit(125);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		HOLD_FAIL("becoming root in the namespace");
	if (chdir("/") < 0)
		HOLD_FAIL("chdir /");

	// The file is watched first, then checked: a replacement in between is seen.
	int in = inotify_init1(IN_CLOEXEC);
	if (in < 0)
		HOLD_FAIL("inotify_init1");
	unsigned long long me = hutch_kept_proc_start(getpid());
	static char buf[KEPT_MAX];
	for (int first = 1;; first = 0) {
		int wd = inotify_add_watch(in, file, IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
		struct kept_rec rec = {0};
		if (wd < 0 || read_small(AT_FDCWD, file, buf, sizeof(buf)) <= 0 ||
		    strncmp(buf, KEPT_MAGIC, strlen(KEPT_MAGIC)) != 0 ||
		    sscanf(buf + strlen(KEPT_MAGIC), "pid %ld start %llu", &rec.pid, &rec.start) != 2 ||
		    rec.pid != getpid() || rec.start != me) {
			if (first) {
				errno = ESTALE;
				HOLD_FAIL("the holder's file does not name it");
			}
			_exit(0);
		}
		if (first) {
			if (write(ready, "2", 1) != 1)
				_exit(125);
			int keep = in;
			if (in != 3) {
				keep = dup2(in, 3);
				if (keep < 0)
					_exit(125);
			}
			in = keep;
			syscall(SYS_close_range, 4, ~0U, 0);
			int ignored[] = {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2};
			for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
				signal(ignored[i], SIG_IGN);
		}
		// Wait for the file to change; a rewrite that still names this holder (new
		// stamps) is watched again, anything else ends it.
		char ev[4096];
		for (;;) {
			ssize_t n = read(in, ev, sizeof(ev));
			if (n > 0)
				break;
			if (n < 0 && errno != EINTR)
				_exit(1);
		}
		inotify_rm_watch(in, wd);
	}
}

// The constructor: a holder becomes one; a process another protocol is for, or one
// running as root (real root, or already in a namespace), is left alone; a forced
// join reports on its descriptor; otherwise a command line that wants the namespace
// joins it if it can.
__attribute__((constructor)) static void hutch_kept(int argc, char **argv)
{
	const char *mode = getenv(HUTCH_ENV_HOLD);
	if (mode != NULL) {
		hold(mode);
		_exit(125);
	}
	if (getenv(HUTCH_ENV_OWN_MOUNTS) != NULL) {
		unsetenv(HUTCH_ENV_OWN_MOUNTS);
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
			fprintf(stderr, "Error: a mount namespace of its own: %s\n", strerror(errno));
			_exit(125);
		}
		return;
	}
	if (getenv(HUTCH_ENV_NSENTER_PID) != NULL || getenv(HUTCH_ENV_USERNS_NEW) != NULL ||
	    getenv(HUTCH_ENV_CMONITOR) != NULL || getuid() == 0)
		return;
	const char *forced = getenv(HUTCH_ENV_KEPT_JOIN);
	if (forced != NULL) {
		int fd = atoi(forced);
		const char *dir = getenv(HUTCH_ENV_KEPT_DIR);
		const char *why = dir == NULL ? "no runtime directory given"
					      : kept_join(hutch_kept_wants(argc, argv) == 2 ? 2 : 1, dir);
		if (fd < 3)
			_exit(125);
		if (why != NULL) {
			char msg[600];
			int m = snprintf(msg, sizeof(msg), "E%s", why);
			if (write(fd, msg, (size_t)m) < 0) {
				/* the parent reports the failure either way */
			}
			_exit(125);
		}
		if (write(fd, "1", 1) != 1)
			_exit(125);
		close(fd);
		return;
	}
	int how = hutch_kept_wants(argc, argv);
	if (how == 0)
		return;
	const char *why = hutch_kept_store_flags(argc, argv) ? "a global flag moves the store" : kept_join(how, NULL);
	if (why != NULL)
		snprintf(kept_miss, sizeof(kept_miss), "%s", why);
}
