#ifndef KIRA_CNCURSESW_SHIM_H
#define KIRA_CNCURSESW_SHIM_H

/* SwiftPM drops pkg-config's -D flags, so the wide-character API is switched on here. */
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1

#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>

/* Globals and function-like macros do not import into Swift: small inline helpers do. */
static inline WINDOW *kira_stdscr(void) { return stdscr; }
static inline int kira_lines(void) { return LINES; }
static inline int kira_cols(void) { return COLS; }
static inline void kira_getmaxyx(WINDOW *window, int *rows, int *cols) { int y, x; getmaxyx(window, y, x); *rows = y; *cols = x; }
static inline attr_t kira_a_normal(void) { return A_NORMAL; }
static inline attr_t kira_a_bold(void) { return A_BOLD; }
static inline attr_t kira_a_reverse(void) { return A_REVERSE; }
static inline attr_t kira_a_dim(void) { return A_DIM; }
static inline attr_t kira_a_underline(void) { return A_UNDERLINE; }
static inline attr_t kira_color_pair(short pair) { return COLOR_PAIR(pair); }
static inline int kira_key_resize(void) { return KEY_RESIZE; }
static inline int kira_key_up(void) { return KEY_UP; }
static inline int kira_key_down(void) { return KEY_DOWN; }
static inline int kira_key_left(void) { return KEY_LEFT; }
static inline int kira_key_right(void) { return KEY_RIGHT; }
static inline int kira_key_npage(void) { return KEY_NPAGE; }
static inline int kira_key_ppage(void) { return KEY_PPAGE; }
static inline int kira_key_home(void) { return KEY_HOME; }
static inline int kira_key_end(void) { return KEY_END; }
static inline int kira_key_btab(void) { return KEY_BTAB; }
static inline int kira_key_enter(void) { return KEY_ENTER; }
static inline int kira_key_backspace(void) { return KEY_BACKSPACE; }
static inline int kira_key_code_yes(void) { return KEY_CODE_YES; }
static inline int kira_err(void) { return ERR; }

/* wcwidth is in the C library, but the system module may hide it; declare it here. */
extern int wcwidth(wchar_t c);
static inline int kira_wcwidth(unsigned int scalar) { return wcwidth((wchar_t)scalar); }

#endif
