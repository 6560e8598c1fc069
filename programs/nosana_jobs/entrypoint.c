/*
 * entrypoint.c - the program's entry: parse the input, dispatch on the 8-byte Anchor
 * discriminator, and log like Anchor does ("Instruction: List"; the name of a custom error).
 */
#include "errors.h"
#include "instructions.h"

static const char *const ERROR_NAMES[] = {
    "InvalidMarketAccount", "MarketInWrongState",   "NotInMarketQueue",      "InvalidJobAccount",
    "JobInWrongState",      "JobNotExpired",        "JobResultNull",         "JobInvalidProject",
    "JobTimeoutNotGreater", "JobInvalidRunAccount", "JobResultsAlreadySet",  "NodeQueueDoesNotMatch",
    "NodeStakeUnauthorized", "NodeNotEnoughStake",  "NodeAlreadyQueued",     "NodeNftWrongMetadata",
    "NodeNftWrongOwner",    "NodeNftInvalidAmount", "NodeKeyInvalidCollection",
};

/* Log "Error: <Name> (<code>)" for a custom error. */
static void log_custom_error(uint64_t code) {
  char line[64] = "Error: ";
  uint64_t n = 7;
  for (const char *s = ERROR_NAMES[code - FIRST_CUSTOM_ERROR]; *s; s++) {
    line[n++] = *s;
  }
  line[n++] = ' ';
  line[n++] = '(';
  for (uint64_t div = 1000; div; div /= 10) {
    line[n++] = (char)('0' + (code / div) % 10);
  }
  line[n++] = ')';
  sol_log_(line, n);
}

static uint64_t dispatch(Context *ctx, uint64_t discriminator) {
#define ROUTE(ID, NAME, HANDLER) \
  if (discriminator == (ID)) {   \
    LOG("Instruction: " NAME);   \
    return HANDLER(ctx);         \
  }
  ROUTE(IX_LIST, "List", process_list)
  ROUTE(IX_WORK, "Work", process_work)
  ROUTE(IX_FINISH, "Finish", process_finish)
  ROUTE(IX_OPEN, "Open", process_open)
  ROUTE(IX_UPDATE, "Update", process_update)
  ROUTE(IX_CLOSE, "Close", process_close)
  ROUTE(IX_CLOSE_ADMIN, "CloseAdmin", process_close_admin)
  ROUTE(IX_ASSIGN, "Assign", process_assign)
  ROUTE(IX_DELIST, "Delist", process_delist)
  ROUTE(IX_RECOVER, "Recover", process_recover)
  ROUTE(IX_EXTEND, "Extend", process_extend)
  ROUTE(IX_END, "End", process_end)
  ROUTE(IX_STOP, "Stop", process_stop)
  ROUTE(IX_CLAIM, "Claim", process_claim)
  ROUTE(IX_COMPLETE, "Complete", process_complete)
  ROUTE(IX_QUIT, "Quit", process_quit)
  ROUTE(IX_QUIT_ADMIN, "QuitAdmin", process_quit_admin)
  ROUTE(IX_CLEAN, "Clean", process_clean)
  ROUTE(IX_CLEAN_ADMIN, "CleanAdmin", process_clean_admin)
#undef ROUTE
  LOG("Error: unknown instruction");
  return ERROR_INVALID_INSTRUCTION_DATA;
}

uint64_t entrypoint(const uint8_t *input) {
  Context ctx;
  parse_input(input, &ctx);
  if (ctx.data_len < 8) {
    LOG("Error: instruction data shorter than a discriminator");
    return ERROR_INVALID_INSTRUCTION_DATA;
  }
  uint64_t result = dispatch(&ctx, load_u64(ctx.data));
  if (result >= FIRST_CUSTOM_ERROR && result <= LAST_CUSTOM_ERROR) {
    log_custom_error(result);
  }
  return result;
}
