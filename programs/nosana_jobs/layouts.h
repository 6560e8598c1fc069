/*
 * layouts.h - byte layouts of every account this program reads or writes.
 *
 * All structs are packed: offsets are those of the Borsh encoding (jobs-program spec,
 * "Accounts"), checked below with static assertions. Fields at odd offsets must be read with
 * load_u64()/store_u64() (runtime.h); Pubkeys with key_eq()/key_copy().
 */
#pragma once

#include "runtime.h"

#define PACKED __attribute__((packed))

/* Anchor account discriminators: sha256("account:<Name>")[:8], as little-endian u64. */
#define DISC_MARKET_ACCOUNT 0xfbc9c6f0e1bb4ec9ull /* c9 4e bb e1 f0 c6 c9 fb */
#define DISC_JOB_ACCOUNT 0x417dd22d05a2105bull    /* 5b 10 a2 05 2d d2 7d 41 */
#define DISC_RUN_ACCOUNT 0x16e10bebe66ea9c2ull    /* c2 a9 6e e6 eb 0b e1 16 */
#define DISC_STAKE_ACCOUNT 0xffc0bd327c439e50ull  /* 50 9e 43 7c 32 bd c0 ff */

/* Enums as stored. */
enum { QUEUE_JOB = 0, QUEUE_NODE = 1, QUEUE_EMPTY = 255 }; /* other bytes read as Empty */
enum { JOB_QUEUED = 0, JOB_DONE = 2, JOB_STOPPED = 3 };    /* running = queued + a run */
enum { JOB_TYPE_GPU = 4, JOB_TYPE_UNKNOWN = 255 };         /* open stores > 4 as Unknown */

/* A u128 as two little-endian u64 halves. */
typedef struct PACKED {
  uint64_t lo;
  uint64_t hi;
} U128;

/* ---- MarketAccount: settings and the FIFO queue (of jobs or of nodes) ------------------- */

#define MARKET_QUEUE_CAPACITY 314
/* 8 + size_of::<MarketAccount>() (168 on SBF) + 314 * 32: the queue never grows the account */
#define MARKET_ACCOUNT_SIZE (8 + 168 + MARKET_QUEUE_CAPACITY * 32)

typedef struct PACKED {
  uint64_t discriminator;
  Pubkey authority;         /* 8 */
  int64_t job_expiration;   /* 40: seconds after time_end before clean may close a job */
  uint64_t job_price;       /* 48: NOS base units per second */
  int64_t job_timeout;      /* 56 */
  uint8_t job_type;         /* 64 */
  Pubkey vault;             /* 65 */
  uint8_t vault_bump;       /* 97 */
  Pubkey node_access_key;   /* 98: system program id = open market */
  U128 node_xnos_minimum;   /* 130 */
  uint8_t queue_type;       /* 146 */
  uint32_t queue_len;       /* 147: Borsh Vec<Pubkey> length ... */
  Pubkey queue[];           /* 151: ... and items, oldest first */
} MarketAccount;

_Static_assert(offsetof(MarketAccount, authority) == 8, "market.authority");
_Static_assert(offsetof(MarketAccount, job_expiration) == 40, "market.job_expiration");
_Static_assert(offsetof(MarketAccount, job_price) == 48, "market.job_price");
_Static_assert(offsetof(MarketAccount, job_timeout) == 56, "market.job_timeout");
_Static_assert(offsetof(MarketAccount, job_type) == 64, "market.job_type");
_Static_assert(offsetof(MarketAccount, vault) == 65, "market.vault");
_Static_assert(offsetof(MarketAccount, vault_bump) == 97, "market.vault_bump");
_Static_assert(offsetof(MarketAccount, node_access_key) == 98, "market.node_access_key");
_Static_assert(offsetof(MarketAccount, node_xnos_minimum) == 130, "market.node_xnos_minimum");
_Static_assert(offsetof(MarketAccount, queue_type) == 146, "market.queue_type");
_Static_assert(offsetof(MarketAccount, queue_len) == 147, "market.queue_len");
_Static_assert(offsetof(MarketAccount, queue) == 151, "market.queue");
_Static_assert(151 + MARKET_QUEUE_CAPACITY * 32 <= MARKET_ACCOUNT_SIZE, "queue fits");

/* ---- JobAccount ---------------------------------------------------------------------------- */

#define JOB_ACCOUNT_SIZE 240 /* 8 + 232 */

typedef struct PACKED {
  uint64_t discriminator;
  uint8_t ipfs_job[32];    /* 8 */
  uint8_t ipfs_result[32]; /* 40: all zero = no result */
  Pubkey market;           /* 72 */
  Pubkey node;             /* 104: set when the job ends */
  Pubkey payer;            /* 136: paid the rent; receives it back */
  uint64_t price;          /* 168: market price when listed */
  Pubkey project;          /* 176: the authority that listed it */
  uint8_t state;           /* 208 */
  int64_t time_end;        /* 209 */
  int64_t time_start;      /* 217 */
  int64_t timeout;         /* 225 */
} JobAccount;

_Static_assert(offsetof(JobAccount, market) == 72, "job.market");
_Static_assert(offsetof(JobAccount, price) == 168, "job.price");
_Static_assert(offsetof(JobAccount, project) == 176, "job.project");
_Static_assert(offsetof(JobAccount, state) == 208, "job.state");
_Static_assert(offsetof(JobAccount, time_end) == 209, "job.time_end");
_Static_assert(offsetof(JobAccount, time_start) == 217, "job.time_start");
_Static_assert(sizeof(JobAccount) == 233, "job content");

/* ---- RunAccount: a node working on a job ------------------------------------------------ */

#define RUN_ACCOUNT_SIZE 120 /* 8 + 112 */

typedef struct PACKED {
  uint64_t discriminator;
  Pubkey job;    /* 8 */
  Pubkey node;   /* 40 */
  Pubkey payer;  /* 72 */
  uint8_t state; /* 104: never written */
  int64_t time;  /* 105: unix time the run was created */
} RunAccount;

_Static_assert(offsetof(RunAccount, node) == 40, "run.node");
_Static_assert(offsetof(RunAccount, time) == 105, "run.time");
_Static_assert(sizeof(RunAccount) == 113, "run content");

/* ---- StakeAccount of the Nosana staking program (read only) ------------------------------ */

typedef struct PACKED {
  uint64_t discriminator;
  uint64_t amount;       /* 8 */
  Pubkey authority;      /* 16: the node */
  uint64_t duration;     /* 48 */
  int64_t time_unstake;  /* 56 */
  Pubkey vault;          /* 64 */
  uint8_t vault_bump;    /* 96 */
  U128 xnos;             /* 97 */
} StakeAccount;

_Static_assert(offsetof(StakeAccount, xnos) == 97, "stake.xnos");

/* ---- SPL Token accounts (read only; changed through the Token program) -------------------- */

#define TOKEN_ACCOUNT_SIZE 165
#define MINT_ACCOUNT_SIZE 82

typedef struct PACKED {
  Pubkey mint;    /* 0 */
  Pubkey owner;   /* 32: the token authority */
  uint64_t amount; /* 64 */
  uint8_t delegate[36];
  uint8_t state; /* 108: 0 = uninitialized, 1 = initialized, 2 = frozen */
  uint8_t rest[56];
} TokenAccount;

_Static_assert(offsetof(TokenAccount, state) == 108, "token.state");
_Static_assert(sizeof(TokenAccount) == TOKEN_ACCOUNT_SIZE, "token size");

/* ---- Metaplex token metadata ------------------------------------------------------------
 * Read field by field (Borsh strings and options make the offsets variable); see
 * eligibility.c for the walk to `collection`. */
#define METADATA_KEY_V1 4
