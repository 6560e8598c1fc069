/* eligibility.c - stake, access NFT and Metaplex collection checks (see eligibility.h). */
#include "eligibility.h"

#include "config.h"
#include "errors.h"
#include "ids.h"
#include "token.h"

static uint64_t check_stake(const MarketAccount *m, const NodeProof *p) {
  const AccountInfo *a = p->stake;
  SignerSeed seeds[3] = {
      {(const uint8_t *)"stake", 5},
      {config()->nos_mint.bytes, 32},
      {p->node->bytes, 32},
  };
  Pubkey expected;
  uint8_t bump;
  REQUIRE(sol_try_find_program_address(seeds, 3, &config()->staking_program, &expected, &bump) == 0,
          ERROR_INVALID_SEEDS);
  REQUIRE(key_eq(a->key, &expected), ERROR_INVALID_SEEDS);
  REQUIRE(key_eq(a->owner, &config()->staking_program), ERROR_INVALID_ACCOUNT_OWNER);
  const StakeAccount *s = (const StakeAccount *)a->data;
  REQUIRE(account_len(a) >= sizeof(StakeAccount) && load_u64(&s->discriminator) == DISC_STAKE_ACCOUNT,
          ERROR_INVALID_ACCOUNT_DATA);
  REQUIRE(key_eq(&s->authority, p->node), ERR_NODE_STAKE_UNAUTHORIZED);
  uint64_t have_hi = load_u64(&s->xnos.hi), have_lo = load_u64(&s->xnos.lo);
  uint64_t need_hi = load_u64(&m->node_xnos_minimum.hi), need_lo = load_u64(&m->node_xnos_minimum.lo);
  REQUIRE(have_hi > need_hi || (have_hi == need_hi && have_lo >= need_lo), ERR_NODE_NOT_ENOUGH_STAKE);
  return SUCCESS;
}

/* A cursor over Borsh data that fails (returns false) instead of reading past the end. */
typedef struct {
  const uint8_t *p;
  const uint8_t *end;
} Reader;

static bool skip(Reader *r, uint64_t n) {
  if ((uint64_t)(r->end - r->p) < n) {
    return false;
  }
  r->p += n;
  return true;
}

static bool read_u8(Reader *r, uint8_t *out) {
  if (r->p >= r->end) {
    return false;
  }
  *out = *r->p++;
  return true;
}

static bool skip_string(Reader *r) {
  if (r->end - r->p < 4) {
    return false;
  }
  uint32_t len = load_u32(r->p);
  return skip(r, 4) && skip(r, len);
}

static bool skip_option(Reader *r, uint64_t size) {
  uint8_t tag;
  return read_u8(r, &tag) && (tag == 0 || (tag == 1 && skip(r, size)));
}

/* Metaplex Metadata (Borsh): key u8 = 4, update_authority, mint, name, symbol, uri (strings),
 * seller_fee_basis_points u16, creators Option<Vec<Creator 34 bytes>>, primary_sale_happened,
 * is_mutable, edition_nonce Option<u8>, token_standard Option<u8>,
 * collection Option<{verified bool, key Pubkey}>, ... (the rest is not read). */
static bool read_collection(const AccountInfo *a, uint8_t *verified, const Pubkey **key) {
  Reader r = {a->data, a->data + account_len(a)};
  uint8_t tag, has_creators;
  if (!read_u8(&r, &tag) || tag != METADATA_KEY_V1 || !skip(&r, 64)) {
    return false;
  }
  if (!skip_string(&r) || !skip_string(&r) || !skip_string(&r) || !skip(&r, 2)) {
    return false;
  }
  if (!read_u8(&r, &has_creators) || has_creators > 1) {
    return false;
  }
  if (has_creators) {
    if (r.end - r.p < 4) {
      return false;
    }
    uint64_t count = load_u32(r.p);
    if (!skip(&r, 4) || !skip(&r, count * 34)) {
      return false;
    }
  }
  if (!skip(&r, 2) || !skip_option(&r, 1) || !skip_option(&r, 1)) {
    return false;
  }
  uint8_t has_collection;
  if (!read_u8(&r, &has_collection) || has_collection != 1 || !read_u8(&r, verified)) {
    return false;
  }
  *key = (const Pubkey *)r.p;
  return skip(&r, 32);
}

static uint64_t check_access_key(const MarketAccount *m, const NodeProof *p) {
  TokenAccount *nft;
  TRY(load_token_account(p->nft, &nft));
  if (key_eq(&m->node_access_key, &SYSTEM_PROGRAM_ID)) {
    return SUCCESS; /* open market: any token account, any metadata account */
  }
  REQUIRE(key_eq(&nft->owner, p->node), ERR_NODE_NFT_WRONG_OWNER);
  REQUIRE(load_u64(&nft->amount) >= 1, ERR_NODE_NFT_INVALID_AMOUNT);
  SignerSeed seeds[3] = {
      {(const uint8_t *)"metadata", 8},
      {METAPLEX_PROGRAM_ID.bytes, 32},
      {nft->mint.bytes, 32},
  };
  Pubkey expected;
  uint8_t bump;
  REQUIRE(sol_try_find_program_address(seeds, 3, &METAPLEX_PROGRAM_ID, &expected, &bump) == 0,
          ERR_NODE_NFT_WRONG_METADATA);
  REQUIRE(key_eq(p->metadata->key, &expected), ERR_NODE_NFT_WRONG_METADATA);
  uint8_t verified = 0;
  const Pubkey *collection = NULL;
  REQUIRE(key_eq(p->metadata->owner, &METAPLEX_PROGRAM_ID), ERR_NODE_KEY_INVALID_COLLECTION);
  REQUIRE(read_collection(p->metadata, &verified, &collection), ERR_NODE_KEY_INVALID_COLLECTION);
  REQUIRE(verified == 1 && key_eq(collection, &m->node_access_key), ERR_NODE_KEY_INVALID_COLLECTION);
  return SUCCESS;
}

uint64_t check_node_eligibility(const MarketAccount *m, const NodeProof *proof) {
  TRY(check_stake(m, proof));
  return check_access_key(m, proof);
}
