/*
 * runtime.h - the small Solana runtime this program needs, written for upstream clang's BPF
 * target: types of the C ABI, syscalls, builtin error codes, unaligned loads and stores, and
 * the parsed program input.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- C ABI types shared with the runtime (layouts fixed by Solana's C SDK) ------------- */

typedef struct {
  uint8_t bytes[32];
} Pubkey;

/* One account as given to the program; also the element type of sol_invoke_signed_c. */
typedef struct {
  Pubkey *key;
  uint64_t *lamports;
  uint64_t data_len; /* length when the program started; see account_len() */
  uint8_t *data;
  Pubkey *owner;
  uint64_t rent_epoch;
  bool is_signer;
  bool is_writable;
  bool executable;
} AccountInfo;

typedef struct {
  const Pubkey *pubkey;
  bool is_writable;
  bool is_signer;
} AccountMeta;

typedef struct {
  const Pubkey *program_id;
  const AccountMeta *accounts;
  uint64_t account_len;
  const uint8_t *data;
  uint64_t data_len;
} Instruction;

typedef struct {
  const uint8_t *addr;
  uint64_t len;
} SignerSeed;

typedef struct {
  const SignerSeed *addr;
  uint64_t len;
} SignerSeeds;

typedef struct {
  uint64_t slot;
  int64_t epoch_start_timestamp;
  uint64_t epoch;
  uint64_t leader_schedule_epoch;
  int64_t unix_timestamp;
} Clock;

typedef struct {
  uint64_t lamports_per_byte_year;
  uint64_t exemption_threshold_bits; /* an f64, read as bits: this program has no floats */
  uint8_t burn_percent;
} Rent;

/* ---- syscalls (resolved by name by the loader; the linker only lets these through) ---- */

void sol_log_(const char *message, uint64_t len);
void sol_log_64_(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e);
void sol_memcpy_(void *dst, const void *src, uint64_t n);
void sol_memmove_(void *dst, const void *src, uint64_t n);
void sol_memset_(void *dst, uint8_t value, uint64_t n);
uint64_t sol_invoke_signed_c(const Instruction *ix, const AccountInfo *infos, int n_infos,
                             const SignerSeeds *signers, int n_signers);
uint64_t sol_try_find_program_address(const SignerSeed *seeds, int n_seeds, const Pubkey *program_id,
                                      Pubkey *address, uint8_t *bump);
uint64_t sol_get_clock_sysvar(Clock *clock);
uint64_t sol_get_rent_sysvar(Rent *rent);

#define LOG(literal) sol_log_((literal), sizeof(literal) - 1)

/* ---- results: 0 = success, builtin ProgramErrors in the high word, custom codes as is --- */

#define SUCCESS 0
#define BUILTIN_ERROR(n) ((uint64_t)(n) << 32)
#define ERROR_INVALID_ARGUMENT BUILTIN_ERROR(2)
#define ERROR_INVALID_INSTRUCTION_DATA BUILTIN_ERROR(3)
#define ERROR_INVALID_ACCOUNT_DATA BUILTIN_ERROR(4)
#define ERROR_ACCOUNT_DATA_TOO_SMALL BUILTIN_ERROR(5)
#define ERROR_INSUFFICIENT_FUNDS BUILTIN_ERROR(6)
#define ERROR_INCORRECT_PROGRAM_ID BUILTIN_ERROR(7)
#define ERROR_MISSING_REQUIRED_SIGNATURE BUILTIN_ERROR(8)
#define ERROR_ACCOUNT_ALREADY_INITIALIZED BUILTIN_ERROR(9)
#define ERROR_UNINITIALIZED_ACCOUNT BUILTIN_ERROR(10)
#define ERROR_NOT_ENOUGH_ACCOUNT_KEYS BUILTIN_ERROR(11)
#define ERROR_INVALID_SEEDS BUILTIN_ERROR(14)
#define ERROR_INVALID_ACCOUNT_OWNER BUILTIN_ERROR(23)
#define ERROR_ARITHMETIC_OVERFLOW BUILTIN_ERROR(24)
#define ERROR_IMMUTABLE BUILTIN_ERROR(25)
#define ERROR_INCORRECT_AUTHORITY BUILTIN_ERROR(26)

/* Propagate a non-zero result. */
#define TRY(expr)                    \
  do {                               \
    uint64_t result_ = (expr);       \
    if (result_ != SUCCESS) {        \
      return result_;                \
    }                                \
  } while (0)

/* Return `error` unless `cond` holds. */
#define REQUIRE(cond, error) \
  do {                       \
    if (!(cond)) {           \
      return (error);        \
    }                        \
  } while (0)

/* ---- unaligned memory access ------------------------------------------------------------
 * Account fields sit at odd offsets (the layouts are Borsh, not C). The SBPF VM loads and
 * stores at any address, but clang assumes BPF cannot and splits unaligned accesses into byte
 * operations (about 20 instructions per u64). These helpers emit one instruction instead. */

static inline uint64_t load_u64(const void *p) {
  uint64_t v;
  __asm__ volatile("%0 = *(u64 *)(%1 + 0)" : "=r"(v) : "r"(p) : "memory");
  return v;
}

static inline void store_u64(void *p, uint64_t v) {
  __asm__ volatile("*(u64 *)(%0 + 0) = %1" : : "r"(p), "r"(v) : "memory");
}

static inline uint32_t load_u32(const void *p) {
  uint64_t v;
  __asm__ volatile("%0 = *(u32 *)(%1 + 0)" : "=r"(v) : "r"(p) : "memory");
  return (uint32_t)v;
}

static inline void store_u32(void *p, uint32_t v) {
  __asm__ volatile("*(u32 *)(%0 + 0) = %1" : : "r"(p), "r"((uint64_t)v) : "memory");
}

static inline int64_t load_i64(const void *p) { return (int64_t)load_u64(p); }
static inline void store_i64(void *p, int64_t v) { store_u64(p, (uint64_t)v); }

static inline bool key_eq(const Pubkey *a, const Pubkey *b) {
  return load_u64(a->bytes) == load_u64(b->bytes) && load_u64(a->bytes + 8) == load_u64(b->bytes + 8) &&
         load_u64(a->bytes + 16) == load_u64(b->bytes + 16) &&
         load_u64(a->bytes + 24) == load_u64(b->bytes + 24);
}

static inline void key_copy(Pubkey *dst, const Pubkey *src) {
  for (int i = 0; i < 32; i += 8) {
    store_u64(dst->bytes + i, load_u64(src->bytes + i));
  }
}

static inline bool bytes32_is_zero(const uint8_t *p) {
  return (load_u64(p) | load_u64(p + 8) | load_u64(p + 16) | load_u64(p + 24)) == 0;
}

/* clang may emit calls to these for struct copies; runtime.c forwards them to syscalls. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int value, size_t n);
void *memmove(void *dst, const void *src, size_t n);

/* ---- program input ---------------------------------------------------------------------- */

/* Instructions of this program take at most 13 accounts; more are accepted and ignored. */
#define MAX_ACCOUNTS 16

typedef struct {
  AccountInfo accounts[MAX_ACCOUNTS];
  uint64_t num_accounts; /* accounts parsed (at most MAX_ACCOUNTS) */
  const uint8_t *data;
  uint64_t data_len;
  const Pubkey *program_id;
} Context;

/* Parse the loader's (aligned) serialized input. */
void parse_input(const uint8_t *input, Context *ctx);

/* The account's data length now (after reallocs or CPIs), read from the serialized input. */
static inline uint64_t account_len(const AccountInfo *a) { return load_u64(a->data - 8); }
