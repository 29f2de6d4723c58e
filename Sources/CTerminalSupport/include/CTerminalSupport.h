// Small C helpers for the Terminal module: what must be async-signal-safe (restoring the
// terminal from a signal handler) and what Swift cannot reach cleanly (wcwidth under a
// fixed UTF-8 locale, without touching the process locale).
#ifndef BLASTVIEW_CTERMINALSUPPORT_H
#define BLASTVIEW_CTERMINALSUPPORT_H
#include <stddef.h>
#include <stdint.h>

/// Columns a code point takes on a UTF-8 terminal: -1 for a control, 0 for combining marks,
/// 2 for East Asian wide and emoji presentation, else 1. Uses glibc's wcwidth under C.UTF-8
/// (selected per thread with uselocale), so the result does not depend on LANG.
int bv_wcwidth(uint32_t codepoint);

/// Arms the restore path: `fd` is the terminal, `sequence` the bytes that put it back
/// (leave the alternate screen, show the cursor, mouse off...), and the terminal's saved
/// termios is read now with tcgetattr. Both are copied into static storage so the signal
/// handlers below touch no heap. Returns 0, or -1 if fd is not a terminal.
int bv_restore_arm(int fd, const char *sequence, size_t length);

/// Replaces the bytes written on restore (once terminfo is loaded and knows the real
/// sequences), keeping the termios saved by `bv_restore_arm`.
void bv_restore_update_sequence(const char *sequence, size_t length);

/// Forgets the armed sequence without writing it (after a normal, orderly restore).
void bv_restore_disarm(void);

/// Writes the sequence, restores termios, and disarms; idempotent and async-signal-safe.
void bv_restore_now(void);

/// Installs handlers for SIGTERM, SIGHUP, SIGINT, SIGQUIT (graceful: the first one writes the
/// signal number to `notify_fd` so the event loop can save and exit; a second one of any of
/// them restores and dies at once) and for SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT
/// (fatal: restore, then chain to the previous handler, e.g. Swift's backtracer, or die by
/// the default action). `notify_fd` < 0 makes the graceful signals behave like fatal ones.
void bv_restore_install_handlers(int notify_fd);

/// Puts back the handlers that were there before `bv_restore_install_handlers`.
void bv_restore_uninstall_handlers(void);

/// Restores the terminal, resets `sig` to its default action, unblocks it, and raises it:
/// how the event loop ends after saving when a graceful signal arrived.
void bv_restore_and_reraise(int sig);

/// Makes SIGWINCH write its number to `notify_fd` (the event loop then resizes).
void bv_winch_install(int notify_fd);

/// The window size from TIOCGWINSZ: rows, columns and the pixel size (0 when the kernel
/// does not know it). Returns 0 on success, -1 if `fd` is not a terminal.
int bv_window_size(int fd, int *rows, int *columns, int *pixel_width, int *pixel_height);

/// Redirects stderr (fd 2) into an unlinked temporary file while the full-screen UI runs, so
/// library warnings cannot scribble over the screen; `bv_restore_now` puts fd 2 back and
/// copies what was captured to it, so a crash message is shown after the terminal is sane.
/// Returns 0 on success.
int bv_stderr_capture_begin(void);

/// Puts stderr back and replays what was captured (also done by bv_restore_now).
void bv_stderr_capture_end(void);

/// Removes the scrolling capabilities (scroll region, index, insert/delete line) from the
/// terminal description curses loaded, after `initscr`: curses then never shifts lines on the
/// screen, which would move images it does not know about (curses_scrolling.c says why).
/// Returns 1 when they were removed, 0 when the terminal description was not as expected.
int bv_curses_disable_scrolling(void);

#endif
