/*
 * exec.c
 *	  --exec: run a command through /bin/sh with a batch's JSON lines on its
 *	  standard input.  Only the command's exit status counts: 0 means the
 *	  batch was delivered (even if the command read less than all of it).
 */
#include "exec.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: the pipe becomes stdin, signals are back to defaults. */
static void
exec_child(const char *command, int fds[2])
{
	if (fds[0] != STDIN_FILENO)
	{
		dup2(fds[0], STDIN_FILENO);
		close(fds[0]);
	}
	close(fds[1]);
	signal(SIGPIPE, SIG_DFL);
	execl("/bin/sh", "sh", "-c", command, (char *) NULL);
	_exit(127);
}

/* Write all of buf to fd; false on an error (EPIPE: the command closed stdin). */
static bool
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0)
	{
		ssize_t		n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		buf += n;
		len -= (size_t) n;
	}
	return true;
}

/*
 * Feed every event of the batch as one line; stops early if the pipe closes
 * (the command's exit status then tells).  False when out of memory.
 */
static bool
feed(int fd, const os_batch *b)
{
	int			i;

	for (i = 0; i < b->nrows; i++)
	{
		size_t		len;
		const char *json = os_event_json(b, i, &len);

		if (json == NULL)
			return false;
		if (!write_all(fd, json, len) || !write_all(fd, "\n", 1))
			break;
	}
	return true;
}

/* Wait for the child (a stop request does not interrupt the batch). */
static int
wait_child(pid_t pid)
{
	int			status;

	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
			return -1;
	}
	return status;
}

/* Describe a failed command in b->why. */
static void
describe_failure(os_batch *b, int status)
{
	if (status == -1)
		snprintf(b->why, sizeof b->why, "cannot wait for the command: %s", strerror(errno));
	else if (WIFSIGNALED(status))
		snprintf(b->why, sizeof b->why, "command killed by signal %d", WTERMSIG(status));
	else
		snprintf(b->why, sizeof b->why, "command exited with status %d", WEXITSTATUS(status));
}

/* Run command with the batch on its stdin: OS_DONE if it exits 0. */
os_outcome
os_exec_batch(const char *command, os_batch *b)
{
	int			fds[2];
	pid_t		pid;
	int			status;

	fflush(stdout);				/* keep our output ahead of the command's */
	if (pipe(fds) < 0)
	{
		snprintf(b->why, sizeof b->why, "cannot create a pipe: %s", strerror(errno));
		return OS_RETRY;
	}
	pid = fork();
	if (pid == 0)
		exec_child(command, fds);
	close(fds[0]);
	if (pid < 0)
	{
		snprintf(b->why, sizeof b->why, "cannot fork: %s", strerror(errno));
		close(fds[1]);
		return OS_RETRY;
	}
	if (!feed(fds[1], b))
	{
		close(fds[1]);
		(void) wait_child(pid);
		snprintf(b->why, sizeof b->why, "out of memory");
		return OS_RETRY;
	}
	close(fds[1]);
	status = wait_child(pid);
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return OS_DONE;
	describe_failure(b, status);
	return OS_RETRY;
}
