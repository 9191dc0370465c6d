#ifndef BATON_BUILD_INFO_H
#define BATON_BUILD_INFO_H

/// The commit Baton was built from: scripts/release.sh passes it with
/// -Xcc -DBATON_COMMIT='"…"'; any other build says "unknown".
const char *baton_build_commit(void);

#endif
