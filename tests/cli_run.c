#include "tests/cli_run.h"

#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reads a whole file into a malloc'd string ("" when it cannot be read). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf) {
        if (f)
            fclose(f);
        return NULL;
    }
    while (f) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    if (f)
        fclose(f);
    buf[len] = '\0';
    return buf;
}

/* "cd ROOT && exec RUNNER 'BIN' ARGS REDIRECT" for /bin/sh (malloc'd; exec:
 * the shell's process becomes hwnas, so its id is hwnas's), or NULL when
 * $HWNAS_BIN is not set or memory ran out. */
static char *shell_command(const char *args, const char *redirect)
{
    const char *bin = getenv("HWNAS_BIN"), *root = getenv("HWNAS_ROOT");
    const char *runner = getenv("HWNAS_RUNNER"); /* e.g. qemu-aarch64 -L SYSROOT */
    if (!bin)
        return NULL;
    if (!runner)
        runner = "";
    if (!root)
        root = ".";
    size_t n = strlen(runner) + strlen(bin) + strlen(args) + strlen(root) + strlen(redirect) + 32;
    char *cmd = malloc(n);
    if (cmd)
        snprintf(cmd, n, "cd '%s' && exec %s '%s' %s %s", root, runner, bin, args, redirect);
    return cmd;
}

int cli_run(struct cli_run *r, const char *args)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    char out_path[] = "/tmp/hwnas-cli-out-XXXXXX", err_path[] = "/tmp/hwnas-cli-err-XXXXXX";
    int fo = mkstemp(out_path), fe = mkstemp(err_path);
    char redirect[80];
    snprintf(redirect, sizeof redirect, ">%s 2>%s", out_path, err_path);
    char *cmd = fo >= 0 && fe >= 0 ? shell_command(args, redirect) : NULL;
    if (fo >= 0)
        close(fo);
    if (fe >= 0)
        close(fe);
    if (!cmd) {
        if (fo >= 0)
            unlink(out_path);
        if (fe >= 0)
            unlink(err_path);
        return -1;
    }
    int st = system(cmd);
    free(cmd);
    r->status = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->out = slurp(out_path);
    r->err = slurp(err_path);
    unlink(out_path);
    unlink(err_path);
    return r->out && r->err ? 0 : -1;
}

pid_t cli_spawn(const char *args, const char *log)
{
    char redirect[320];
    snprintf(redirect, sizeof redirect, ">>'%s' 2>&1", log ? log : "/dev/null");
    char *cmd = shell_command(args, redirect);
    if (!cmd)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(cmd);
    return pid;
}

void cli_run_release(struct cli_run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

const char cli_tiny_space[] =
    "{\"version\":1,\"name\":\"tiny\",\"input\":{\"h\":28,\"w\":28,\"c\":1},\"classes\":10,"
    "\"stem\":{\"k\":3,\"stride\":2,\"out\":8,\"act\":\"hswish\"},"
    "\"head\":{\"conv_out\":32,\"conv_act\":\"hswish\",\"fc_hidden\":0,\"fc_act\":\"relu\","
    "\"dropout\":0},\"blocks\":["
    "{\"stride\":2,\"width\":16,\"kernel\":[3,5],\"expansion\":[2,4],\"se\":[0,1],"
    "\"act\":[\"relu\"],\"layers\":[1,2],\"width_mult\":[1.0]},"
    "{\"stride\":2,\"width\":24,\"kernel\":[3],\"expansion\":[2,3],\"se\":[0],"
    "\"act\":[\"relu\",\"hswish\"],\"layers\":[1],\"width_mult\":[1.0]}]}";

int cli_tiny_dir(char *dir, const char *tag)
{
    snprintf(dir, 64, "/tmp/hwnas-%.16s-XXXXXX", tag);
    if (!mkdtemp(dir))
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s/tiny.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int bad = fputs(cli_tiny_space, f) < 0;
    return fclose(f) || bad ? -1 : 0;
}

/* Runs hwnas with args; 0 on exit 0, else -1 with the command and its
 * stderr's end in why. */
static int run_fixture_step(const char *args, struct cli_run *r, char *why, int why_size)
{
    if (cli_run(r, args) != 0) {
        snprintf(why, (size_t)why_size, "hwnas %s: could not run", args);
        return -1;
    }
    if (r->status == 0)
        return 0;
    size_t n = strlen(r->err);
    snprintf(why, (size_t)why_size, "hwnas %.200s: exit %d: ...%s", args, r->status,
             r->err + (n > 600 ? n - 600 : 0));
    cli_run_release(r);
    return -1;
}

int cli_na_fixture(const char *dir, const char *db_path, double *l0_ms, char *why, int why_size)
{
    char args[1024], arch[128];
    struct cli_run r;
    snprintf(args, sizeof args, "profile --space %s/tiny.json --db %s --runs 3 --warmup 1 --quiet",
             dir, db_path);
    if (run_fixture_step(args, &r, why, why_size))
        return -1;
    cli_run_release(&r);
    snprintf(args, sizeof args, "space sample %s/tiny.json --seed 5", dir);
    if (run_fixture_step(args, &r, why, why_size))
        return -1;
    snprintf(arch, sizeof arch, "%s/arch.json", dir);
    FILE *f = fopen(arch, "w");
    int bad = !f || fputs(r.out, f) < 0;
    if (f && fclose(f))
        bad = 1;
    cli_run_release(&r);
    if (bad) {
        snprintf(why, (size_t)why_size, "%s: cannot write", arch);
        return -1;
    }
    snprintf(args, sizeof args, "train %s --epochs 1 --subset 1024 --threads 1 --out %s/m.hwm "
             "--quiet", arch, dir);
    if (run_fixture_step(args, &r, why, why_size))
        return -1;
    cli_run_release(&r);
    snprintf(args, sizeof args, "latency %s/m.hwm --db %s --json", dir, db_path);
    if (run_fixture_step(args, &r, why, why_size))
        return -1;
    const char *p = strstr(r.out, "\"predicted_us\":");
    *l0_ms = p ? strtod(p + strlen("\"predicted_us\":"), NULL) / 1000 : 0;
    cli_run_release(&r);
    if (!(*l0_ms > 0)) {
        snprintf(why, (size_t)why_size, "hwnas latency %s/m.hwm: no predicted_us", dir);
        return -1;
    }
    return 0;
}

char *cli_na_history(const char *db_path)
{
    struct db *db;
    if (db_open(&db, db_path, DB_OPEN_EXISTING, NULL) != HW_OK)
        return NULL;
    struct db_na_step *st = NULL;
    int n = 0;
    struct db_netadapt r;
    char *s = NULL;
    if (db_netadapt_steps(db, 1, &st, &n, NULL) == HW_OK &&
        db_netadapt_get(db, 1, &r, NULL) == HW_OK) {
        s = calloc((size_t)n + 2, 160);
        if (s) {
            sprintf(s, "status %d, %d iterations, %.6f ms\n", (int)r.status, r.iterations,
                    r.current_ms);
            for (int i = 0; i < n; i++)
                sprintf(s + strlen(s), "%d.%d %s %s %d->%d %.6f ms %.6f %.6f %d\n",
                        st[i].iteration, st[i].proposal, db_na_kind_name(st[i].kind),
                        st[i].layers, st[i].channels_before, st[i].channels_after,
                        st[i].latency_ms, st[i].val_acc, st[i].val_loss, st[i].chosen);
        }
        db_netadapt_release(&r);
    }
    free(st);
    db_close(db);
    return s;
}

int cli_tiny_dir_remove(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}
