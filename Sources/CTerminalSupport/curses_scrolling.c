// Keeping ncurses from scrolling the screen (issue 18, item 9). Images are written straight to
// the terminal after curses' refresh, so curses believes their cells are blank. When the text
// beside an image moves down a few rows (the case panel grows after a label reveals the
// model), curses' scroll optimisation finds the moved lines and shifts them with a scroll
// region (`CSI t;b r` then `CSI n T`), which drags the image along and leaves blank rows in it
// that nothing redraws. `idlok(FALSE)` only turns off insert/delete line; scroll regions and
// index stay in use, and curses has no call to turn them off.
//
// Curses reads capabilities from its extended copy of the terminal description (ncurses 6's
// TERMTYPE2), which term.h keeps private; the public `type` is a separate copy, so changing
// it does nothing. The extended copy is found inside the terminal structure by its shape (a
// TERMTYPE2 starts with the names twice, and its counts equal the public copy's), then checked
// against what `tigetstr` returns for every capability touched; if anything does not match,
// nothing is changed. The scrolling capabilities are then removed: every scroll attempt fails
// and curses rewrites the changed cells in place.
// The header first: term.h defines `columns` and `lines` as macros.
#include "CTerminalSupport.h"
#define NCURSES_WIDECHAR 1
#include <ncursesw/curses.h>
#include <ncursesw/term.h>
#include <stdint.h>
#include <string.h>

/// The capabilities curses scrolls with, by terminfo name.
static const char *const scrolling_caps[] = {"csr", "ind", "ri", "indn", "rin", "il1", "dl1", "il", "dl"};
enum { scrolling_count = sizeof scrolling_caps / sizeof scrolling_caps[0] };

/// How far into the terminal structure to look for the extended copy, in pointer-sized words.
enum { search_words = 256 };

int bv_curses_disable_scrolling(void) {
  if (cur_term == NULL) return 0;
  const uintptr_t *words = (const uintptr_t *)cur_term;
  // The public copy: names, string table, booleans, numbers, strings, extended table, extended
  // names, then the counts packed in the next word.
  const int counts = (int)(offsetof(TERMTYPE, num_Booleans) / sizeof(uintptr_t));
  char *values[scrolling_count];
  for (int c = 0; c < scrolling_count; c++) {
    char *v = tigetstr(scrolling_caps[c]);
    values[c] = (v == (char *)-1) ? NULL : v;
  }
  for (int i = counts + 1; i + counts < search_words; i++) {
    if (words[i] == 0 || words[i] != words[i + 1] || words[i + counts] != words[counts]) continue;
    char **strings = (char **)words[i + 4];
    if (strings == NULL || strings == cur_term->type.Strings) continue;
    int slots[scrolling_count];
    int matched = 1;
    for (int c = 0; c < scrolling_count && matched; c++) {
      slots[c] = -1;
      if (values[c] == NULL) continue;
      for (int k = 0; k < (int)cur_term->type.num_Strings; k++) {
        if (strings[k] == values[c]) {
          slots[c] = k;
          break;
        }
      }
      if (slots[c] < 0) matched = 0;
    }
    if (!matched) continue;
    for (int c = 0; c < scrolling_count; c++) {
      if (slots[c] >= 0) strings[slots[c]] = NULL;
    }
    return 1;
  }
  return 0;
}
