/* The latency table keys a search space needs, and archs that cover them.
 *
 * Keys are per unit (lut_key): the stem, every layer shape a block can
 * produce and every head: each input width by each head_options choice.
 * A block's first layer takes the block's stride and its input width from
 * the previous block's width choices; its repeats run at stride 1 with
 * in == out. Spatial sizes do not depend on the choices (odd kernels,
 * padding k/2), so each block has a fixed input size. Keys come from
 * space_decode and lut_key themselves, so they are exactly the keys
 * lut_predict will look up. */
#ifndef HWNAS_LATENCY_KEYS_H
#define HWNAS_LATENCY_KEYS_H

#include "latency/lut.h"
#include "space/space.h"
#include "util/err.h"

/* Adds every distinct key space s needs to set (an initialised lut used as a
 * set: the entries' figures are zero). */
int lat_space_keys(const struct space *s, struct lut *set, struct hw_err *err);

/* Chooses an arch of s whose network contains as many keys that are in
 * `need` but not in `have` as a greedy pass can gather (per block, the
 * options giving the most missing keys, ties broken by the missing keys the
 * block's output width opens up in the next block or head), and flags in
 * want (lut_n_units bytes) one unit per missing key. *n_new is the number of
 * flagged units; 0 means every key of `need` is in `have`. */
int lat_space_cover(const struct space *s, const struct lut *need, const struct lut *have,
                    struct arch *a, unsigned char *want, int *n_new, struct hw_err *err);

#endif
