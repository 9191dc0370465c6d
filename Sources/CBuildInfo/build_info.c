#include "build_info.h"

// scripts/release.sh writes commit.h (never committed) for the build it makes.
#if __has_include("commit.h")
#include "commit.h"
#endif

#ifndef BATON_COMMIT
#define BATON_COMMIT "unknown"
#endif

const char *baton_build_commit(void) { return BATON_COMMIT; }
