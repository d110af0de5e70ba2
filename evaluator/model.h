/* Trained model files: an architecture and its weights in one file.
 *
 * Layout (all integers little-endian, floats IEEE-754 binary32 LE):
 *   offset 0   8 bytes   magic "HWNASMDL"
 *          8   u32       format version (MODEL_VERSION)
 *         12   u32       J: length of the arch JSON
 *         16   J bytes   arch JSON (space/ schema, not NUL-terminated)
 *              u64       P: number of parameters (TRAIN layout, unfolded BN)
 *              P floats  parameters (nn_net_params)
 *              u64       S: number of state values (BN running mean/var)
 *              S floats  state (nn_net_state)
 *              u32       CRC-32 (zlib) of every byte before it
 * A loader refuses a wrong magic, a newer version, truncation or trailing
 * bytes, a bad checksum, an arch JSON it cannot parse, and P or S that differ
 * from what the arch needs -- each with a message naming the file. */
#ifndef HWNAS_EVALUATOR_MODEL_H
#define HWNAS_EVALUATOR_MODEL_H

#include <stddef.h>

#include "nn/net.h"
#include "util/err.h"

#define MODEL_MAGIC "HWNASMDL"
#define MODEL_VERSION 1

/* Writes net's arch, parameters and state to path (replaced atomically via
 * a temporary file and rename). net is read only. */
int model_save(const char *path, struct nn_net *net, struct hw_err *err);

/* The file's bytes of net in memory: *bytes (malloc'd, caller frees) of *len. */
int model_to_bytes(struct nn_net *net, void **bytes, size_t *len, struct hw_err *err);

/* Reads path into a new TRAIN-mode net with room for batches of max_batch;
 * *out is owned by the caller (nn_net_free). Fold it into an INFER net
 * (nn_net_fold_from) for deployment or evaluation. */
int model_load(const char *path, int max_batch, struct nn_net **out,
               struct hw_err *err);

/* The same from a model file's bytes already in memory (borrowed); name
 * stands for the file in messages. */
int model_load_bytes(const void *bytes, size_t len, const char *name, int max_batch,
                     struct nn_net **out, struct hw_err *err);

#endif
