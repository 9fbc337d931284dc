/*
 * test-events.c - events: their JSON and text (exact strings), the hooks
 * (little shell scripts written into a temporary directory that record
 * what they got), and the event log (appending, rotation, reading,
 * following, and several processes at once).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture-log.h"
#include "fake-sysfs.h"
#include "pciback-helper/util.h"
#include "toolstack/events.h"

/* 2025-11-27T00:00:00.250Z */
#define T0 1764201600250LL

struct fix {
    char dir[64];    /* the test's temporary directory */
    char state[96];  /* DIR/state */
    char hooks[96];  /* DIR/hooks.d */
    char record[96]; /* DIR/record: what the hooks saw */
    struct capture_log lg;
    xengpu_events_config cfg;
    xengpu_events *ev;
};

#define LG(f) (&(f)->lg.vtable)

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reopen(struct fix *f)
{
    xengpu_events_close(f->ev);
    f->ev = NULL;
    assert_int_equal(xengpu_events_open(&f->cfg, LG(f), &f->ev), 0);
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->dir, "/tmp/xengpu-events-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
    snprintf(f->hooks, sizeof(f->hooks), "%s/hooks.d", f->dir);
    snprintf(f->record, sizeof(f->record), "%s/record", f->dir);
    assert_int_equal(mkdir(f->hooks, 0755), 0);
    assert_int_equal(chmod(f->hooks, 0755), 0); /* whatever the umask */
    capture_log_init(&f->lg);
    xengpu_events_config_init(&f->cfg);
    f->cfg.state_dir = f->state;
    f->cfg.hooks_dir = f->hooks;
    f->cfg.host = "dom0a";
    f->cfg.hook_timeout_ms = 10000;
    reopen(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    xengpu_events_close(f->ev);
    chmod(f->hooks, 0755);
    fake_rmtree(f->dir);
    capture_log_dispose(&f->lg);
    free(f);
    return 0;
}

/* PATH's contents, malloc'ed; NULL when there is no such file. */
static char *slurp(const char *path)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *in = fopen(path, "re"), *out;
    int c;

    if (!in) return NULL;
    out = open_memstream(&buf, &size);
    assert_non_null(out);
    while ((c = getc(in)) != EOF)
        putc(c, out);
    fclose(in);
    fclose(out);
    return buf;
}

static char *slurp_in(const char *dir, const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return slurp(path);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* A hook NAME whose body is BODY after "#!/bin/sh"; $R is the record
 * file, $D the test directory. */
static void add_hook_mode(struct fix *f, const char *name, const char *body,
                          mode_t mode)
{
    char path[256], *text;

    snprintf(path, sizeof(path), "%s/%s", f->hooks, name);
    text = xengpu__xasprintf("#!/bin/sh\nR=%s\nD=%s\n%s\n", f->record, f->dir,
                             body);
    write_file(path, text, mode);
    free(text);
}

static void add_hook(struct fix *f, const char *name, const char *body)
{
    add_hook_mode(f, name, body, 0755);
}

/* Appends "NAME ARGC ARG1 ARG2 XENGPU_EVENT XENGPU_PHASE" to $R and
 * keeps its stdin as $D/stdin-NAME. */
#define RECORD_BODY                                               \
    "n=$(basename \"$0\")\n"                                      \
    "echo \"$n $# $1 $2 $XENGPU_EVENT $XENGPU_PHASE\" >>\"$R\"\n" \
    "cat >\"$D/stdin-$n\"\n"

static void fixed(xengpu_event *e, xengpu_event_kind kind,
                  xengpu_event_phase phase)
{
    xengpu_bdf card = { .domain = 0, .bus = 1, .dev = 0, .fn = 0 };

    xengpu_event_init(e, kind, phase);
    xengpu_event_set_card(e, &card);
    xengpu_event_set_domain(e, 5, "guest1");
    if (phase == XENGPU_PHASE_POST) xengpu_event_set_result(e, 0, NULL);
    e->seq = 42;
    e->time_ms = T0;
    e->pid = 1234;
    strcpy(e->host, "dom0a");
}

/* --- JSON and text --------------------------------------------------------- */

#define HEAD                                                           \
    "{\"version\":1,\"seq\":42,\"time\":\"2025-11-27T00:00:00.250Z\"," \
    "\"host\":\"dom0a\",\"pid\":1234,"
#define MID ",\"card\":\"0000:01:00.0\",\"domid\":5,\"domain\":\"guest1\","
#define NONE "\"result\":null,\"error\":null}\n"
#define OK "\"result\":\"ok\",\"error\":null}\n"
#define KP(k, p) "\"kind\":\"" k "\",\"phase\":\"" p "\""

static const struct {
    xengpu_event_kind kind;
    xengpu_event_phase phase;
    const char *json;
} json_cases[] = {
    { XENGPU_EVENT_PREPARE, XENGPU_PHASE_PRE,
      HEAD KP("prepare", "pre") MID NONE },
    { XENGPU_EVENT_PREPARE, XENGPU_PHASE_POST,
      HEAD KP("prepare", "post") MID OK },
    { XENGPU_EVENT_RELEASE, XENGPU_PHASE_PRE,
      HEAD KP("release", "pre") MID NONE },
    { XENGPU_EVENT_RELEASE, XENGPU_PHASE_POST,
      HEAD KP("release", "post") MID OK },
    { XENGPU_EVENT_ATTACH, XENGPU_PHASE_PRE,
      HEAD KP("attach", "pre") MID NONE },
    { XENGPU_EVENT_ATTACH, XENGPU_PHASE_POST,
      HEAD KP("attach", "post") MID OK },
    { XENGPU_EVENT_DETACH, XENGPU_PHASE_PRE,
      HEAD KP("detach", "pre") MID NONE },
    { XENGPU_EVENT_DETACH, XENGPU_PHASE_POST,
      HEAD KP("detach", "post") MID OK },
    { XENGPU_EVENT_CREATE, XENGPU_PHASE_PRE,
      HEAD KP("create", "pre") MID NONE },
    { XENGPU_EVENT_CREATE, XENGPU_PHASE_POST,
      HEAD KP("create", "post") MID OK },
    { XENGPU_EVENT_SAVE, XENGPU_PHASE_PRE, HEAD KP("save", "pre") MID NONE },
    { XENGPU_EVENT_SAVE, XENGPU_PHASE_POST, HEAD KP("save", "post") MID OK },
    { XENGPU_EVENT_RESTORE, XENGPU_PHASE_PRE,
      HEAD KP("restore", "pre") MID NONE },
    { XENGPU_EVENT_RESTORE, XENGPU_PHASE_POST,
      HEAD KP("restore", "post") MID OK },
    { XENGPU_EVENT_MIGRATE, XENGPU_PHASE_PRE,
      HEAD KP("migrate", "pre") MID NONE },
    { XENGPU_EVENT_MIGRATE, XENGPU_PHASE_POST,
      HEAD KP("migrate", "post") MID OK },
    { XENGPU_EVENT_RECOVER, XENGPU_PHASE_PRE,
      HEAD KP("recover", "pre") MID NONE },
    { XENGPU_EVENT_RECOVER, XENGPU_PHASE_POST,
      HEAD KP("recover", "post") MID OK },
    { XENGPU_EVENT_MIGRATE, XENGPU_PHASE_PRECHECK,
      HEAD KP("migrate", "precheck") MID NONE },
    { XENGPU_EVENT_MIGRATE, XENGPU_PHASE_RESERVE,
      HEAD KP("migrate", "reserve") MID NONE },
    { XENGPU_EVENT_MIGRATE, XENGPU_PHASE_UNPLUG,
      HEAD KP("migrate", "unplug") MID NONE },
    { XENGPU_EVENT_MIGRATE, XENGPU_PHASE_TRANSFER,
      HEAD KP("migrate", "transfer") MID NONE },
    { XENGPU_EVENT_MIGRATE, XENGPU_PHASE_RESTORE,
      HEAD KP("migrate", "restore") MID NONE },
    { XENGPU_EVENT_MIGRATE, XENGPU_PHASE_PLUG,
      HEAD KP("migrate", "plug") MID NONE },
    { XENGPU_EVENT_MIGRATE, XENGPU_PHASE_COMMIT,
      HEAD KP("migrate", "commit") MID NONE },
    { XENGPU_EVENT_MIGRATE, XENGPU_PHASE_ROLLBACK,
      HEAD KP("migrate", "rollback") MID NONE },
};

static void test_json_each_kind_and_phase(void **state)
{
    xengpu_event e, back;
    size_t i;
    char *s;

    (void)state;
    /* the contract, spelled out once */
    fixed(&e, XENGPU_EVENT_ATTACH, XENGPU_PHASE_POST);
    xengpu_event_set_result(&e, -EBUSY, "hook 10-check-load refused: busy");
    s = xengpu_event_json(&e);
    assert_string_equal(
        s, "{\"version\":1,\"seq\":42,\"time\":\"2025-11-27T00:00:00.250Z\","
           "\"host\":\"dom0a\",\"pid\":1234,\"kind\":\"attach\","
           "\"phase\":\"post\",\"card\":\"0000:01:00.0\",\"domid\":5,"
           "\"domain\":\"guest1\",\"result\":\"failed\","
           "\"error\":\"hook 10-check-load refused: busy\"}\n");
    free(s);
    for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
        fixed(&e, json_cases[i].kind, json_cases[i].phase);
        assert_int_equal(xengpu_event_check(&e), 0);
        s = xengpu_event_json(&e);
        assert_string_equal(s, json_cases[i].json);
        assert_int_equal(xengpu_event_parse(s, strlen(s), &back), 0);
        assert_memory_equal(&back, &e, sizeof(e));
        free(s);
    }
}

static void test_json_absent_and_failed(void **state)
{
    xengpu_event e, back;
    char *s;

    (void)state;
    fixed(&e, XENGPU_EVENT_RECOVER, XENGPU_PHASE_POST);
    xengpu_event_set_card(&e, NULL);
    xengpu_event_set_domain(&e, -1, NULL);
    xengpu_event_set_result(&e, -EBUSY, "say \"no\" \\ twice\nsecond line");
    s = xengpu_event_json(&e);
    assert_string_equal(
        s, HEAD KP("recover", "post") ",\"card\":null,\"domid\":null,"
                                      "\"domain\":null,\"result\":\"failed\","
                                      "\"error\":\"say \\\"no\\\" \\\\ "
                                      "twice\"}\n");
    assert_int_equal(xengpu_event_parse(s, strlen(s), &back), 0);
    assert_memory_equal(&back, &e, sizeof(e));
    free(s);

    /* no error given: strerror; control bytes and bad UTF-8 become '?' */
    xengpu_event_set_result(&e, -ENODEV, NULL);
    assert_string_equal(e.error, "No such device");
    xengpu_event_set_domain(&e, 7, "g\x1b[31m\xc3\xa9t\xff\xc3");
    assert_string_equal(e.domain, "g?[31m\xc3\xa9t??");
    s = xengpu_event_json(&e);
    assert_non_null(strstr(s, "\"domid\":7,\"domain\":\"g?[31m\xc3\xa9t??\""));
    free(s);

    /* a long name is cut to the limit, at a character boundary */
    {
        char name[600];

        memset(name, 'x', sizeof(name));
        name[sizeof(name) - 1] = '\0';
        name[254] = '\xc3';
        name[255] = '\xa9';
        xengpu_event_set_domain(&e, 7, name);
        assert_int_equal(strlen(e.domain), 254);
    }
}

static void test_text(void **state)
{
    xengpu_event e;
    char *s;

    (void)state;
    fixed(&e, XENGPU_EVENT_ATTACH, XENGPU_PHASE_POST);
    s = xengpu_event_text(&e);
    assert_string_equal(s, "2025-11-27T00:00:00.250Z #42 attach/post      "
                           "0000:01:00.0 guest1(5) ok\n");
    free(s);
    e.phase = XENGPU_PHASE_PRE;
    e.result = XENGPU_RESULT_NONE;
    xengpu_event_set_domain(&e, 5, NULL);
    s = xengpu_event_text(&e);
    assert_string_equal(s, "2025-11-27T00:00:00.250Z #42 attach/pre       "
                           "0000:01:00.0 (5) -\n");
    free(s);
    fixed(&e, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_TRANSFER);
    xengpu_event_set_card(&e, NULL);
    xengpu_event_set_domain(&e, -1, "guest1");
    xengpu_event_set_result(&e, -EIO, "stream broke");
    s = xengpu_event_text(&e);
    assert_string_equal(s, "2025-11-27T00:00:00.250Z #42 migrate/transfer "
                           "-            guest1 failed: stream broke\n");
    free(s);
    xengpu_event_set_domain(&e, -1, NULL);
    e.time_ms = 0;
    e.result = XENGPU_RESULT_NONE;
    e.error[0] = '\0';
    s = xengpu_event_text(&e);
    assert_string_equal(s, "1970-01-01T00:00:00.000Z #42 migrate/transfer "
                           "-            - -\n");
    free(s);
}

static void test_names(void **state)
{
    xengpu_event_kind k;
    xengpu_event_phase p;
    int i;

    (void)state;
    for (i = 0; i < XENGPU_EVENT_NKINDS; i++) {
        assert_int_equal(
            xengpu_event_kind_parse(xengpu_event_kind_name(i), &k), 0);
        assert_int_equal(k, i);
    }
    for (i = 0; i < XENGPU_EVENT_NPHASES; i++) {
        assert_int_equal(
            xengpu_event_phase_parse(xengpu_event_phase_name(i), &p), 0);
        assert_int_equal(p, i);
    }
    assert_int_equal(xengpu_event_kind_parse("Attach", &k), -EINVAL);
    assert_int_equal(xengpu_event_phase_parse("", &p), -EINVAL);
    assert_string_equal(xengpu_event_kind_name(XENGPU_EVENT_NKINDS), "?");
    assert_string_equal(xengpu_event_phase_name(-1), "?");
    assert_null(xengpu_event_result_name(XENGPU_RESULT_NONE));
    assert_string_equal(xengpu_event_result_name(XENGPU_RESULT_FAILED),
                        "failed");
}

static void test_check(void **state)
{
    xengpu_event e;

    (void)state;
    fixed(&e, XENGPU_EVENT_ATTACH, XENGPU_PHASE_TRANSFER);
    assert_int_equal(xengpu_event_check(&e), -EINVAL); /* migrate only */
    fixed(&e, XENGPU_EVENT_ATTACH, XENGPU_PHASE_PRE);
    xengpu_event_set_result(&e, 0, NULL);
    assert_int_equal(xengpu_event_check(&e), -EINVAL); /* pre: no result */
    fixed(&e, XENGPU_EVENT_ATTACH, XENGPU_PHASE_POST);
    e.result = XENGPU_RESULT_NONE;
    assert_int_equal(xengpu_event_check(&e), -EINVAL); /* post: one */
    e.result = XENGPU_RESULT_FAILED;
    assert_int_equal(xengpu_event_check(&e), -EINVAL); /* and why */
    fixed(&e, XENGPU_EVENT_ATTACH, XENGPU_PHASE_POST);
    e.domid = -2;
    assert_int_equal(xengpu_event_check(&e), -EINVAL);
    fixed(&e, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_ROLLBACK);
    assert_int_equal(xengpu_event_check(&e), 0);
    xengpu_event_set_result(&e, -EIO, "x");
    assert_int_equal(xengpu_event_check(&e), 0); /* a phase may have one */
    e.kind = XENGPU_EVENT_NKINDS;
    assert_int_equal(xengpu_event_check(&e), -EINVAL);
}

static void test_parse_strict(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "not json",
        HEAD KP("attach", "pre") MID NONE "x",
        /* version */
        "{\"version\":2,\"seq\":1,\"time\":\"2025-11-27T00:00:00.000Z\","
        "\"host\":\"h\",\"pid\":1,\"kind\":\"attach\",\"phase\":\"pre\"}",
        /* a time that does not exist, or another form */
        "{\"version\":1,\"seq\":1,\"time\":\"2025-02-30T00:00:00.000Z\","
        "\"host\":\"h\",\"pid\":1,\"kind\":\"attach\",\"phase\":\"pre\"}",
        "{\"version\":1,\"seq\":1,\"time\":\"2025-11-27 00:00:00.000Z\","
        "\"host\":\"h\",\"pid\":1,\"kind\":\"attach\",\"phase\":\"pre\"}",
        "{\"version\":1,\"seq\":1,\"time\":\"2025-11-27T00:00:00Z\","
        "\"host\":\"h\",\"pid\":1,\"kind\":\"attach\",\"phase\":\"pre\"}",
        /* unknown names, wrong types, bad values */
        HEAD KP("attack", "pre") MID NONE,
        HEAD KP("attach", "transfer") MID NONE,
        HEAD KP("attach", "pre") ",\"card\":\"01:00.0\",\"domid\":5,"
                                 "\"domain\":\"g\"," NONE,
        HEAD KP("attach", "pre") ",\"card\":null,\"domid\":\"5\","
                                 "\"domain\":\"g\"," NONE,
        HEAD KP("attach", "pre") ",\"card\":null,\"domid\":-1,"
                                 "\"domain\":\"g\"," NONE,
        HEAD KP("attach", "post") MID NONE,
        HEAD KP("attach", "post") MID "\"result\":\"maybe\",\"error\":null}",
        HEAD KP("attach", "post") MID "\"result\":\"failed\",\"error\":null}",
        HEAD KP("attach", "post") MID "\"result\":\"ok\",\"error\":\"x\"}",
        /* missing required keys */
        "{\"version\":1,\"time\":\"2025-11-27T00:00:00.250Z\",\"host\":\"h\","
        "\"pid\":1,\"kind\":\"attach\",\"phase\":\"pre\"}",
        "{\"version\":1,\"seq\":1,\"time\":\"2025-11-27T00:00:00.250Z\","
        "\"pid\":1,\"kind\":\"attach\",\"phase\":\"pre\"}",
    };
    const char *line = HEAD KP("attach", "pre") MID NONE;
    const char *later = "{\"version\":1,\"seq\":3,\"time\":"
                        "\"2025-11-27T00:00:00.250Z\",\"host\":\"h\","
                        "\"pid\":1,\"kind\":\"attach\",\"phase\":\"pre\","
                        "\"later\":[1,2]}";
    xengpu_event e;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (xengpu_event_parse(bad[i], strlen(bad[i]), &e) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
    }
    /* an embedded newline or NUL, a cut line */
    assert_int_equal(xengpu_event_parse(line, strlen(line) - 5, &e), -EINVAL);
    assert_int_equal(xengpu_event_parse("{\"a\":\n1}", 8, &e), -EINVAL);
    assert_int_equal(xengpu_event_parse("{\0}", 3, &e), -EINVAL);
    /* unknown keys and absent optional ones are fine */
    assert_int_equal(xengpu_event_parse(later, strlen(later), &e), 0);
    assert_int_equal(e.seq, 3);
    assert_false(e.has_card);
    assert_int_equal(e.domid, -1);
    assert_int_equal(e.time_ms, T0);
}

/* --- hooks ------------------------------------------------------------------ */

static void attach_event(xengpu_event *e, xengpu_event_phase phase)
{
    xengpu_bdf card = { .domain = 0, .bus = 1, .dev = 0, .fn = 0 };

    xengpu_event_init(e, XENGPU_EVENT_ATTACH, phase);
    xengpu_event_set_card(e, &card);
    xengpu_event_set_domain(e, 5, "guest1");
    if (phase == XENGPU_PHASE_POST) xengpu_event_set_result(e, 0, NULL);
}

static void test_hooks_order_and_stdin(void **state)
{
    struct fix *f = *state;
    char *rec, *in, *log, *json;
    xengpu_event e;

    add_hook(f, "20-b", RECORD_BODY);
    add_hook(f, "10-a", RECORD_BODY);
    add_hook(f, "9-c", RECORD_BODY);
    add_hook(f, "B-upper", RECORD_BODY);
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    rec = slurp(f->record);
    assert_non_null(rec);
    /* C locale order, like run-parts */
    assert_string_equal(rec, "10-a 2 attach pre attach pre\n"
                             "20-b 2 attach pre attach pre\n"
                             "9-c 2 attach pre attach pre\n"
                             "B-upper 2 attach pre attach pre\n");
    /* each got the logged line, which is the stamped event */
    json = xengpu_event_json(&e);
    log = slurp_in(f->state, "events.log");
    assert_string_equal(log, json);
    in = slurp_in(f->dir, "stdin-10-a");
    assert_string_equal(in, json);
    free(in);
    in = slurp_in(f->dir, "stdin-B-upper");
    assert_string_equal(in, json);
    assert_int_equal(e.seq, 1);
    assert_string_equal(e.host, "dom0a");
    assert_int_equal(e.pid, getpid());
    assert_int_equal(f->lg.count, 0);
    free(in);
    free(log);
    free(json);
    free(rec);
}

static void test_hooks_environment(void **state)
{
    struct fix *f = *state;
    xengpu_event e;
    char *env, *cwd, *fd;
    int leak = open("/dev/null", O_RDONLY); /* not close-on-exec */

    assert_true(leak >= 0);
    assert_int_equal(dup2(leak, 50), 50);
    setenv("XENGPU_TEST_LEAK", "1", 1);
    add_hook(f, "10-env",
             "env | grep -v -e '^PWD=' -e '^SHLVL=' -e '^_=' | sort "
             ">\"$D/env\"\n"
             "pwd >\"$D/cwd\"\n"
             "if [ -e /proc/$$/fd/50 ]; then echo leaked; else echo closed; "
             "fi >\"$D/fd\"\n");
    attach_event(&e, XENGPU_PHASE_POST);
    e.kind = XENGPU_EVENT_DETACH;
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    unsetenv("XENGPU_TEST_LEAK");
    close(50);
    close(leak);
    env = slurp_in(f->dir, "env");
    cwd = slurp_in(f->dir, "cwd");
    fd = slurp_in(f->dir, "fd");
    assert_string_equal(env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
                             "XENGPU_EVENT=detach\n"
                             "XENGPU_PHASE=post\n");
    assert_string_equal(cwd, "/\n");
    assert_string_equal(fd, "closed\n");
    free(env);
    free(cwd);
    free(fd);
}

static void test_pre_hook_refuses(void **state)
{
    struct fix *f = *state;
    char *reason = NULL, *rec;
    xengpu_event e;

    add_hook(f, "10-ok", RECORD_BODY);
    add_hook(f, "20-check",
             RECORD_BODY "echo\n"
                         "echo '  load too high  '\n"
                         "echo 'second line' >&2\n"
                         "exit 3\n");
    add_hook(f, "30-after", RECORD_BODY);
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), -ECANCELED);
    assert_string_equal(reason, "hook 20-check refused: load too high");
    assert_true(capture_log_has(&f->lg, "attach/pre of 0000:01:00.0 for "
                                        "guest1: hook 20-check refused: load "
                                        "too high"));
    assert_true(capture_log_has(&f->lg, "hook 20-check: second line"));
    rec = slurp(f->record);
    assert_string_equal(rec, "10-ok 2 attach pre attach pre\n"
                             "20-check 2 attach pre attach pre\n");
    free(rec);

    /* the post event that follows carries the refusal; its hooks all run,
     * and 20-check failing again is only a warning */
    unlink(f->record);
    e.phase = XENGPU_PHASE_POST;
    xengpu_event_set_result(&e, -ECANCELED, reason);
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    rec = slurp(f->record);
    assert_string_equal(rec, "10-ok 2 attach post attach post\n"
                             "20-check 2 attach post attach post\n"
                             "30-after 2 attach post attach post\n");
    assert_true(capture_log_has(&f->lg, "warning: attach/post of "
                                        "0000:01:00.0 for guest1: hook "
                                        "20-check failed: load too high"));
    free(rec);
    rec = slurp_in(f->state, "events.log");
    assert_non_null(strstr(rec, "\"result\":\"failed\",\"error\":\"hook "
                                "20-check refused: load too high\"}\n"));
    free(rec);
    free(reason);
}

static void test_pre_hook_silent_failure(void **state)
{
    struct fix *f = *state;
    char *reason = NULL, path[256];
    xengpu_event e;

    add_hook(f, "10-quiet", "exit 4");
    add_hook(f, "20-signal", "kill -TERM $$");
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), -ECANCELED);
    assert_string_equal(reason, "hook 10-quiet refused: exit status 4");
    free(reason);
    reason = NULL;
    snprintf(path, sizeof(path), "%s/10-quiet", f->hooks);
    unlink(path);
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), -ECANCELED);
    assert_string_equal(reason, "hook 20-signal refused: killed by signal 15");
    free(reason);
    reason = NULL;
    /* neither a program nor a script: says so */
    snprintf(path, sizeof(path), "%s/05-binary", f->hooks);
    write_file(path,
               "\x7f"
               "ELF garbage",
               0755);
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), -ECANCELED);
    assert_string_equal(reason, "hook 05-binary cannot be run: Exec format "
                                "error (no #! line?)");
    free(reason);
}

/* Whether process PID is gone (or a zombie nobody reaped yet). */
static bool gone(pid_t pid)
{
    char path[64], *stat;
    bool dead;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    stat = slurp(path);
    if (!stat) return true;
    dead = strstr(stat, ") Z ") != NULL;
    free(stat);
    return dead;
}

static pid_t read_pid(struct fix *f, const char *name)
{
    char *s = slurp_in(f->dir, name);
    pid_t pid;

    assert_non_null(s);
    pid = atoi(s);
    free(s);
    assert_true(pid > 1);
    return pid;
}

static void test_hook_timeout_kills_group(void **state)
{
    struct fix *f = *state;
    char *reason = NULL, *rec;
    int64_t t0, spent;
    xengpu_event e;
    pid_t bg;
    int i;

    f->cfg.hook_timeout_ms = 300;
    reopen(f);
    add_hook(f, "10-slow",
             "sleep 30 &\n"
             "echo $! >\"$D/bg\"\n"
             "echo started\n"
             "sleep 30\n");
    add_hook(f, "20-later", RECORD_BODY);
    attach_event(&e, XENGPU_PHASE_PRE);
    t0 = now_ms();
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), -ECANCELED);
    spent = now_ms() - t0;
    assert_true(spent >= 300);
    assert_true(spent < 5000);
    assert_string_equal(reason, "hook 10-slow timed out after 300 ms: "
                                "started");
    free(reason);
    assert_null(slurp(f->record)); /* 20-later not run */
    bg = read_pid(f, "bg");
    for (i = 0; i < 100 && !gone(bg); i++)
        usleep(20000);
    assert_true(gone(bg)); /* the hook's background child too */

    /* on a post event a timeout is a warning, the rest still run */
    e.phase = XENGPU_PHASE_POST;
    xengpu_event_set_result(&e, 0, NULL);
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    rec = slurp(f->record);
    assert_string_equal(rec, "20-later 2 attach post attach post\n");
    assert_true(capture_log_has(&f->lg, "hook 10-slow timed out after 300 "
                                        "ms"));
    free(rec);
    bg = read_pid(f, "bg");
    for (i = 0; i < 100 && !gone(bg); i++)
        usleep(20000);
    assert_true(gone(bg));
}

static void test_hook_leaves_child_behind(void **state)
{
    struct fix *f = *state;
    int64_t t0, spent;
    xengpu_event e;
    pid_t bg;

    /* the child keeps the output pipe open: the hook is done anyway */
    add_hook(f, "10-daemon",
             "sleep 20 &\n"
             "echo $! >\"$D/bg\"\n"
             "echo forked\n");
    attach_event(&e, XENGPU_PHASE_PRE);
    t0 = now_ms();
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    spent = now_ms() - t0;
    assert_true(spent < 5000);
    assert_true(capture_log_has(&f->lg, "hook 10-daemon: forked"));
    bg = read_pid(f, "bg");
    kill(bg, SIGKILL);
}

static void test_hook_output_bounded(void **state)
{
    struct fix *f = *state;
    xengpu_event e;

    add_hook(f, "10-chatty",
             "i=0\n"
             "while [ $i -lt 2000 ]; do\n"
             "  echo \"line $i of some chatty output\"\n"
             "  i=$((i + 1))\n"
             "done\n");
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    assert_true(capture_log_has(&f->lg, "hook 10-chatty: line 0 of"));
    assert_false(capture_log_has(&f->lg, "line 1999 of"));
    assert_true(capture_log_has(&f->lg, "more bytes of output dropped"));
}

static void test_post_hook_failure(void **state)
{
    struct fix *f = *state;
    xengpu_event e;
    char *rec;

    add_hook(f, "10-fail", "echo oops; exit 1");
    add_hook(f, "20-rec", RECORD_BODY);
    attach_event(&e, XENGPU_PHASE_POST);
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    rec = slurp(f->record);
    assert_string_equal(rec, "20-rec 2 attach post attach post\n");
    assert_int_equal(f->lg.count, 1);
    assert_true(capture_log_has(&f->lg, "warning: attach/post of "
                                        "0000:01:00.0 for guest1: hook "
                                        "10-fail failed: oops"));
    free(rec);

    /* the phases of a migration are notices too */
    unlink(f->record);
    xengpu_event_init(&e, XENGPU_EVENT_MIGRATE, XENGPU_PHASE_UNPLUG);
    xengpu_event_set_domain(&e, 9, NULL);
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    rec = slurp(f->record);
    assert_string_equal(rec, "20-rec 2 migrate unplug migrate unplug\n");
    assert_true(capture_log_has(&f->lg, "migrate/unplug for domain 9: hook "
                                        "10-fail failed: oops"));
    free(rec);
}

static void test_hooks_skipped_files(void **state)
{
    struct fix *f = *state;
    static const char *const skipped[] = {
        "50-x~",       "50-x.dpkg-old", "50-x.dpkg-dist", "50-x.dpkg-new",
        "50-x.rpmnew", "50-x.rpmsave",  "50-x.bak",       ".hidden",
    };
    char path[256], target[256], *rec;
    xengpu_event e;
    size_t i;

    for (i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
        add_hook(f, skipped[i], RECORD_BODY);
    add_hook_mode(f, "60-noexec", RECORD_BODY, 0644);
    snprintf(path, sizeof(path), "%s/70-dir", f->hooks);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/75-dangling", f->hooks);
    assert_int_equal(symlink("/nonexistent/hook", path), 0);
    add_hook(f, "80-run", RECORD_BODY);
    /* a symlink to a hook elsewhere runs, under its own name */
    snprintf(target, sizeof(target), "%s/80-run", f->hooks);
    snprintf(path, sizeof(path), "%s/90-link", f->hooks);
    assert_int_equal(symlink(target, path), 0);
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    rec = slurp(f->record);
    assert_string_equal(rec, "80-run 2 attach pre attach pre\n"
                             "90-link 2 attach pre attach pre\n");
    assert_int_equal(f->lg.count, 0);
    free(rec);
}

static void test_hooks_unsafe(void **state)
{
    struct fix *f = *state;
    char *reason = NULL, path[256];
    xengpu_event e;

    add_hook(f, "10-ok", RECORD_BODY);
    add_hook(f, "20-open", RECORD_BODY);
    snprintf(path, sizeof(path), "%s/20-open", f->hooks);

    /* the directory writable by others: nothing runs */
    assert_int_equal(chmod(f->hooks, 0777), 0);
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), -EPERM);
    assert_non_null(strstr(reason, "is writable by group or others: no "
                                   "hooks run (chmod go-w "));
    free(reason);
    reason = NULL;
    assert_null(slurp(f->record));
    e.phase = XENGPU_PHASE_POST;
    xengpu_event_set_result(&e, -EPERM, "x");
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    assert_null(slurp(f->record));
    assert_true(capture_log_has(&f->lg, "warning: attach/post"));
    assert_int_equal(chmod(f->hooks, 0755), 0);

    /* one hook writable by the group: none runs before a pre event */
    assert_int_equal(chmod(path, 0775), 0);
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), -EPERM);
    assert_non_null(strstr(reason, "20-open is writable by group or others: "
                                   "not run (chmod go-w "));
    free(reason);
    reason = NULL;
    assert_null(slurp(f->record));
    /* after one, the others run */
    e.phase = XENGPU_PHASE_POST;
    xengpu_event_set_result(&e, 0, NULL);
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    reason = slurp(f->record);
    assert_string_equal(reason, "10-ok 2 attach post attach post\n");
    free(reason);
    reason = NULL;
    unlink(f->record);
    assert_int_equal(chmod(path, 0755), 0);

    /* owned by someone else (only root can make that happen) */
    if (geteuid() == 0) {
        assert_int_equal(chown(path, 65534, 65534), 0);
        assert_int_equal(chmod(path, 0755), 0);
        attach_event(&e, XENGPU_PHASE_PRE);
        assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), -EPERM);
        assert_non_null(strstr(reason, "20-open is not owned by root: not "
                                       "run (chown root "));
        free(reason);
        assert_null(slurp(f->record));
    }
}

static void test_no_hooks_dir(void **state)
{
    struct fix *f = *state;
    char *reason = NULL, other[128];
    xengpu_event e;

    snprintf(other, sizeof(other), "%s/none", f->dir);
    f->cfg.hooks_dir = other;
    reopen(f);
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), 0);
    assert_null(reason);
    assert_int_equal(f->lg.count, 0);
    assert_int_equal(e.seq, 1); /* logged all the same */

    /* $XENGPU_HOOKS_DIR when the config names none */
    add_hook(f, "10-rec", RECORD_BODY);
    f->cfg.hooks_dir = NULL;
    setenv("XENGPU_HOOKS_DIR", f->hooks, 1);
    reopen(f);
    unsetenv("XENGPU_HOOKS_DIR");
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), 0);
    reason = slurp(f->record);
    assert_string_equal(reason, "10-rec 2 attach pre attach pre\n");
    free(reason);
}

static void test_hooks_not_run_inside_a_hook(void **state)
{
    struct fix *f = *state;
    char *reason = NULL;
    xengpu_event e;

    add_hook(f, "10-no", "echo no; exit 1");
    setenv("XENGPU_EVENT", "attach", 1);
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), 0);
    unsetenv("XENGPU_EVENT");
    assert_null(reason);
    assert_true(capture_log_has(&f->lg, "running inside a hook"));
    assert_int_equal(e.seq, 1);
}

static void test_emit_invalid(void **state)
{
    struct fix *f = *state;
    char *reason = NULL, *log;
    xengpu_event e;

    add_hook(f, "10-rec", RECORD_BODY);
    attach_event(&e, XENGPU_PHASE_TRANSFER);
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), -EINVAL);
    assert_non_null(reason);
    assert_null(slurp(f->record));
    log = slurp_in(f->state, "events.log");
    assert_null(log);
    free(reason);
}

/* --- the event log ---------------------------------------------------------- */

/* The seq of each line of TEXT into SEQS (at most MAX); how many. Every
 * line must be an event. */
static size_t seqs_of(const char *text, uint64_t *seqs, size_t max)
{
    const char *p = text, *nl;
    xengpu_event e;
    size_t n = 0;

    for (; text && *p; p = nl + 1) {
        nl = strchr(p, '\n');
        assert_non_null(nl);
        if (xengpu_event_parse(p, nl - p, &e))
            fail_msg("not an event: %.*s", (int)(nl - p), p);
        assert_true(n < max);
        seqs[n++] = e.seq;
    }
    return n;
}

static void append_n(struct fix *f, int n, long domid)
{
    xengpu_event e;
    int i;

    for (i = 0; i < n; i++) {
        attach_event(&e, XENGPU_PHASE_PRE);
        e.domid = domid;
        assert_int_equal(xengpu_events_append(f->ev, &e), 0);
    }
}

static void test_log_append_and_seq(void **state)
{
    struct fix *f = *state;
    char *log, *json, path[256];
    uint64_t seqs[8];
    xengpu_event e;

    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_events_append(f->ev, &e), 0);
    assert_int_equal(e.seq, 1);
    json = xengpu_event_json(&e);
    append_n(f, 2, 5);
    log = slurp_in(f->state, "events.log");
    assert_int_equal(strncmp(log, json, strlen(json)), 0);
    assert_int_equal(seqs_of(log, seqs, 8), 3);
    assert_int_equal(seqs[2], 3);
    free(log);
    free(json);

    /* another process (handle) counts on */
    reopen(f);
    append_n(f, 1, 5);
    log = slurp_in(f->state, "events.seq");
    assert_string_equal(log, "4\n");
    free(log);

    /* a damaged counter: on from the log, with a warning */
    snprintf(path, sizeof(path), "%s/events.seq", f->state);
    write_file(path, "garbage", 0600);
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_events_append(f->ev, &e), 0);
    assert_int_equal(e.seq, 5);
    assert_true(capture_log_has(&f->lg, "events.seq is damaged: counting "
                                        "on from 4"));
    /* none at all: the same, quietly */
    unlink(path);
    assert_int_equal(xengpu_events_append(f->ev, &e), 0);
    assert_int_equal(e.seq, 6);
    assert_int_equal(f->lg.count, 1);
}

static void test_log_unwritable(void **state)
{
    struct fix *f = *state;
    char path[256], *rec;
    xengpu_event e;

    /* what even root cannot write to */
    add_hook(f, "10-rec", RECORD_BODY);
    snprintf(path, sizeof(path), "%s/events.log", f->state);
    assert_int_equal(mkdir(path, 0700), 0);
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, NULL), 0);
    assert_int_equal(e.seq, 0);
    assert_true(capture_log_has(&f->lg, "warning: cannot open the event log "
                                        "/tmp/xengpu-events-"));
    assert_int_equal(f->lg.count, 1);
    rec = slurp(f->record);
    assert_string_equal(rec, "10-rec 2 attach pre attach pre\n");
    free(rec);
    rec = slurp_in(f->dir, "stdin-10-rec");
    assert_non_null(strstr(rec, "{\"version\":1,\"seq\":0,"));
    free(rec);
}

static void test_no_state_dir(void **state)
{
    struct fix *f = *state;
    char path[256], *reason = NULL, *buf = NULL;
    xengpu_events_query q;
    size_t size = 0;
    xengpu_event e;
    FILE *out;

    /* a file where the state directory should be */
    snprintf(path, sizeof(path), "%s/file", f->dir);
    write_file(path, "", 0600);
    f->cfg.state_dir = path;
    reopen(f);
    assert_true(capture_log_has(&f->lg, "cannot open state directory"));
    add_hook(f, "10-no", "echo not now; exit 1");
    attach_event(&e, XENGPU_PHASE_PRE);
    assert_int_equal(xengpu_event_emit(f->ev, &e, &reason), -ECANCELED);
    assert_string_equal(reason, "hook 10-no refused: not now");
    assert_int_equal(e.seq, 0);
    free(reason);
    assert_int_equal(xengpu_events_append(f->ev, &e), -ENOTDIR);
    xengpu_events_query_init(&q);
    out = open_memstream(&buf, &size);
    assert_int_equal(xengpu_events_print(f->ev, &q, out), -ENOTDIR);
    fclose(out);
    free(buf);
}

static char *print_all(struct fix *f, const xengpu_events_query *q)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);

    assert_non_null(out);
    assert_int_equal(xengpu_events_print(f->ev, q, out), 0);
    fclose(out);
    return buf;
}

static void test_log_rotation(void **state)
{
    struct fix *f = *state;
    char *log1, *log, *all, *both;
    uint64_t seqs[64];
    xengpu_events_query q;
    size_t n1, n, i;
    struct stat st;
    char path[256];

    f->cfg.log_max = 2000;
    reopen(f);
    append_n(f, 30, 5);
    log1 = slurp_in(f->state, "events.log.1");
    log = slurp_in(f->state, "events.log");
    assert_non_null(log1);
    n1 = seqs_of(log1, seqs, 64);
    n = log ? seqs_of(log, seqs + n1, 64 - n1) : 0;
    assert_true(n1 > 0);
    for (i = 1; i < n1 + n; i++)
        assert_int_equal(seqs[i], seqs[i - 1] + 1);
    assert_int_equal(seqs[n1 + n - 1], 30);
    snprintf(path, sizeof(path), "%s/events.log.1", f->state);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size >= 2000 && st.st_size < 2000 + 400);

    /* read back: the older generation first */
    xengpu_events_query_init(&q);
    all = print_all(f, &q);
    both = xengpu__xasprintf("%s%s", log1, log ? log : "");
    assert_string_equal(all, both);
    free(all);
    q.text = true;
    all = print_all(f, &q);
    assert_non_null(strstr(all, " #30 attach/pre "));
    for (i = 0, n = 0; all[i]; i++)
        n += all[i] == '\n';
    assert_int_equal(n, n1 + (log ? seqs_of(log, seqs, 64) : 0));
    free(all);
    free(both);
    free(log1);
    free(log);
}

static void test_print_filters(void **state)
{
    struct fix *f = *state;
    xengpu_bdf other = { .domain = 0, .bus = 2, .dev = 0, .fn = 0 };
    xengpu_events_query q;
    uint64_t seqs[16];
    xengpu_event e;
    char *out, path[256];
    FILE *log;

    append_n(f, 2, 5);
    append_n(f, 1, 7);
    attach_event(&e, XENGPU_PHASE_PRE);
    xengpu_event_set_card(&e, &other);
    e.domid = 7;
    assert_int_equal(xengpu_events_append(f->ev, &e), 0);
    /* damage a line, as a power loss might, and add one past it */
    snprintf(path, sizeof(path), "%s/events.log", f->state);
    log = fopen(path, "ae");
    fputs("{\"version\":1,\"seq\":9,\"ti\n", log);
    fclose(log);
    append_n(f, 1, 5);

    xengpu_events_query_init(&q);
    out = print_all(f, &q);
    assert_int_equal(seqs_of(out, seqs, 16), 5); /* the damaged one not */
    free(out);
    q.domid = 7;
    out = print_all(f, &q);
    assert_int_equal(seqs_of(out, seqs, 16), 2);
    assert_int_equal(seqs[0], 3);
    assert_int_equal(seqs[1], 4);
    free(out);
    q.has_card = true;
    q.card = other;
    out = print_all(f, &q);
    assert_int_equal(seqs_of(out, seqs, 16), 1);
    assert_int_equal(seqs[0], 4);
    free(out);
    xengpu_events_query_init(&q);
    q.after_seq = 3;
    out = print_all(f, &q);
    assert_int_equal(seqs_of(out, seqs, 16), 2);
    assert_int_equal(seqs[0], 4);
    assert_int_equal(seqs[1], 5);
    free(out);
}

static void test_print_empty(void **state)
{
    struct fix *f = *state;
    xengpu_events_query q;
    char *out;

    xengpu_events_query_init(&q);
    out = print_all(f, &q);
    assert_string_equal(out, "");
    free(out);
}

/* In a child: a new handle on the same state, N events of DOMID, with
 * LOG_MAX; then exits. */
static void child_append(struct fix *f, size_t log_max, int n, long domid,
                         int delay_ms)
{
    xengpu_events_config cfg = f->cfg;
    xengpu_events *ev = NULL;
    xengpu_event e;
    int i;

    cfg.log_max = log_max;
    if (xengpu_events_open(&cfg, LG(f), &ev)) _exit(2);
    for (i = 0; i < n; i++) {
        if (delay_ms) usleep(delay_ms * 1000);
        attach_event(&e, XENGPU_PHASE_PRE);
        e.domid = domid;
        if (xengpu_events_append(ev, &e)) _exit(3);
    }
    xengpu_events_close(ev);
}

static void wait_ok(pid_t pid)
{
    int status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_follow_other_process(void **state)
{
    struct fix *f = *state;
    xengpu_events_query q;
    uint64_t seqs[16];
    int64_t t0, spent;
    char *out;
    pid_t pid;

    append_n(f, 1, 77); /* history: seq 1 */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_append(f, 0, 1, 77, 200); /* 2 */
        child_append(f, 0, 1, 3, 0);    /* 3: not this domain */
        /* every append rotates now: the lines are only ever in
         * events.log.1 */
        child_append(f, 1, 1, 77, 0);   /* 4 */
        child_append(f, 1, 1, 77, 300); /* 5 */
        _exit(0);
    }
    xengpu_events_query_init(&q);
    q.domid = 77;
    q.follow = true;
    q.timeout_ms = 1500;
    t0 = now_ms();
    out = print_all(f, &q);
    spent = now_ms() - t0;
    wait_ok(pid);
    assert_int_equal(seqs_of(out, seqs, 16), 4);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[1], 2);
    assert_int_equal(seqs[2], 4);
    assert_int_equal(seqs[3], 5);
    assert_true(spent >= 1500);
    assert_true(spent < 4000);
    free(out);
}

static void test_follow_new_only(void **state)
{
    struct fix *f = *state;
    xengpu_events_query q;
    uint64_t seqs[16];
    char *out;
    pid_t pid;

    append_n(f, 3, 5);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_append(f, 0, 2, 5, 150);
        _exit(0);
    }
    xengpu_events_query_init(&q);
    q.follow = true;
    q.new_only = true;
    q.text = true;
    q.timeout_ms = 800;
    out = print_all(f, &q);
    wait_ok(pid);
    assert_non_null(strstr(out, " #4 attach/pre "));
    assert_non_null(strstr(out, " #5 attach/pre "));
    assert_null(strstr(out, " #3 "));
    free(out);

    /* without new_only the history comes first */
    q.new_only = false;
    q.text = false;
    q.timeout_ms = 0;
    out = print_all(f, &q);
    assert_int_equal(seqs_of(out, seqs, 16), 5);
    free(out);
}

static int stop_calls;

static bool stop_third(void *arg)
{
    (void)arg;
    return ++stop_calls >= 3;
}

static void test_follow_stop_callback(void **state)
{
    struct fix *f = *state;
    xengpu_events_query q;
    int64_t t0, spent;
    char *out;

    xengpu_events_query_init(&q);
    q.follow = true;
    q.stop = stop_third; /* and no timeout */
    stop_calls = 0;
    t0 = now_ms();
    out = print_all(f, &q);
    spent = now_ms() - t0;
    assert_int_equal(stop_calls, 3);
    assert_true(spent < 2000);
    assert_string_equal(out, "");
    free(out);
}

#define WRITERS 4

static void check_concurrent(struct fix *f, int per_child, bool rotated)
{
    char *log1 = slurp_in(f->state, "events.log.1");
    char *log = slurp_in(f->state, "events.log");
    uint64_t *seqs = calloc(WRITERS * per_child + 1, sizeof(*seqs));
    size_t n1, n, i;

    assert_non_null(seqs);
    assert_true(rotated == (log1 != NULL));
    n1 = log1 ? seqs_of(log1, seqs, WRITERS * per_child) : 0;
    n = log ? seqs_of(log, seqs + n1, WRITERS * per_child - n1) : 0;
    for (i = 1; i < n1 + n; i++)
        assert_int_equal(seqs[i], seqs[i - 1] + 1);
    assert_int_equal(seqs[n1 + n - 1], WRITERS * per_child);
    if (!rotated) assert_int_equal(n, WRITERS * per_child);
    free(seqs);
    free(log1);
    free(log);
}

static void run_writers(struct fix *f, size_t log_max, int per_child)
{
    pid_t pids[WRITERS];
    int i;

    for (i = 0; i < WRITERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            child_append(f, log_max, per_child, 100 + i, 0);
            _exit(0);
        }
    }
    for (i = 0; i < WRITERS; i++)
        wait_ok(pids[i]);
}

static void test_concurrent_appenders(void **state)
{
    struct fix *f = *state;

    run_writers(f, 0, 200);
    /* every line whole, every seq once and in order */
    check_concurrent(f, 200, false);
}

static void test_concurrent_rotation(void **state)
{
    struct fix *f = *state;

    run_writers(f, 4096, 100);
    check_concurrent(f, 100, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_each_kind_and_phase),
        cmocka_unit_test(test_json_absent_and_failed),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_parse_strict),
        cmocka_unit_test_setup_teardown(test_hooks_order_and_stdin, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hooks_environment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pre_hook_refuses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pre_hook_silent_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hook_timeout_kills_group, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hook_leaves_child_behind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hook_output_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_post_hook_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hooks_skipped_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hooks_unsafe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_hooks_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hooks_not_run_inside_a_hook,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_emit_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_append_and_seq, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_unwritable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_state_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_other_process, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_follow_new_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_stop_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appenders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_rotation, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
