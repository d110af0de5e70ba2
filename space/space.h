/* The block-wise search space (MnasNet's factorized hierarchical space).
 *
 * A fixed input, stem and head, then B blocks. Each block repeats one layer
 * N times (the first takes the block's stride, later ones stride 1) and picks,
 * per block: kernel, expansion, SE, activation, layers N, width multiplier.
 * out = make_divisible(base_width * width, 8); for every layer
 * mid = make_divisible(in * expansion, 8), except expansion 1 which means
 * mid = in (no expand conv).
 *
 * Tokens: SPACE_N_CHOICES per block, block-major: token t is choice t % 6 of
 * block t / 6, its value the index into that choice's list. A space may
 * also search the head's widths ("head_options"): then one token per listed
 * field follows the blocks' tokens, conv_out first, then fc_hidden. Every token
 * vector decodes to a valid arch, and space_load refuses spaces where two
 * different token vectors would give the same arch, so encode/decode are exact
 * inverses and space_size counts distinct archs.
 *
 * JSON (spaces/fmnist.json):
 *   {"version": 1, "name": "fmnist", "input": {"h":28,"w":28,"c":1}, "classes": 10,
 *    "stem": {...arch stem...}, "head": {...arch head...},
 *    "blocks": [{"stride": 1, "width": 16, "kernel": [3,5,7], "expansion": [1,3,6],
 *                "se": [0,1], "act": ["relu","hswish"], "layers": [1,2],
 *                "width_mult": [0.75,1.0,1.25]}, ...],
 *    "head_options": {"conv_out": [256,384,512], "fc_hidden": [0,256,512]}}
 * "head_options" and each of its fields are optional; a listed field replaces
 * the head's own value (0 means no such layer, as in the arch).
 *
 * struct space is plain data (no pointers): copy by assignment, nothing to free. */
#ifndef HWNAS_SPACE_SPACE_H
#define HWNAS_SPACE_SPACE_H

#include "space/arch.h"
#include "util/err.h"
#include "util/pcg32.h"

#define SPACE_VERSION 1
#define SPACE_MAX_BLOCKS 12
#define SPACE_MAX_OPTIONS 8

enum space_choice {
    SPACE_KERNEL,
    SPACE_EXPANSION,
    SPACE_SE,
    SPACE_ACT,
    SPACE_LAYERS,
    SPACE_WIDTH,
    SPACE_N_CHOICES
};

#define SPACE_MAX_HEAD_TOKENS 2
#define SPACE_MAX_TOKENS (SPACE_MAX_BLOCKS * SPACE_N_CHOICES + SPACE_MAX_HEAD_TOKENS)

struct space_block {
    int stride, base_width;
    int n[SPACE_N_CHOICES]; /* options per choice, each 1..SPACE_MAX_OPTIONS */
    int kernel[SPACE_MAX_OPTIONS];
    double expansion[SPACE_MAX_OPTIONS];
    int se[SPACE_MAX_OPTIONS];
    enum arch_act act[SPACE_MAX_OPTIONS];
    int layers[SPACE_MAX_OPTIONS];
    double width_mult[SPACE_MAX_OPTIONS];
};

/* Head widths to search; a count of 0 keeps the base head's value. */
struct space_head_options {
    int n_conv, n_fc;
    int conv_out[SPACE_MAX_OPTIONS];
    int fc_hidden[SPACE_MAX_OPTIONS];
};

struct space {
    char name[64];
    struct arch base; /* input, classes, stem, head; n_layers == 0 */
    int n_blocks;
    struct space_block blocks[SPACE_MAX_BLOCKS];
    struct space_head_options head;
    char token_names[SPACE_MAX_TOKENS][16]; /* "b2.kernel" */
};

/* Parses and checks a space from JSON text; source names it in messages. */
int space_from_json_string(const char *text, const char *source, struct space *out,
                           struct hw_err *err);
/* Loads a space JSON file. */
int space_load(const char *path, struct space *out, struct hw_err *err);
/* NULL-terminated list of the shipped space names ("fmnist", "mbv3-224"). */
const char *const *space_builtin_names(void);
/* The JSON text of a shipped space (static storage); NULL for another name. */
const char *space_builtin_text(const char *name);
/* A shipped space by name. Its JSON is compiled into the binary (from
 * spaces/<name>.json at build time), so this works from any directory. */
int space_load_builtin(const char *name, struct space *out, struct hw_err *err);
/* A shipped space name, else a path to a space JSON file. */
int space_resolve(const char *name_or_file, struct space *out, struct hw_err *err);

int space_n_tokens(const struct space *s);
/* Index of the first head token (n_blocks * SPACE_N_CHOICES); the head's
 * tokens, if any, run from there to space_n_tokens. */
int space_head_token0(const struct space *s);
/* Number of options of token t (0 <= t < space_n_tokens). */
int space_token_choices(const struct space *s, int t);
/* "b<block>.<choice>", e.g. "b2.kernel", or "head.conv_out"; owned by s. */
const char *space_token_name(const struct space *s, int t);

/* tokens[space_n_tokens] -> arch. Refuses out-of-range tokens, naming them. */
int space_decode(const struct space *s, const int *tokens, struct arch *out,
                 struct hw_err *err);
/* arch -> tokens[space_n_tokens]; refuses an arch that is not in the space,
 * naming the first layer and field that no option reproduces. */
int space_encode(const struct space *s, const struct arch *a, int *tokens,
                 struct hw_err *err);
/* Uniform random tokens[space_n_tokens], drawn from rng in token order. */
void space_sample(const struct space *s, struct pcg32 *rng, int *tokens);

/* Exact smallest and largest params and MACs over every arch of the space
 * (each minimized and maximized separately, by dynamic programming over the
 * blocks with the block's output width as state). */
void space_cost_bounds(const struct space *s, struct arch_cost *min, struct arch_cost *max);

/* Number of distinct archs (product of the option counts), and its log10. */
double space_size(const struct space *s);
double space_log10_size(const struct space *s);

/* FNV-1a 64 hash of everything that decides which arch a token vector
 * decodes to (input, stem, head, every block's stride, width and options;
 * not the name), so a run can tell that its space changed under it. */
uint64_t space_hash(const struct space *s);

#endif
