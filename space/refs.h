/* Built-in reference architectures and name-or-file resolution.
 *
 *   mobilenetv3-large, mobilenetv3-small  torchvision's MobileNetV3 (224x224x3, 1000)
 *   mobilenetv2                           torchvision's MobileNetV2 (224x224x3, 1000)
 *   fmnist-ref                            DESIGN.md's proxy net (28x28x1, 10)
 */
#ifndef HWNAS_SPACE_REFS_H
#define HWNAS_SPACE_REFS_H

#include "space/arch.h"
#include "util/err.h"

/* Input size and class count to build for; a 0 field keeps the default of the
 * reference (or the file's value in arch_resolve). */
struct arch_input {
    int h, w, c, classes;
};

/* NULL-terminated list of the reference names (static storage). */
const char *const *arch_reference_names(void);

/* Fills *out with reference `name` at input `in` (NULL: defaults).
 * HW_ENOTFOUND names the known references; HW_EINVAL if the override makes
 * an invalid arch (e.g. 0x0 input). */
int arch_reference(const char *name, const struct arch_input *in, struct arch *out,
                   struct hw_err *err);

/* A reference name, else a path to an arch JSON file; `in` (may be NULL)
 * overrides the input size and classes of either. */
int arch_resolve(const char *name_or_file, const struct arch_input *in, struct arch *out,
                 struct hw_err *err);

#endif
