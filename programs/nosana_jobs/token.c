/* token.c - SPL Token CPIs (see token.h). */
#include "token.h"

#include "errors.h"

#include "config.h"
#include "ids.h"

enum { TOKEN_TRANSFER = 3, TOKEN_CLOSE_ACCOUNT = 9, TOKEN_INITIALIZE_ACCOUNT3 = 18 };

uint64_t load_token_account(const AccountInfo *a, TokenAccount **out) {
  REQUIRE(key_eq(a->owner, &TOKEN_PROGRAM_ID), ERROR_INVALID_ACCOUNT_OWNER);
  REQUIRE(account_len(a) == TOKEN_ACCOUNT_SIZE, ERROR_INVALID_ACCOUNT_DATA);
  TokenAccount *t = (TokenAccount *)a->data;
  REQUIRE(t->state != 0, ERROR_UNINITIALIZED_ACCOUNT);
  *out = t;
  return SUCCESS;
}

uint64_t load_nos_account(const AccountInfo *a, TokenAccount **out) {
  TRY(load_token_account(a, out));
  REQUIRE(key_eq(&(*out)->mint, &config()->nos_mint), ERR_INVALID_ATA);
  return SUCCESS;
}

uint64_t check_vault(const Vault *v) {
  REQUIRE(key_eq(v->vault->key, &v->state->vault), ERR_INVALID_VAULT);
  TokenAccount *t;
  return load_nos_account(v->vault, &t);
}

/* One SPL Token instruction over three accounts (the third signs), optionally PDA-signed. */
typedef struct {
  AccountInfo *token_program;
  AccountInfo *accounts[3];
  const uint8_t *data;
  uint64_t data_len;
  const SignerSeeds *seeds;
} TokenCall;

static uint64_t token_invoke(const TokenCall *c) {
  REQUIRE(key_eq(c->token_program->key, &TOKEN_PROGRAM_ID), ERROR_INCORRECT_PROGRAM_ID);
  AccountMeta metas[3];
  AccountInfo infos[3];
  for (int i = 0; i < 3; i++) {
    metas[i].pubkey = c->accounts[i]->key;
    metas[i].is_writable = i < 2;
    metas[i].is_signer = i == 2;
    infos[i] = *c->accounts[i];
    infos[i].data_len = account_len(c->accounts[i]);
  }
  Instruction ix = {&TOKEN_PROGRAM_ID, metas, 3, c->data, c->data_len};
  return sol_invoke_signed_c(&ix, infos, 3, c->seeds, c->seeds ? 1 : 0);
}

uint64_t vault_deposit(const Vault *v, AccountInfo *from, AccountInfo *authority, uint64_t amount) {
  if (amount == 0) {
    return SUCCESS;
  }
  TokenAccount *t;
  TRY(load_nos_account(from, &t));
  REQUIRE(load_u64(&t->amount) >= amount, ERROR_INSUFFICIENT_FUNDS);
  uint8_t data[9] = {TOKEN_TRANSFER};
  store_u64(data + 1, amount);
  TokenCall call = {v->token_program, {from, v->vault, authority}, data, sizeof data, NULL};
  return token_invoke(&call);
}

/* Signer seeds of the vault: [market, NOS mint, [bump]]; `bump` must outlive the call. */
static void vault_seeds(const Vault *v, SignerSeed seeds[3], const uint8_t *bump) {
  seeds[0] = (SignerSeed){v->market->key->bytes, 32};
  seeds[1] = (SignerSeed){config()->nos_mint.bytes, 32};
  seeds[2] = (SignerSeed){bump, 1};
}

uint64_t vault_pay(const Vault *v, AccountInfo *to, uint64_t amount) {
  if (amount == 0) {
    return SUCCESS;
  }
  uint8_t bump = v->state->vault_bump;
  SignerSeed seeds[3];
  vault_seeds(v, seeds, &bump);
  SignerSeeds signer = {seeds, 3};
  uint8_t data[9] = {TOKEN_TRANSFER};
  store_u64(data + 1, amount);
  TokenCall call = {v->token_program, {v->vault, to, v->vault}, data, sizeof data, &signer};
  return token_invoke(&call);
}

uint64_t vault_drain_and_close(const Vault *v, AccountInfo *to, AccountInfo *rent_to) {
  TokenAccount *t = (TokenAccount *)v->vault->data;
  TRY(vault_pay(v, to, load_u64(&t->amount)));
  uint8_t bump = v->state->vault_bump;
  SignerSeed seeds[3];
  vault_seeds(v, seeds, &bump);
  SignerSeeds signer = {seeds, 3};
  uint8_t data[1] = {TOKEN_CLOSE_ACCOUNT};
  TokenCall call = {v->token_program, {v->vault, rent_to, v->vault}, data, sizeof data, &signer};
  return token_invoke(&call);
}

uint64_t vault_initialize(AccountInfo *vault, AccountInfo *mint) {
  uint8_t data[33] = {TOKEN_INITIALIZE_ACCOUNT3};
  key_copy((Pubkey *)(data + 1), vault->key);
  AccountMeta metas[2] = {{vault->key, true, false}, {mint->key, false, false}};
  AccountInfo infos[2] = {*vault, *mint};
  infos[0].data_len = account_len(vault);
  infos[1].data_len = account_len(mint);
  Instruction ix = {&TOKEN_PROGRAM_ID, metas, 2, data, sizeof data};
  return sol_invoke_signed_c(&ix, infos, 2, NULL, 0);
}
