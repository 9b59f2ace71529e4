/* The REPL, following lua.c: a line is first tried as `return <line>;`,
 * then as a statement; an incomplete chunk (<eof> error) asks for more with
 * _PROMPT2; a leading '=' means return; results are printed with print;
 * errors print a traceback and the loop goes on; Ctrl-C interrupts the
 * running chunk (fmh_docall's hook). Prompts and history only when stdin is
 * a terminal, so piped input gives clean output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmhost/interp.h"

#ifdef FMH_HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#define MAXINPUT 4096
#define EOFMARK "<eof>"
#define MARKLEN (sizeof(EOFMARK) / sizeof(char) - 1)

int fmh_repl(lua_State *L);

static int interactive;

static const char *get_prompt(lua_State *L, int firstline) {
  if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
    lua_pop(L, 1);
    return firstline ? "fmhost> " : "    >> ";
  }
  const char *p = luaL_tolstring(L, -1, NULL);
  lua_remove(L, -2);             /* keep the string, drop the global */
  return p;
}

/* Push one line without its newline; 0 at end of input. */
static int pushline(lua_State *L, int firstline) {
  const char *prmt = interactive ? get_prompt(L, firstline) : NULL;
#ifdef FMH_HAVE_READLINE
  if (interactive) {
    char *b = readline(prmt);
    lua_pop(L, 1);               /* prompt */
    if (!b) return 0;
    size_t l = strlen(b);
    if (firstline && b[0] == '=') lua_pushfstring(L, "return %s", b + 1);
    else lua_pushlstring(L, b, l);
    free(b);
    return 1;
  }
#endif
  char buf[MAXINPUT];
  if (prmt) { fputs(prmt, stdout); fflush(stdout); lua_pop(L, 1); }
  if (fgets(buf, sizeof buf, stdin) == NULL) return 0;
  size_t l = strlen(buf);
  if (l > 0 && buf[l - 1] == '\n') buf[--l] = '\0';
  if (firstline && buf[0] == '=') lua_pushfstring(L, "return %s", buf + 1);
  else lua_pushlstring(L, buf, l);
  return 1;
}

static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
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

static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, line, len, "=stdin");
    if (!incomplete(L, status) || !pushline(L, 0)) return status;
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

static int loadline(lua_State *L) {
  lua_settop(L, 0);
  if (!pushline(L, 1)) return -1;
  int status = addreturn(L);
  if (status != LUA_OK) status = multiline(L);
#ifdef FMH_HAVE_READLINE
  if (interactive && lua_rawlen(L, 1) > 0) add_history(lua_tostring(L, 1));
#endif
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

int fmh_repl(lua_State *L) {
  interactive = isatty(STDIN_FILENO);
  if (interactive) {
    lua_getglobal(L, "_FMHOST_VERSION");
    printf("fmhost %s (%s); modules under `fmhost`, config in `cfg`; Ctrl-D leaves\n",
           lua_tostring(L, -1) ? lua_tostring(L, -1) : "?", LUA_RELEASE);
    lua_pop(L, 1);
#ifdef FMH_HAVE_READLINE
    using_history();
#endif
  }
  int status;
  while ((status = loadline(L)) != -1) {
    if (status == LUA_OK) status = fmh_docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) print_results(L);
    else fmh_report(L, NULL);
    lua_settop(L, 0);
  }
  if (interactive) putchar('\n');
  fflush(stdout);
  return 0;
}
