/* A one-line progress bar on stderr with rate and ETA.
 *
 * On a terminal it redraws at most ~10 times a second. Off a terminal (a log
 * file, nohup) it writes a plain line at most every PROGRESS_LOG_INTERVAL_S
 * seconds instead, so a long run leaves a readable trail and a short one
 * writes nothing. Silent when quiet is set. */
#ifndef HWNAS_UTIL_PROGRESS_H
#define HWNAS_UTIL_PROGRESS_H

#include <stdint.h>

struct progress {
    char label[64];
    long total;     /* 0 when unknown: no percentage or ETA */
    long done;
    long base;      /* done before this session (a resume): not in the rate */
    int enabled;          /* terminal bar */
    uint64_t log_every_ns; /* off a terminal: line interval; 0: no lines */
    int logged;           /* log lines written so far */
    long logged_done;     /* done at the last log line */
    uint64_t start_ns, last_draw_ns;
    char unit[16];  /* what is counted: "keys", "img", "trials" */
    char note[96];  /* free text at the end of the line */
};

#define PROGRESS_LOG_INTERVAL_S 60

/* Starts a bar; quiet forces silence. label and unit are copied. */
void progress_init(struct progress *p, const char *label, long total,
                   const char *unit, int quiet);
/* Sets the count and redraws if due. */
void progress_update(struct progress *p, long done);
/* Sets the trailing note (copied), shown on the next redraw. */
void progress_note(struct progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Draws the final state and moves to a new line. */
void progress_finish(struct progress *p);

/* Formats seconds as "12s", "3m04s", "1h02m" into buf. */
void progress_format_duration(char *buf, int n, double seconds);

/* Global quiet switch for log_info (set by the CLI's --quiet). */
extern int hw_log_quiet;
/* Informational line on stderr unless quiet. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning on stderr, always shown. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
