/*
 * signals.c
 *	  SIGTERM/SIGINT ask the programs to stop; sleeps and socket waits end
 *	  early when they do.  The handler writes to a pipe that every wait
 *	  polls (the self-pipe trick), so a signal between "check the flag" and
 *	  "start waiting" is never missed.
 */
#include "consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested = 0;
static int	wake_pipe[2] = {-1, -1};

/* Record the stop request and wake any wait. */
static void
on_stop_signal(int signo)
{
	int			saved = errno;
	ssize_t		ignored;

	(void) signo;
	stop_requested = 1;
	ignored = write(wake_pipe[1], "x", 1);
	(void) ignored;
	errno = saved;
}

/* Make fd non-blocking and close-on-exec (the --exec child must not get it). */
static void
prepare_fd(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Install the handlers; a closed stdout or --exec pipe is an error, not a signal. */
void
os_signals_init(void)
{
	struct sigaction sa;

	if (pipe(wake_pipe) == 0)
	{
		prepare_fd(wake_pipe[0]);
		prepare_fd(wake_pipe[1]);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;			/* no SA_RESTART: waits return EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool
os_stopping(void)
{
	return stop_requested != 0;
}

/* Milliseconds on the monotonic clock. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait up to ms for sock (if >= 0) to become readable or for a stop request.
 * Returns 1 if sock is readable, 0 on timeout or stop, -1 on a poll error.
 */
int
os_wait_socket(int sock, long ms)
{
	long long	deadline = now_ms() + ms;
	struct pollfd fds[2];
	long long	left;
	int			rc;

	while (!os_stopping() && (left = deadline - now_ms()) > 0)
	{
		fds[0].fd = wake_pipe[0];
		fds[0].events = POLLIN;
		fds[1].fd = sock;
		fds[1].events = POLLIN;
		fds[0].revents = fds[1].revents = 0;
		rc = poll(fds, sock >= 0 ? 2 : 1, (int) (left > 60000 ? 60000 : left));
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc > 0 && sock >= 0 && fds[1].revents != 0)
			return 1;
	}
	return 0;
}

/* Sleep ms milliseconds; false if a stop was requested (before or during). */
bool
os_sleep_ms(long ms)
{
	os_wait_socket(-1, ms);
	return !os_stopping();
}
