/* money.c - deposit, payment and refund arithmetic (see money.h). */
#include "money.h"

#include "errors.h"

#include "token.h"

/* a * b, false on overflow. Written with 32-bit halves: clang turns the usual
 * `a <= UINT64_MAX / b` test into a 128-bit multiply, which the BPF backend cannot call. */
static bool checked_mul(uint64_t a, uint64_t b, uint64_t *out) {
  uint64_t a_hi = a >> 32, a_lo = a & 0xffffffff, b_hi = b >> 32, b_lo = b & 0xffffffff;
  if (a_hi && b_hi) {
    return false;
  }
  uint64_t cross = a_hi * b_lo + b_hi * a_lo; /* one term is 0: no overflow here */
  if (cross >> 32) {
    return false;
  }
  uint64_t low = a_lo * b_lo;
  *out = low + (cross << 32);
  return *out >= low;
}

uint64_t price_times(uint64_t price, int64_t seconds, uint64_t *out) {
  REQUIRE(seconds >= 0, ERROR_INVALID_ARGUMENT);
  REQUIRE(checked_mul(price, (uint64_t)seconds, out), ERROR_ARITHMETIC_OVERFLOW);
  return SUCCESS;
}

uint64_t settle(const JobAccount *job, int64_t time_start, int64_t time_end, uint64_t *payment,
                uint64_t *refund) {
  uint64_t price = load_u64(&job->price);
  int64_t timeout = load_i64(&job->timeout);
  int64_t used = time_end > time_start ? time_end - time_start : 0;
  uint64_t deposit;
  TRY(price_times(price, timeout, &deposit));
  TRY(price_times(price, used < timeout ? used : timeout, payment));
  *refund = deposit - *payment;
  return SUCCESS;
}

uint64_t check_refund_account(const JobAccount *job, const AccountInfo *a) {
  TokenAccount *t;
  TRY(load_nos_account(a, &t));
  REQUIRE(key_eq(&t->owner, &job->project) || key_eq(&t->owner, &job->payer), ERR_INVALID_ATA);
  return SUCCESS;
}

uint64_t deposit_authority(const AccountInfo *from, AccountInfo *first, AccountInfo *second,
                           AccountInfo **out) {
  TokenAccount *t;
  TRY(load_nos_account(from, &t));
  if (first->is_signer && key_eq(&t->owner, first->key)) {
    *out = first;
  } else if (second->is_signer && key_eq(&t->owner, second->key)) {
    *out = second;
  } else {
    return ERR_UNAUTHORIZED; /* no signer owns the paying token account */
  }
  return SUCCESS;
}
