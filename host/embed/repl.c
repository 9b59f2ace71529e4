/* The REPL, following lua.c: a line is first tried as `return <line>;`,
 * then as a statement; an incomplete chunk (<eof> error) asks for more with
 * _PROMPT2; a leading '=' means return; results are printed with print;
 * errors print a traceback and the loop goes on; Ctrl-C interrupts the
 * running chunk (fmh_docall's hook), and at the prompt drops the line typed
 * so far. Prompts, line editing and history (kept in the file the caller
 * names) only when stdin is a terminal, so piped input gives clean output;
 * piped input ends with status 1 when any chunk failed, as `lua < file`. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmhost/interp.h"

#ifdef FMH_HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#define EOFMARK "<eof>"
#define MARKLEN (sizeof(EOFMARK) / sizeof(char) - 1)
#define HISTORY_MAX 1000

int fmh_repl(lua_State *L, const char *history_file);

static int interactive;
static volatile sig_atomic_t prompt_interrupted;

/* SIGINT while no chunk runs: at the prompt it drops the line (see
 * line_getc); between a line and its chunk it is forgotten. fmh_docall
 * replaces it while a chunk runs and puts it back afterwards. */
static void on_sigint(int sig) {
  (void)sig;
  prompt_interrupted = 1;
}

/* Pushes the prompt, always exactly one string. */
static const char *get_prompt(lua_State *L, int firstline) {
  if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
    lua_pop(L, 1);
    return lua_pushstring(L, firstline ? "fmhost> " : "    >> ");
  }
  const char *p = luaL_tolstring(L, -1, NULL);
  lua_remove(L, -2);             /* keep the string, drop the global */
  return p;
}

/* A whole line from stdin however long it is: 1, or 0 at end of input.
 * Pushes the line with its newline removed. */
static int read_stdin_line(lua_State *L) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int got = 0;
  for (;;) {
    char *p = luaL_prepbuffer(&b);
    errno = 0;
    if (fgets(p, LUAL_BUFFERSIZE, stdin) == NULL) {
      if (ferror(stdin) && errno == EINTR && interactive) {
        clearerr(stdin);         /* Ctrl-C at the prompt: an empty line */
        fputc('\n', stdout);
        luaL_pushresult(&b);
        lua_pop(L, 1);
        lua_pushliteral(L, "");
        return 1;
      }
      break;
    }
    size_t l = strlen(p);
    got = 1;
    luaL_addsize(&b, l);
    if (l > 0 && p[l - 1] == '\n') break;
  }
  luaL_pushresult(&b);
  if (!got) {
    lua_pop(L, 1);
    return 0;
  }
  size_t l;
  const char *s = lua_tolstring(L, -1, &l);
  if (l > 0 && s[l - 1] == '\n') {
    lua_pushlstring(L, s, l - 1);
    lua_remove(L, -2);
  }
  return 1;
}

#ifdef FMH_HAVE_READLINE
/* readline's getc, so that Ctrl-C at the prompt gives a fresh prompt as a
 * shell does (readline's own handling would pass SIGINT on and end fmhost).
 * readline keeps catching signals, so it restores the terminal and calls
 * on_sigint; the line is then accepted and dropped by pushline. */
static int line_getc(FILE *f) {
  for (;;) {
    if (prompt_interrupted) return '\n';
    unsigned char c;
    ssize_t r = read(fileno(f), &c, 1);
    if (r == 1) return c;
    if (r == 0) return EOF;
    if (errno != EINTR) return RL_ISSTATE(RL_STATE_READCMD) ? READERR : EOF;
    int sig = rl_pending_signal();
    rl_check_signals();
    if (sig == SIGINT) prompt_interrupted = 1;
  }
}
#endif

/* Push one line as typed, without its newline: 1; 0 at end of input; -1
 * (nothing pushed) when Ctrl-C dropped a continuation line. */
static int pushline(lua_State *L, int firstline) {
  if (!interactive) return read_stdin_line(L);
  const char *prmt = get_prompt(L, firstline);
#ifdef FMH_HAVE_READLINE
  for (;;) {
    prompt_interrupted = 0;
    char *b = readline(prmt);
    if (!b) {
      lua_pop(L, 1);             /* prompt */
      return 0;
    }
    if (prompt_interrupted) {    /* Ctrl-C: drop the line, prompt again */
      free(b);
      if (!firstline) {          /* and the chunk begun on earlier lines */
        lua_pop(L, 1);
        return -1;
      }
      continue;
    }
    lua_pop(L, 1);               /* prompt */
    lua_pushstring(L, b);
    free(b);
    return 1;
  }
#else
  fputs(prmt, stdout);
  fflush(stdout);
  lua_pop(L, 1);
  return read_stdin_line(L);
#endif
}

/* Load a chunk; a leading '=' stands for return. */
static int load_text(lua_State *L, const char *s, size_t len) {
  if (len == 0 || s[0] != '=') return luaL_loadbuffer(L, s, len, "=stdin");
  lua_pushliteral(L, "return ");
  lua_pushlstring(L, s + 1, len - 1);
  lua_concat(L, 2);
  const char *r = lua_tolstring(L, -1, &len);
  int status = luaL_loadbuffer(L, r, len, "=stdin");
  lua_remove(L, -2);
  return status;
}

static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  if (line[0] == '=') return LUA_ERRSYNTAX; /* already a return: load_text */
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) lua_remove(L, -2); /* remove modified line */
  else lua_pop(L, 2);            /* pop result from loadbuffer and modified line */
  return status;
}

static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= MARKLEN && strcmp(msg + lmsg - MARKLEN, EOFMARK) == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

/* The line at index 1 and the lines after it until the chunk is complete.
 * -2 when Ctrl-C dropped the unfinished chunk. */
static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = load_text(L, line, len);
    if (!incomplete(L, status)) return status;
    int more = pushline(L, 0);
    if (more < 0) {
      lua_settop(L, 0);
      return -2;
    }
    if (more == 0) return load_text(L, line, len); /* end of input: its error */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

static void save_history(lua_State *L, const char *history_file) {
#ifdef FMH_HAVE_READLINE
  if (interactive && lua_rawlen(L, 1) > 0) {
    add_history(lua_tostring(L, 1));
    if (history_file) append_history(1, history_file);
  }
#else
  (void)L;
  (void)history_file;
#endif
}

/* -1 at end of input, -2 for a line to skip, else a load status with the
 * chunk (or its error) on the stack. */
static int loadline(lua_State *L, const char *history_file) {
  lua_settop(L, 0);
  if (!pushline(L, 1)) return -1;
  int status = addreturn(L);
  if (status != LUA_OK) status = multiline(L);
  if (status == -2) return -2;
  save_history(L, history_file);
  lua_remove(L, 1);              /* the line; the chunk stays */
  return status;
}

static void print_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0) return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  lua_getglobal(L, "print");
  lua_insert(L, 1);
  if (lua_pcall(L, n, 0, 0) != LUA_OK) {
    fprintf(stderr, "error calling 'print' (%s)\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

static void history_open(const char *history_file) {
#ifdef FMH_HAVE_READLINE
  using_history();
  /* a chunk of several lines stays one entry in the file too */
  history_comment_char = '#';
  history_write_timestamps = 1;
  history_multiline_entries = 1;
  if (!history_file) return;
  if (read_history(history_file) != 0) write_history(history_file); /* create it */
#else
  (void)history_file;
#endif
}

static void history_close(const char *history_file) {
#ifdef FMH_HAVE_READLINE
  if (history_file) history_truncate_file(history_file, HISTORY_MAX);
#else
  (void)history_file;
#endif
}

int fmh_repl(lua_State *L, const char *history_file) {
  interactive = isatty(STDIN_FILENO);
  void (*old_int)(int) = SIG_DFL;
  if (interactive) {
    lua_getglobal(L, "_FMHOST_VERSION");
    printf("fmhost %s (%s); modules under `fmhost`, config in `cfg`; Ctrl-D leaves\n",
           lua_tostring(L, -1) ? lua_tostring(L, -1) : "?", LUA_RELEASE);
    lua_pop(L, 1);
    history_open(history_file);
#ifdef FMH_HAVE_READLINE
    rl_getc_function = line_getc;
    /* no bracketed-paste escapes around each line: a terminal that is logged
       (script, tmux capture, CI) shows the results as plain lines */
    rl_variable_bind("enable-bracketed-paste", "off");
#endif
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;   /* no SA_RESTART: a read at the prompt returns */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, &old) == 0) old_int = old.sa_handler;
  }
  int status, failed = 0;
  while ((status = loadline(L, history_file)) != -1) {
    if (status == -2) continue;
    if (status == LUA_OK) status = fmh_docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) {
      print_results(L);
    } else {
      failed = 1;
      fmh_report(L, NULL);
    }
    lua_settop(L, 0);
  }
  if (interactive) {
    putchar('\n');
    history_close(history_file);
    signal(SIGINT, old_int);
  }
  fflush(stdout);
  return interactive ? 0 : failed;
}
