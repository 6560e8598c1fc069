/*
 * instructions.h - the program's interface: for each of the 19 instructions its Anchor
 * discriminator, its accounts in order (a struct laid over Context.accounts) with their
 * writable/signer flags, and its handler. Mirrors nosana_node/chain/instructions.py.
 */
#pragma once

#include "accounts.h"

/* sha256("global:<name>")[:8] as little-endian u64 (first byte of the hash = low byte). */
#define IX_OPEN 0x2d3cbdc7479bdce4ull        /* e4 dc 9b 47 c7 bd 3c 2d */
#define IX_UPDATE 0x7ffd3f9eb058c8dbull      /* db c8 58 b0 9e 3f fd 7f */
#define IX_CLOSE 0x60ce416cb1c9a562ull       /* 62 a5 c9 b1 6c 41 ce 60 */
#define IX_CLOSE_ADMIN 0xbd91a1d08eb9b6caull /* ca b6 b9 8e d0 a1 91 bd */
#define IX_ASSIGN 0x87402951cb7d4249ull      /* 49 42 7d cb 51 29 40 87 */
#define IX_LIST 0x2684291143c1ae36ull        /* 36 ae c1 43 11 29 84 26 */
#define IX_DELIST 0x1f04ad6b6bcd8837ull      /* 37 88 cd 6b 6b ad 04 1f */
#define IX_RECOVER 0x1174926d3a26d86cull     /* 6c d8 26 3a 6d 92 74 11 */
#define IX_EXTEND 0xa8369ae301007fe4ull      /* e4 7f 00 01 e3 9a 36 a8 */
#define IX_END 0x104679c2d9f9a0b4ull         /* b4 a0 f9 d9 c2 79 46 10 */
#define IX_WORK 0x2fe589d7c32d430full        /* 0f 43 2d c3 d7 89 e5 2f */
#define IX_STOP 0x9bb8fdab3c20852aull        /* 2a 85 20 3c ab fd b8 9b */
#define IX_CLAIM 0xd26c9fd5c1d6c63eull       /* 3e c6 d6 c1 d5 9f 6c d2 */
#define IX_COMPLETE 0x4c58198893e04d00ull    /* 00 4d e0 93 88 19 58 4c */
#define IX_FINISH 0x25b6e97d84aa4a43ull      /* 43 4a aa 84 7d e9 b6 25 */
#define IX_QUIT 0x99678150f08d67bfull        /* bf 67 8d f0 50 81 67 99 */
#define IX_QUIT_ADMIN 0xc43814b6086eee67ull  /* 67 ee 6e 08 b6 14 38 c4 */
#define IX_CLEAN 0x6701fb968038bffaull       /* fa bf 38 80 96 fb 01 67 */
#define IX_CLEAN_ADMIN 0x69abebfd44bc5af5ull /* f5 5a bc 44 fd eb ab 69 */

/* Borsh arguments follow the discriminator; extra bytes are ignored (as Anchor does). */
#define ARGS(ctx) ((ctx)->data + 8)
#define REQUIRE_ARGS(ctx, size) REQUIRE((ctx)->data_len >= 8 + (size), ERROR_INVALID_INSTRUCTION_DATA)

/* Check an instruction's account flags, then lay its account struct over the input:
 *   ACCOUNTS(a, ListAccounts, ctx, LIST_FLAGS);   ...   a->job.key */
#define ACCOUNTS(var, type, ctx, flags)                                             \
  _Static_assert(sizeof(flags) * sizeof(AccountInfo) == sizeof(type), #type);       \
  TRY(check_accounts((ctx), (flags), sizeof(flags)));                                \
  type *var = (type *)(ctx)->accounts

/* ---- market administration (ix_market.c) --------------------------------------------------- */

typedef struct {
  AccountInfo mint, market, vault, authority, access_key, rent, system_program, token_program;
} OpenAccounts;
static const uint8_t OPEN_FLAGS[] = {0, W | S, W, W | S, 0, 0, 0, 0};
/* args: job_expiration i64, job_price u64, job_timeout i64, job_type u8, node_xnos_minimum u128 */
uint64_t process_open(Context *ctx);

typedef struct {
  AccountInfo market, access_key, authority;
} UpdateAccounts;
static const uint8_t UPDATE_FLAGS[] = {W, 0, S};
/* args: job_expiration i64, job_price u64, job_type u8, node_stake_minimum u128, job_timeout i64 */
uint64_t process_update(Context *ctx);

typedef struct {
  AccountInfo market, vault, user, authority, token_program;
} CloseAccounts;
static const uint8_t CLOSE_FLAGS[] = {W, W, W, S, 0};
uint64_t process_close(Context *ctx);       /* authority: the market's */
uint64_t process_close_admin(Context *ctx); /* authority: the market admin */

/* ---- jobs, from the project's side (ix_jobs.c) --------------------------------------------- */

typedef struct {
  AccountInfo job, market, run, user, vault, payer, rewards_reflection, rewards_vault, authority,
      rewards_program, token_program, system_program;
} ListAccounts;
static const uint8_t LIST_FLAGS[] = {W | S, W, W | S, W, W, W | S, W, W, S, 0, 0, 0};
/* args: ipfs_job [u8; 32], timeout i64 */
uint64_t process_list(Context *ctx);

typedef struct {
  AccountInfo job, market, run, node, user, vault, payer, rewards_reflection, rewards_vault, authority,
      rewards_program, token_program, system_program;
} AssignAccounts;
static const uint8_t ASSIGN_FLAGS[] = {W | S, W, W | S, 0, W, W, W | S, W, W, S, 0, 0, 0};
/* args: ipfs_job [u8; 32], timeout i64 */
uint64_t process_assign(Context *ctx);

typedef struct {
  AccountInfo job, market, deposit, payer, vault, token_program, authority;
} DelistAccounts;
static const uint8_t DELIST_FLAGS[] = {W, W, W, W, W, 0, W | S};
uint64_t process_delist(Context *ctx);

typedef struct {
  AccountInfo job, market, vault, user, payer, authority, token_program;
} RecoverAccounts;
static const uint8_t RECOVER_FLAGS[] = {W, 0, W, W, W, S, 0};
uint64_t process_recover(Context *ctx);

typedef struct {
  AccountInfo job, market, user, vault, rewards_reflection, rewards_vault, authority, payer,
      rewards_program, token_program;
} ExtendAccounts;
static const uint8_t EXTEND_FLAGS[] = {W, 0, W, W, W, W, S, S, 0, 0};
/* args: timeout i64 */
uint64_t process_extend(Context *ctx);

typedef struct {
  AccountInfo job, market, run, deposit, user, vault, payer, authority, token_program;
} EndAccounts;
static const uint8_t END_FLAGS[] = {W, 0, W, W, W, W, W, W | S, 0};
uint64_t process_end(Context *ctx);

/* ---- jobs, from the node's side (ix_nodes.c) ----------------------------------------------- */

typedef struct {
  AccountInfo run, market, payer, stake, nft, metadata, authority, system_program;
} WorkAccounts;
static const uint8_t WORK_FLAGS[] = {W | S, W, W | S, 0, 0, 0, S, 0};
uint64_t process_work(Context *ctx);

typedef struct {
  AccountInfo market, node, authority;
} StopAccounts;
static const uint8_t STOP_FLAGS[] = {W, 0, S};
uint64_t process_stop(Context *ctx);

typedef struct {
  AccountInfo job, run, market, stake, nft, metadata, payer, authority, system_program;
} ClaimAccounts;
static const uint8_t CLAIM_FLAGS[] = {W, W | S, 0, 0, 0, 0, W | S, S, 0};
uint64_t process_claim(Context *ctx);

typedef struct {
  AccountInfo job, authority;
} CompleteAccounts;
static const uint8_t COMPLETE_FLAGS[] = {W, S};
/* args: ipfs_result [u8; 32] */
uint64_t process_complete(Context *ctx);

typedef struct {
  AccountInfo job, run, market, vault, deposit, user, payer_run, payer_job, authority, token_program;
} FinishAccounts;
static const uint8_t FINISH_FLAGS[] = {W, W, 0, W, W, W, W, W, S, 0};
/* finish as the IDL of the official SDK still declares it (11 accounts, before the 2025 change):
 * the payers the other way round, and the job's project. Told apart by the number of accounts. */
typedef struct {
  AccountInfo job, run, market, vault, deposit, user, payer_job, payer_run, project, authority, token_program;
} LegacyFinishAccounts;
static const uint8_t LEGACY_FINISH_FLAGS[] = {W, W, 0, W, W, W, W, W, W, S, 0};
/* args: ipfs_result [u8; 32] */
uint64_t process_finish(Context *ctx);

typedef struct {
  AccountInfo job, run, payer, authority;
} QuitAccounts;
static const uint8_t QUIT_FLAGS[] = {W, W, W, S};
uint64_t process_quit(Context *ctx);

/* ---- clean-up (ix_cleanup.c) ---------------------------------------------------------------- */

typedef struct {
  AccountInfo run, payer, authority;
} QuitAdminAccounts;
static const uint8_t QUIT_ADMIN_FLAGS[] = {W, W, S};
uint64_t process_quit_admin(Context *ctx);

typedef struct {
  AccountInfo job, market, payer;
} CleanAccounts;
static const uint8_t CLEAN_FLAGS[] = {W, 0, W};
uint64_t process_clean(Context *ctx);

typedef struct {
  AccountInfo job, payer, authority;
} CleanAdminAccounts;
static const uint8_t CLEAN_ADMIN_FLAGS[] = {W, W, S};
uint64_t process_clean_admin(Context *ctx);
