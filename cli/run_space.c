/* The space of a search run, wherever the command runs from. */
#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "db/db.h"
#include "space/jfield.h"
#include "space/space.h"
#include "util/progress.h"

static int is_builtin(const char *name)
{
    for (const char *const *n = space_builtin_names(); *n; n++)
        if (strcmp(*n, name) == 0)
            return 1;
    return 0;
}

int cli_space_record(const char *name_or_file, char *path, size_t size, char **text,
                     struct hw_err *err)
{
    *text = NULL;
    if (is_builtin(name_or_file)) {
        snprintf(path, size, "%s", name_or_file);
        return HW_OK;
    }
    char abs[PATH_MAX];
    if (!realpath(name_or_file, abs)) { /* neither a file: say which spaces are shipped */
        struct space unused;
        return space_load_builtin(name_or_file, &unused, err);
    }
    const char *p = abs;
    if (strlen(p) >= size)
        p = name_or_file; /* the copy below still makes the run resumable */
    snprintf(path, size, "%s", p);
    return jfield_read_file(name_or_file, text, err);
}

int cli_run_space(const struct db_run *run, struct space *out, struct hw_err *err)
{
    cJSON *cfg = run->config_json ? cJSON_Parse(run->config_json) : NULL;
    const cJSON *copy = cJSON_GetObjectItemCaseSensitive(cfg, "space_json");
    if (!cJSON_IsString(copy)) { /* a shipped space, or a run from before the copy */
        cJSON_Delete(cfg);
        return space_resolve(run->space, out, err);
    }
    char source[DB_PATH_MAX + DB_NAME_MAX + 48];
    snprintf(source, sizeof source, "run '%s' (its copy of %s)", run->name, run->space);
    int rc = space_from_json_string(copy->valuestring, source, out, err);
    cJSON_Delete(cfg);
    if (rc)
        return rc;
    /* the file may have moved or changed since: the run keeps what it searched */
    struct space now;
    FILE *f = fopen(run->space, "rb");
    if (f) {
        fclose(f);
        if (space_load(run->space, &now, NULL) != HW_OK || space_hash(&now) != space_hash(out))
            log_warn("%s changed since run '%s' began; the run goes on with the space it "
                     "searched (its own copy)", run->space, run->name);
    }
    return HW_OK;
}
