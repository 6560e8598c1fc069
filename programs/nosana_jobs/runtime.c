/* runtime.c - input parsing and the memory functions clang may call. */
#include "runtime.h"

/* Bytes the runtime reserves after each account's data so that programs can grow it. */
#define MAX_PERMITTED_DATA_INCREASE 10240

void *memcpy(void *dst, const void *src, size_t n) {
  sol_memcpy_(dst, src, n);
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  sol_memmove_(dst, src, n);
  return dst;
}

void *memset(void *dst, int value, size_t n) {
  sol_memset_(dst, (uint8_t)value, n);
  return dst;
}

/*
 * The aligned input layout of the BPF loaders:
 *   u64 number of accounts, then per account either
 *     u8 index of the first occurrence + 7 bytes padding          (a duplicate), or
 *     u8 0xff, u8 is_signer, u8 is_writable, u8 executable, 4 bytes padding,
 *     key[32], owner[32], u64 lamports, u64 data_len, data, 10 KiB spare, padding to 8,
 *     u64 rent_epoch
 *   then u64 instruction data length, the data, and the program id.
 */
void parse_input(const uint8_t *in, Context *ctx) {
  uint64_t n = load_u64(in);
  in += 8;
  ctx->num_accounts = n < MAX_ACCOUNTS ? n : MAX_ACCOUNTS;
  for (uint64_t i = 0; i < n; i++) {
    uint8_t dup = in[0];
    if (dup != 0xff) {
      if (i < MAX_ACCOUNTS) {
        ctx->accounts[i] = ctx->accounts[dup];
      }
      in += 8;
      continue;
    }
    uint64_t data_len = load_u64(in + 80);
    if (i < MAX_ACCOUNTS) {
      AccountInfo *a = &ctx->accounts[i];
      a->is_signer = in[1];
      a->is_writable = in[2];
      a->executable = in[3];
      a->key = (Pubkey *)(in + 8);
      a->owner = (Pubkey *)(in + 40);
      a->lamports = (uint64_t *)(in + 72);
      a->data_len = data_len;
      a->data = (uint8_t *)(in + 88);
    }
    in += 88 + ((data_len + MAX_PERMITTED_DATA_INCREASE + 7) & ~7ull);
    if (i < MAX_ACCOUNTS) {
      ctx->accounts[i].rent_epoch = load_u64(in);
    }
    in += 8;
  }
  ctx->data_len = load_u64(in);
  ctx->data = in + 8;
  ctx->program_id = (const Pubkey *)(in + 8 + ctx->data_len);
}
