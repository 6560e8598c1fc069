/* ix_market.c - open, update, close and close_admin: a market's life cycle. */
#include "config.h"
#include "errors.h"
#include "ids.h"
#include "instructions.h"
#include "token.h"

/* open: create the market (keypair) and its vault, a NOS token account at the PDA
 * [market, mint] whose token owner is the vault itself. */
uint64_t process_open(Context *ctx) {
  ACCOUNTS(a, OpenAccounts, ctx, OPEN_FLAGS);
  REQUIRE_ARGS(ctx, 41);
  const uint8_t *args = ARGS(ctx);
  TRY(require_program(&a->system_program, &SYSTEM_PROGRAM_ID));
  TRY(require_program(&a->token_program, &TOKEN_PROGRAM_ID));
  REQUIRE(key_eq(a->rent.key, &RENT_SYSVAR_ID), ERROR_INVALID_ARGUMENT);
  REQUIRE(key_eq(a->mint.key, &config()->nos_mint), ERR_INVALID_MINT);
  REQUIRE(key_eq(a->mint.owner, &TOKEN_PROGRAM_ID), ERROR_INVALID_ACCOUNT_OWNER);

  uint8_t bump;
  SignerSeed seeds[3] = {{a->market.key->bytes, 32}, {a->mint.key->bytes, 32}, {&bump, 1}};
  Pubkey expected;
  REQUIRE(sol_try_find_program_address(seeds, 2, ctx->program_id, &expected, &bump) == 0, ERROR_INVALID_SEEDS);
  REQUIRE(key_eq(a->vault.key, &expected), ERROR_INVALID_SEEDS);

  NewAccount market = {&a->authority, &a->market, MARKET_ACCOUNT_SIZE, ctx->program_id, NULL};
  TRY(create_account(&market));
  SignerSeeds vault_signer = {seeds, 3};
  NewAccount vault = {&a->authority, &a->vault, TOKEN_ACCOUNT_SIZE, &TOKEN_PROGRAM_ID, &vault_signer};
  TRY(create_account(&vault));
  TRY(vault_initialize(&a->vault, &a->mint));

  MarketAccount *m = (MarketAccount *)a->market.data;
  store_u64(&m->discriminator, DISC_MARKET_ACCOUNT);
  key_copy(&m->authority, a->authority.key);
  store_i64(&m->job_expiration, load_i64(args));
  store_u64(&m->job_price, load_u64(args + 8));
  store_i64(&m->job_timeout, load_i64(args + 16));
  m->job_type = args[24] <= JOB_TYPE_GPU ? args[24] : JOB_TYPE_UNKNOWN;
  key_copy(&m->vault, a->vault.key);
  m->vault_bump = bump;
  key_copy(&m->node_access_key, a->access_key.key);
  store_u64(&m->node_xnos_minimum.lo, load_u64(args + 25));
  store_u64(&m->node_xnos_minimum.hi, load_u64(args + 33));
  m->queue_type = QUEUE_EMPTY;
  store_u32(&m->queue_len, 0);
  return SUCCESS;
}

/* update: the market authority overwrites the settings and the access key (job_type as given). */
uint64_t process_update(Context *ctx) {
  ACCOUNTS(a, UpdateAccounts, ctx, UPDATE_FLAGS);
  REQUIRE_ARGS(ctx, 41);
  const uint8_t *args = ARGS(ctx);
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  REQUIRE(key_eq(&m->authority, a->authority.key), ERR_UNAUTHORIZED);
  store_i64(&m->job_expiration, load_i64(args));
  store_u64(&m->job_price, load_u64(args + 8));
  m->job_type = args[16];
  store_u64(&m->node_xnos_minimum.lo, load_u64(args + 17));
  store_u64(&m->node_xnos_minimum.hi, load_u64(args + 25));
  store_i64(&m->job_timeout, load_i64(args + 33));
  key_copy(&m->node_access_key, a->access_key.key);
  return SUCCESS;
}

/* close / close_admin: drain the vault into `user`, close it and the market; rent to the
 * authority (which must therefore be writable, e.g. as the fee payer). */
static uint64_t close_market(Context *ctx, bool by_admin) {
  ACCOUNTS(a, CloseAccounts, ctx, CLOSE_FLAGS);
  TRY(require_program(&a->token_program, &TOKEN_PROGRAM_ID));
  MarketAccount *m;
  TRY(load_market(ctx, &a->market, &m));
  const Pubkey *allowed = by_admin ? &config()->market_admin : &m->authority;
  REQUIRE(key_eq(a->authority.key, allowed), ERR_UNAUTHORIZED);
  TRY(require_writable(&a->authority));
  Vault v = {&a->token_program, &a->market, m, &a->vault};
  TRY(check_vault(&v));
  TRY(vault_drain_and_close(&v, &a->user, &a->authority));
  return close_account(&a->market, &a->authority);
}

uint64_t process_close(Context *ctx) { return close_market(ctx, false); }

uint64_t process_close_admin(Context *ctx) { return close_market(ctx, true); }
