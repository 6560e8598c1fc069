/*
 * entrypoint.c - the program's entry: parse the input, dispatch on the 8-byte Anchor
 * discriminator, and log like Anchor does ("Instruction: List"; custom errors by name).
 */
#include "errors.h"
#include "instructions.h"

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
  log_custom_error(result);
  return result;
}
