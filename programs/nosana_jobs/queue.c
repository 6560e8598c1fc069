/* queue.c - the market's FIFO queue (see queue.h). */
#include "queue.h"

#include "errors.h"

uint8_t queue_type(const MarketAccount *m) {
  uint8_t t = m->queue_type;
  return (t == QUEUE_JOB || t == QUEUE_NODE) ? t : QUEUE_EMPTY;
}

int64_t queue_find(const MarketAccount *m, const Pubkey *key) {
  uint32_t len = load_u32(&m->queue_len);
  uint64_t first = load_u64(key->bytes);
  for (uint32_t i = 0; i < len; i++) {
    /* compare the first 8 bytes before the whole key: most entries differ there */
    if (load_u64(m->queue[i].bytes) == first && key_eq(&m->queue[i], key)) {
      return i;
    }
  }
  return -1;
}

uint64_t queue_push(MarketAccount *m, const Pubkey *key, bool is_job) {
  if (m->job_type == JOB_TYPE_UNKNOWN) {
    return SUCCESS;
  }
  uint32_t len = load_u32(&m->queue_len);
  REQUIRE(len < MARKET_QUEUE_CAPACITY, ERROR_ACCOUNT_DATA_TOO_SMALL);
  if (queue_type(m) == QUEUE_EMPTY) {
    m->queue_type = is_job ? QUEUE_JOB : QUEUE_NODE;
  }
  key_copy(&m->queue[len], key);
  store_u32(&m->queue_len, len + 1);
  return SUCCESS;
}

static void remove_at(MarketAccount *m, uint32_t index) {
  uint32_t len = load_u32(&m->queue_len);
  if (index + 1 < len) {
    sol_memmove_(&m->queue[index], &m->queue[index + 1], (uint64_t)(len - index - 1) * sizeof(Pubkey));
  }
  sol_memset_(&m->queue[len - 1], 0, sizeof(Pubkey));
  store_u32(&m->queue_len, len - 1);
  if (len == 1) {
    m->queue_type = QUEUE_EMPTY;
  }
}

void queue_pop_front(MarketAccount *m, Pubkey *out) {
  key_copy(out, &m->queue[0]);
  remove_at(m, 0);
}

uint64_t queue_remove(MarketAccount *m, const Pubkey *key) {
  int64_t index = queue_find(m, key);
  REQUIRE(index >= 0, ERR_NOT_IN_MARKET_QUEUE);
  remove_at(m, (uint32_t)index);
  return SUCCESS;
}
