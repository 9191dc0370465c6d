#include "build_info.h"

#ifndef BATON_COMMIT
#define BATON_COMMIT "unknown"
#endif

const char *baton_build_commit(void) { return BATON_COMMIT; }
