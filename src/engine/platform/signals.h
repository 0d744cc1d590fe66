// Process-wide signal dispositions the runtime depends on. They change the whole process, so
// a program calls them once at start-up (hearth's main does), never a library on its own
// initiative in the middle of a request. Thread-safe: each is one atomic system call.
#pragma once

#include "hearth/status.h"

namespace hearth::platform {

// Writing past RLIMIT_FSIZE (a disk quota, `prlimit --fsize`) raises SIGXFSZ, whose default
// action kills the process; ignored, the write fails with EFBIG instead and the caller reports
// it as an Error (a download then says "nothing was cached"). Errors: internal when the
// system refuses. A platform without the signal has nothing to do and returns ok.
Status ignore_file_size_signal();

}  // namespace hearth::platform
