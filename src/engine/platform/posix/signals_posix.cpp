#include <signal.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "engine/platform/signals.h"

namespace hearth::platform {

Status ignore_file_size_signal() {
  struct sigaction action {};
  action.sa_handler = SIG_IGN;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGXFSZ, &action, nullptr) != 0) {
    return fail(std::string("cannot ignore SIGXFSZ: ") + std::strerror(errno));
  }
  return ok();
}

}  // namespace hearth::platform
