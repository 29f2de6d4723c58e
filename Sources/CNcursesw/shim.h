// ncurses, wide-character build. DESIGN §8: NCURSES_WIDECHAR must be defined before
// the include or the wide API (mvadd_wch, mvaddnwstr) is missing; Swift 6 cannot use
// the C globals stdscr/LINES/COLS nor function-like macros, so they are wrapped here.
#ifndef BLASTVIEW_CNCURSESW_SHIM_H
#define BLASTVIEW_CNCURSESW_SHIM_H
#define NCURSES_WIDECHAR 1
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <ncursesw/curses.h>

static inline WINDOW *bv_stdscr(void) { return stdscr; }
static inline int bv_lines(void) { return LINES; }
static inline int bv_cols(void) { return COLS; }
static inline int bv_color_pair(int n) { return (int)COLOR_PAIR(n); }
static inline attr_t bv_a_bold(void) { return A_BOLD; }
static inline attr_t bv_a_reverse(void) { return A_REVERSE; }
static inline attr_t bv_a_underline(void) { return A_UNDERLINE; }
static inline attr_t bv_a_dim(void) { return A_DIM; }
static inline attr_t bv_a_normal(void) { return A_NORMAL; }
static inline int bv_getmaxy(WINDOW *w) { return getmaxy(w); }
static inline int bv_getmaxx(WINDOW *w) { return getmaxx(w); }
static inline int bv_key_resize(void) { return KEY_RESIZE; }
static inline int bv_key_mouse(void) { return KEY_MOUSE; }
static inline int bv_err(void) { return ERR; }
static inline const char *bv_curses_version(void) { return curses_version(); }
// setupterm is declared in term.h, whose many macros (columns, lines, ...) we keep out of
// Swift. 1: terminfo has an entry for `term`; 0: no such entry; -1: no terminfo database.
extern int setupterm(const char *, int, int *);
static inline int bv_terminfo_status(const char *term) {
  int err = 0;
  if (setupterm(term, 2, &err) == 0) return 1;
  return err == 1 ? 0 : err;
}
static inline int bv_colors(void) { return COLORS; }
static inline int bv_color_pairs(void) { return COLOR_PAIRS; }
// Colour pairs with int colour numbers (ncurses 6.1+): 24-bit terminals (`xterm-direct`)
// number colours 0xRRGGBB, which init_pair's short cannot hold.
static inline int bv_init_pair(int pair, int fg, int bg) { return init_extended_pair(pair, fg, bg); }
static inline int bv_setcchar(cchar_t *cc, const wchar_t *wch, attr_t attrs, int pair) {
  return setcchar(cc, wch, attrs, 0, &pair);
}
static inline WINDOW *bv_curscr(void) { return curscr; }
/// A terminfo string capability, or NULL when the terminal lacks it (terminfo's -1 too).
static inline const char *bv_tigetstr(const char *name) {
  char *s = tigetstr(name);
  return (s == (char *)-1) ? (const char *)0 : s;
}
#endif
