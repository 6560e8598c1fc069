/* accounts.c - generic account checks, account creation and closing, sysvars. */
#include "accounts.h"

#include "ids.h"

/* Solana charges rent for the account's data plus this fixed overhead. */
#define ACCOUNT_STORAGE_OVERHEAD 128

uint64_t check_accounts(const Context *ctx, const uint8_t *flags, uint64_t n) {
  REQUIRE(ctx->num_accounts >= n, ERROR_NOT_ENOUGH_ACCOUNT_KEYS);
  for (uint64_t i = 0; i < n; i++) {
    const AccountInfo *a = &ctx->accounts[i];
    REQUIRE(!(flags[i] & S) || a->is_signer, ERROR_MISSING_REQUIRED_SIGNATURE);
    REQUIRE(!(flags[i] & W) || a->is_writable, ERROR_IMMUTABLE);
  }
  return SUCCESS;
}

uint64_t require_program(const AccountInfo *a, const Pubkey *id) {
  REQUIRE(key_eq(a->key, id), ERROR_INCORRECT_PROGRAM_ID);
  return SUCCESS;
}

uint64_t require_writable(const AccountInfo *a) {
  REQUIRE(a->is_writable, ERROR_IMMUTABLE);
  return SUCCESS;
}

static uint64_t load_owned(const Context *ctx, const AccountInfo *a, uint64_t discriminator,
                           uint64_t min_len) {
  REQUIRE(key_eq(a->owner, ctx->program_id), ERROR_INVALID_ACCOUNT_OWNER);
  REQUIRE(account_len(a) >= min_len && load_u64(a->data) == discriminator, ERROR_INVALID_ACCOUNT_DATA);
  return SUCCESS;
}

uint64_t load_market(const Context *ctx, const AccountInfo *a, MarketAccount **out) {
  TRY(load_owned(ctx, a, DISC_MARKET_ACCOUNT, MARKET_ACCOUNT_SIZE));
  MarketAccount *m = (MarketAccount *)a->data;
  REQUIRE(load_u32(&m->queue_len) <= MARKET_QUEUE_CAPACITY, ERROR_INVALID_ACCOUNT_DATA);
  *out = m;
  return SUCCESS;
}

uint64_t load_job(const Context *ctx, const AccountInfo *a, JobAccount **out) {
  TRY(load_owned(ctx, a, DISC_JOB_ACCOUNT, sizeof(JobAccount)));
  *out = (JobAccount *)a->data;
  return SUCCESS;
}

uint64_t load_run(const Context *ctx, const AccountInfo *a, RunAccount **out) {
  TRY(load_owned(ctx, a, DISC_RUN_ACCOUNT, sizeof(RunAccount)));
  *out = (RunAccount *)a->data;
  return SUCCESS;
}

uint64_t require_unused(const AccountInfo *a) {
  REQUIRE(key_eq(a->owner, &SYSTEM_PROGRAM_ID) && *a->lamports == 0, ERROR_ACCOUNT_ALREADY_INITIALIZED);
  return SUCCESS;
}

/* ---- System program CPIs ------------------------------------------------------------------ */

enum { SYSTEM_CREATE_ACCOUNT = 0, SYSTEM_ASSIGN = 1, SYSTEM_TRANSFER = 2, SYSTEM_ALLOCATE = 8 };

/* Invoke the System program with instruction data `data` over (from, to) or just (to). */
static uint64_t system_call(const NewAccount *n, const uint8_t *data, uint64_t len, bool with_payer) {
  AccountMeta metas[2] = {
      {n->payer->key, true, true},
      {n->target->key, true, true},
  };
  AccountInfo infos[2] = {*n->payer, *n->target};
  infos[0].data_len = account_len(n->payer);
  infos[1].data_len = account_len(n->target);
  int first = with_payer ? 0 : 1;
  Instruction ix = {&SYSTEM_PROGRAM_ID, metas + first, (uint64_t)(2 - first), data, len};
  return sol_invoke_signed_c(&ix, infos + first, 2 - first, n->seeds, n->seeds ? 1 : 0);
}

uint64_t create_account(const NewAccount *n) {
  AccountInfo *t = n->target;
  REQUIRE(key_eq(t->owner, &SYSTEM_PROGRAM_ID) && account_len(t) == 0, ERROR_ACCOUNT_ALREADY_INITIALIZED);
  uint64_t needed = rent_exempt_minimum(n->space);
  uint64_t held = *t->lamports;
  uint8_t data[52];
  if (held == 0) {
    store_u32(data, SYSTEM_CREATE_ACCOUNT);
    store_u64(data + 4, needed);
    store_u64(data + 12, n->space);
    key_copy((Pubkey *)(data + 20), n->owner);
    return system_call(n, data, 52, true);
  }
  if (held < needed) {
    store_u32(data, SYSTEM_TRANSFER);
    store_u64(data + 4, needed - held);
    TRY(system_call(n, data, 12, true));
  }
  store_u32(data, SYSTEM_ALLOCATE);
  store_u64(data + 4, n->space);
  TRY(system_call(n, data, 12, false));
  store_u32(data, SYSTEM_ASSIGN);
  key_copy((Pubkey *)(data + 4), n->owner);
  return system_call(n, data, 36, false);
}

uint64_t close_account(AccountInfo *a, AccountInfo *destination) {
  REQUIRE(destination->is_writable, ERROR_IMMUTABLE);
  if (destination->key == a->key) {
    return SUCCESS; /* closing into itself: nothing would move */
  }
  *destination->lamports += *a->lamports;
  *a->lamports = 0;
  sol_memset_(a->data, 0, account_len(a));
  store_u64(a->data - 8, 0); /* realloc to zero bytes ... */
  key_copy(a->owner, &SYSTEM_PROGRAM_ID); /* ... so the System program may own it again */
  return SUCCESS;
}

/* ---- sysvars -------------------------------------------------------------------------------- */

/* floor(x * f) for a positive finite f64 given as bits, without floating point:
 * f = m * 2^e with the 53-bit integer mantissa m; x * m needs up to 117 bits. */
static uint64_t mul_by_f64(uint64_t x, uint64_t bits) {
  int64_t biased = (int64_t)((bits >> 52) & 0x7ff);
  if (biased == 0 || (bits >> 63)) {
    return 0; /* zero, subnormal or negative threshold: nothing required */
  }
  uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
  int64_t e = biased - 1075;
  /* 64 x 53-bit product as (hi, lo) from 32-bit limbs */
  uint64_t x_lo = x & 0xffffffff, x_hi = x >> 32, m_lo = m & 0xffffffff, m_hi = m >> 32;
  uint64_t ll = x_lo * m_lo, lh = x_lo * m_hi, hl = x_hi * m_lo, hh = x_hi * m_hi;
  uint64_t mid = (ll >> 32) + (lh & 0xffffffff) + (hl & 0xffffffff);
  uint64_t lo = (ll & 0xffffffff) | (mid << 32);
  uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
  if (e >= 0) {
    return (hi == 0 && e < 64 && (lo >> (63 - e)) <= 1) ? lo << e : UINT64_MAX;
  }
  int64_t shift = -e;
  if (shift >= 128) {
    return 0;
  }
  if (shift >= 64) {
    return hi >> (shift - 64);
  }
  return (lo >> shift) | (shift ? hi << (64 - shift) : 0);
}

uint64_t rent_exempt_minimum(uint64_t space) {
  Rent rent;
  sol_get_rent_sysvar(&rent);
  return mul_by_f64((ACCOUNT_STORAGE_OVERHEAD + space) * rent.lamports_per_byte_year,
                    rent.exemption_threshold_bits);
}

int64_t unix_now(void) {
  Clock clock;
  sol_get_clock_sysvar(&clock);
  return clock.unix_timestamp;
}
