/* A one-line progress bar on stderr with rate and ETA.
 *
 * Silent when stderr is not a terminal or when quiet is set, so logs and
 * pipes stay clean. Redraws at most ~10 times a second. */
#ifndef HWNAS_UTIL_PROGRESS_H
#define HWNAS_UTIL_PROGRESS_H

#include <stdint.h>

struct progress {
    char label[64];
    long total;     /* 0 when unknown: no percentage or ETA */
    long done;
    int enabled;
    uint64_t start_ns, last_draw_ns;
    char unit[16];  /* what is counted: "keys", "img", "trials" */
    char note[96];  /* free text at the end of the line */
};

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
