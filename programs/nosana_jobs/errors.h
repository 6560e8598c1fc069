/*
 * errors.h - the program's custom errors: the jobs program's own (6000-6018, jobs-program
 * spec, "Errors") and, numbered apart from 6100, the Nosana errors the original program takes
 * from its shared crate. Names and messages (errors.c) are those of the IDL
 * (nosana_node/chain/idl.py; the build checks they agree). Where each is raised: README.md.
 */
#pragma once

#include <stdint.h>

enum {
  ERR_INVALID_MARKET_ACCOUNT = 6000,
  ERR_MARKET_IN_WRONG_STATE = 6001,
  ERR_NOT_IN_MARKET_QUEUE = 6002,
  ERR_INVALID_JOB_ACCOUNT = 6003,
  ERR_JOB_IN_WRONG_STATE = 6004,
  ERR_JOB_NOT_EXPIRED = 6005,
  ERR_JOB_RESULT_NULL = 6006,
  ERR_JOB_INVALID_PROJECT = 6007,
  ERR_JOB_TIMEOUT_NOT_GREATER = 6008,
  ERR_JOB_INVALID_RUN_ACCOUNT = 6009,
  ERR_JOB_RESULTS_ALREADY_SET = 6010,
  ERR_NODE_QUEUE_DOES_NOT_MATCH = 6011,
  ERR_NODE_STAKE_UNAUTHORIZED = 6012,
  ERR_NODE_NOT_ENOUGH_STAKE = 6013,
  ERR_NODE_ALREADY_QUEUED = 6014,
  ERR_NODE_NFT_WRONG_METADATA = 6015,
  ERR_NODE_NFT_WRONG_OWNER = 6016,
  ERR_NODE_NFT_INVALID_AMOUNT = 6017,
  ERR_NODE_KEY_INVALID_COLLECTION = 6018,

  ERR_UNAUTHORIZED = 6100,
  ERR_INVALID_VAULT = 6101,
  ERR_INVALID_PAYER = 6102,
  ERR_INVALID_ATA = 6103,
  ERR_INVALID_MINT = 6104,
};

/* Log a custom error as Anchor does ("AnchorError occurred. Error Code: ..."), so that Anchor
 * clients report it by name; other results are not logged. */
void log_custom_error(uint64_t result);
