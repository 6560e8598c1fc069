/*
 * config.h - the network-specific keys of this program.
 *
 * They live in one block in .rodata, introduced by a 32-byte magic tag, so that a program
 * binary can be re-targeted without recompiling: nosana_node/chain/localnet/program.py finds
 * the tag in the .so and overwrites the 96 bytes after it (this is how the local chain runs
 * with a local market admin, whose mainnet key nobody here holds). The committed binary
 * carries the mainnet values. The program id is not in here: it is whatever address the
 * program is loaded at.
 */
#pragma once

#include "runtime.h"

#define CONFIG_MAGIC "nosana-jobs/config-block/v1"  /* zero-padded to 32 bytes */

typedef struct {
  uint8_t magic[32];
  Pubkey market_admin;    /* may call close_admin, quit_admin, clean_admin */
  Pubkey nos_mint;        /* the only mint markets accept; vault seeds use it */
  Pubkey staking_program; /* owner of the stake accounts read for node eligibility */
} ProgramConfig;

/* The configuration block (read through an opaque pointer so no value is folded into code). */
const ProgramConfig *config(void);
