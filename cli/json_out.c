#include "cli/json_out.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

cJSON *cli_json_root(void)
{
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddNumberToObject(o, "version", CLI_JSON_VERSION) ||
              !cJSON_AddStringToObject(o, "hwnas_version", HWNAS_VERSION))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int cli_json_print(cJSON *root)
{
    char *s = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!s) {
        fprintf(stderr, "hwnas: out of memory formatting JSON\n");
        return CLI_EXIT_FAIL;
    }
    printf("%s\n", s);
    cJSON_free(s);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
