#include "util/progress.h"
#include "util/timer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int hw_log_quiet;

void progress_format_duration(char *buf, int n, double s)
{
    if (s < 0 || s != s)
        s = 0;
    long t = (long)(s + 0.5);
    if (t < 60)
        snprintf(buf, (size_t)n, "%lds", t);
    else if (t < 3600)
        snprintf(buf, (size_t)n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, (size_t)n, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
}

void progress_init(struct progress *p, const char *label, long total,
                   const char *unit, int quiet)
{
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->total = total;
    int shown = !quiet && !hw_log_quiet;
    p->enabled = shown && isatty(STDERR_FILENO);
    p->log_every_ns = shown && !p->enabled ? PROGRESS_LOG_INTERVAL_S * 1000000000ULL : 0;
    p->start_ns = timer_now_ns();
    p->last_draw_ns = p->enabled ? 0 : p->start_ns;
}

/* Rate (items per second this session), elapsed time and, when a total and
 * a rate are known and work remains, the time left ("" otherwise). */
static double progress_timing(const struct progress *p, char *elapsed, int ne, char *left,
                              int nl)
{
    double el = timer_since_s(p->start_ns);
    double rate = el > 0 ? (double)(p->done - p->base) / el : 0;
    progress_format_duration(elapsed, ne, el);
    left[0] = '\0';
    if (p->total > 0 && rate > 0 && p->done < p->total)
        progress_format_duration(left, nl, (double)(p->total - p->done) / rate);
    return rate;
}

/* The state as one plain line (off a terminal). */
static void progress_log_line(struct progress *p)
{
    char elapsed[32], left[24], eta[32] = "";
    double rate = progress_timing(p, elapsed, sizeof elapsed, left, sizeof left);
    if (left[0])
        snprintf(eta, sizeof eta, ", ETA %s", left);
    if (p->total > 0)
        fprintf(stderr, "%s: %ld/%ld %s (%.0f%%), %.1f %s/s, %s%s%s%s\n", p->label, p->done,
                p->total, p->unit, 100.0 * (double)p->done / (double)p->total, rate, p->unit,
                elapsed, eta, p->note[0] ? ", " : "", p->note);
    else
        fprintf(stderr, "%s: %ld %s, %.1f %s/s, %s%s%s\n", p->label, p->done, p->unit, rate,
                p->unit, elapsed, p->note[0] ? ", " : "", p->note);
    fflush(stderr);
    p->logged++;
    p->logged_done = p->done;
}

static void progress_draw(struct progress *p)
{
    char elapsed[32], left[24], eta[32] = "";
    double rate = progress_timing(p, elapsed, sizeof elapsed, left, sizeof left);
    if (left[0])
        snprintf(eta, sizeof eta, " ETA %s", left);
    if (p->total > 0) {
        char bar[24];
        int width = 20, filled = (int)((double)width * (double)p->done / (double)p->total);
        if (filled > width)
            filled = width;
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r\033[K%s [%s] %ld/%ld %s %.1f %s/s %s%s %s", p->label, bar,
                p->done, p->total, p->unit, rate, p->unit, elapsed, eta, p->note);
    } else {
        fprintf(stderr, "\r\033[K%s %ld %s %.1f %s/s %s %s", p->label, p->done, p->unit,
                rate, p->unit, elapsed, p->note);
    }
    fflush(stderr);
}

void progress_update(struct progress *p, long done)
{
    p->done = done;
    uint64_t now = timer_now_ns();
    if (p->log_every_ns) {
        if (now - p->last_draw_ns >= p->log_every_ns) {
            p->last_draw_ns = now;
            progress_log_line(p);
        }
        return;
    }
    if (!p->enabled)
        return;
    if (now - p->last_draw_ns < 100000000ULL && done != p->total)
        return;
    p->last_draw_ns = now;
    progress_draw(p);
}

void progress_note(struct progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->note, sizeof p->note, fmt, ap);
    va_end(ap);
}

void progress_finish(struct progress *p)
{
    if (p->log_every_ns && p->logged && p->logged_done != p->done) /* close the trail */
        progress_log_line(p);
    if (!p->enabled)
        return;
    progress_draw(p);
    fputc('\n', stderr);
}

/* One line to stderr in one write: the lines of processes sharing a
 * terminal or file (MPI workers) do not interleave mid-line. */
static void log_line(const char *prefix, const char *fmt, va_list ap)
{
    char buf[4608]; /* room for a path of PATH_MAX and a sentence */
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
    n = strlen(buf);
    buf[n] = '\n';
    fwrite(buf, 1, n + 1, stderr);
}

void log_info(const char *fmt, ...)
{
    if (hw_log_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line("", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("warning: ", fmt, ap);
    va_end(ap);
}
