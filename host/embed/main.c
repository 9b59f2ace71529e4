/* fmhost's entry point.
 *
 * C handles only what must not depend on the Lua library being found
 * (--version, --help) and the REPL's terminal; everything else — option
 * parsing, configuration, the spec runner, the stack, benchmarks — is
 * scripts/fmhost/cli.lua, so a user can change it without recompiling.
 * main() itself does nothing but a protected call, so that any error, out of
 * memory included, is reported rather than aborting the process. */
#include <curl/curl.h>
#include <jansson.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fmh_build.h"
#include "fmhost/interp.h"
#include "fmhost/log.h"

int fmh_repl(lua_State *L, const char *history_file);

static void print_version(void) {
  curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
  printf("fmhost %s\n", FMH_VERSION);
  printf("  %s\n", LUA_RELEASE);
  printf("  libmariadb %s\n", mysql_get_client_info());
  printf("  libcurl %s\n", cv->version);
  printf("  libyaml %s\n", yaml_get_version_string());
  printf("  jansson %s\n", JANSSON_VERSION);
}

static void print_help(void) {
  fputs(
      "usage: fmhost [options] PATH...        run spec files and folders (busted)\n"
      "       fmhost [options] [repl]         interactive Lua with the fmhost modules\n"
      "       fmhost [options] -e CHUNK       run a Lua chunk\n"
      "       fmhost [options] run FILE [ARG...]  run a Lua file\n"
      "       fmhost [options] stack up|down|status   the private local stack\n"
      "       fmhost [options] bench [NAME...]  benchmarks, written to build/bench/NAME.json\n"
      "       fmhost [options] check [PATH...]  run pipeline descriptions (*.pipeline.lua);\n"
      "                                       check --help lists its options\n"
      "       fmhost [options] config show    the effective configuration and origins\n"
      "\n"
      "options:\n"
      "  --env NAME          overlay config/NAME.yaml (also FMHOST_ENV)\n"
      "  --set KEY=VALUE     override one configuration key (repeatable)\n"
      "  --log-level LEVEL   trace|debug|info|warn|error|off (default warn)\n"
      "  --log-file FILE     also append JSON log lines to FILE\n"
      "  --trace             log every primitive call (implies --log-level trace)\n"
      "  --version, --help\n"
      "\n"
      "spec options (passed to busted): --tags T, --exclude-tags T, --filter F,\n"
      "  --seed N (also FMHOST_SEED: property checks replay from it), -o HANDLER,\n"
      "  --junit FILE (JUnit XML beside the normal output)\n",
      stdout);
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  lua_createtable(L, argc, 1);   /* arg: [0] the program, [1..] its words */
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_setglobal(L, "arg");
  lua_getglobal(L, "require");
  lua_pushliteral(L, "fmhost.cli");
  if (fmh_docall(L, 1, 1) != LUA_OK) {
    fmh_report(L, "fmhost");
    lua_pushinteger(L, 1);
    return 1;
  }
  lua_getfield(L, -1, "main");
  lua_getglobal(L, "arg");
  /* an exit status, or "repl" and the history file */
  if (fmh_docall(L, 1, 2) != LUA_OK) {
    fmh_report(L, "fmhost");
    lua_pushinteger(L, 1);
    return 1;
  }
  if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "repl") == 0) {
    lua_pushvalue(L, -1);        /* anchored in the registry for the whole REPL */
    lua_setfield(L, LUA_REGISTRYINDEX, "fmhost.repl.history");
    const char *hist = lua_tostring(L, -1);
    int rc = fmh_repl(L, hist);
    lua_pushinteger(L, rc);
  } else if (!lua_isinteger(L, -2)) {
    lua_pushinteger(L, 0);
  } else {
    lua_pop(L, 1);
  }
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--version") == 0) { print_version(); return 0; }
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    print_help();
    return 0;
  }
  /* Global library set-up happens once, before any thread exists. */
  curl_global_init(CURL_GLOBAL_DEFAULT);
  mysql_library_init(0, NULL, NULL);
  lua_State *L = fmh_interp_new();
  if (!L) { fputs("fmhost: cannot create Lua state: not enough memory\n", stderr); return 1; }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int rc = 1;
  if (status == LUA_OK) rc = (int)lua_tointeger(L, -1);
  else fmh_report(L, "fmhost");
  lua_close(L);
  fmh_log_close();
  mysql_library_end();
  curl_global_cleanup();
  return rc;
}
