#ifndef BATON_BUILD_INFO_H
#define BATON_BUILD_INFO_H

/// The commit Baton was built from: scripts/release.sh writes it into commit.h beside
/// build_info.c for the build it makes; any other build says "unknown".
const char *baton_build_commit(void);

#endif
