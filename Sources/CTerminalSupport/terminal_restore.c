// Restoring the terminal on every exit path (issue 7, "Leaving the terminal sane").
// Everything a signal handler touches is static storage and async-signal-safe calls
// (write, tcsetattr, dup2, read, lseek, sigaction, raise), which Swift code cannot promise.
#define _GNU_SOURCE
#include "CTerminalSupport.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <unistd.h>

static char restore_sequence[4096];
static size_t restore_length = 0;
static int restore_fd = -1;
static struct termios saved_termios;
static int have_termios = 0;
static volatile int armed = 0;

static int saved_stderr_fd = -1;
static int capture_fd = -1;

static int notify_fd = -1;
static volatile sig_atomic_t graceful_seen = 0;

static const int graceful_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT};
static struct sigaction previous_actions[65];
static int installed[65];

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // EIO after a hang-up: nothing more to do
    }
    p += w;
    n -= (size_t)w;
  }
}

int bv_restore_arm(int fd, const char *sequence, size_t length) {
  if (length > sizeof restore_sequence) length = sizeof restore_sequence;
  memcpy(restore_sequence, sequence, length);
  restore_length = length;
  restore_fd = fd;
  have_termios = (tcgetattr(fd, &saved_termios) == 0);
  __atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
  return have_termios ? 0 : -1;
}

void bv_restore_update_sequence(const char *sequence, size_t length) {
  if (length > sizeof restore_sequence) length = sizeof restore_sequence;
  int was = __atomic_exchange_n(&armed, 0, __ATOMIC_SEQ_CST);
  memcpy(restore_sequence, sequence, length);
  restore_length = length;
  __atomic_store_n(&armed, was, __ATOMIC_SEQ_CST);
}

void bv_restore_disarm(void) { __atomic_store_n(&armed, 0, __ATOMIC_SEQ_CST); }

void bv_stderr_capture_end(void) {
  int cfd = __atomic_exchange_n(&capture_fd, -1, __ATOMIC_SEQ_CST);
  if (cfd < 0) return;
  dup2(saved_stderr_fd, 2);
  close(saved_stderr_fd);
  saved_stderr_fd = -1;
  char buffer[4096];
  if (lseek(cfd, 0, SEEK_SET) == 0) {
    for (;;) {
      ssize_t r = read(cfd, buffer, sizeof buffer);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      write_all(2, buffer, (size_t)r);
    }
  }
  close(cfd);
}

void bv_restore_now(void) {
  if (__atomic_exchange_n(&armed, 0, __ATOMIC_SEQ_CST)) {
    write_all(restore_fd, restore_sequence, restore_length);
    if (have_termios) tcsetattr(restore_fd, TCSAFLUSH, &saved_termios);
  }
  bv_stderr_capture_end();
}

int bv_stderr_capture_begin(void) {
  if (capture_fd >= 0) return 0;
  char path[] = "/tmp/blastview-stderr-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  unlink(path);
  int saved = dup(2);
  if (saved < 0) {
    close(fd);
    return -1;
  }
  fflush(stderr);
  if (dup2(fd, 2) < 0) {
    close(fd);
    close(saved);
    return -1;
  }
  saved_stderr_fd = saved;
  capture_fd = fd;
  return 0;
}

void bv_restore_and_reraise(int sig) {
  bv_restore_now();
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(sig);
  _exit(128 + sig);
}

static void graceful_handler(int sig, siginfo_t *info, void *context) {
  (void)info;
  (void)context;
  if (notify_fd >= 0 && !graceful_seen) {
    graceful_seen = 1;
    unsigned char byte = (unsigned char)sig;
    int saved_errno = errno;
    write_all(notify_fd, (const char *)&byte, 1);
    errno = saved_errno;
    return;
  }
  bv_restore_and_reraise(sig);
}

static void fatal_handler(int sig, siginfo_t *info, void *context) {
  (void)context;
  bv_restore_now();
  // Hand the signal on to whoever was there before (Swift's backtracer, or the default).
  if (sig > 0 && sig < 65 && installed[sig]) {
    sigaction(sig, &previous_actions[sig], NULL);
    installed[sig] = 0;
  } else {
    signal(sig, SIG_DFL);
  }
  // A fault (ud2 from a Swift trap, a bad access) re-executes on return and reaches the
  // previous handler with the real fault information; anything else is raised again.
  int is_fault = info != NULL && info->si_code > 0 && info->si_code != SI_KERNEL &&
                 (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
  if (!is_fault) raise(sig);
}

static void install(int sig, void (*handler)(int, siginfo_t *, void *)) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = handler;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < sizeof graceful_signals / sizeof graceful_signals[0]; i++)
    sigaddset(&action.sa_mask, graceful_signals[i]);
  struct sigaction old;
  if (sigaction(sig, &action, &old) == 0 && !installed[sig]) {
    previous_actions[sig] = old;
    installed[sig] = 1;
  }
}

void bv_restore_install_handlers(int fd) {
  notify_fd = fd;
  graceful_seen = 0;
  for (size_t i = 0; i < sizeof graceful_signals / sizeof graceful_signals[0]; i++)
    install(graceful_signals[i], graceful_handler);
  for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
    install(fatal_signals[i], fatal_handler);
}

void bv_restore_uninstall_handlers(void) {
  for (int sig = 1; sig < 65; sig++) {
    if (installed[sig]) {
      sigaction(sig, &previous_actions[sig], NULL);
      installed[sig] = 0;
    }
  }
  notify_fd = -1;
}

static int winch_fd = -1;

static void winch_handler(int sig) {
  int saved_errno = errno;
  unsigned char byte = (unsigned char)sig;
  if (winch_fd >= 0) write_all(winch_fd, (const char *)&byte, 1);
  errno = saved_errno;
}

void bv_winch_install(int fd) {
  winch_fd = fd;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = winch_handler;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  struct sigaction old;
  if (sigaction(SIGWINCH, &action, &old) == 0 && !installed[SIGWINCH]) {
    previous_actions[SIGWINCH] = old;
    installed[SIGWINCH] = 1;
  }
}

int bv_window_size(int fd, int *rows, int *columns, int *pixel_width, int *pixel_height) {
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -1;
  *rows = ws.ws_row;
  *columns = ws.ws_col;
  *pixel_width = ws.ws_xpixel;
  *pixel_height = ws.ws_ypixel;
  return 0;
}
