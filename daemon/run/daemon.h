// `caad run`: the daemon. One libuv loop takes due domains from SQLite in
// batches, checks them through the lookup engine with bounded concurrency,
// derives events, and writes results, events and outbox rows in batched
// transactions on a worker thread. Provider targets are re-checked on their
// own timer. SIGTERM/SIGINT stop it cleanly within 5 seconds, SIGHUP reloads
// the configuration, and systemd hears READY, STATUS, WATCHDOG and STOPPING.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "lib/config/config.h"

namespace caad::run {

class Daemon {
 public:
  // `config_path` is re-read on SIGHUP; nullopt when running on defaults.
  Daemon(config::Config config, std::optional<std::string> config_path);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM or SIGINT. Returns the process exit status.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace caad::run
