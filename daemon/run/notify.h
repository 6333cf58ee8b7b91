// The systemd notification protocol (sd_notify): READY, STATUS, WATCHDOG and
// STOPPING. Every call is a no-op when not started by systemd.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace caad::run {

void notify_ready(const std::string& status);
void notify_status(const std::string& status);
void notify_stopping();
void notify_reloading();
void notify_watchdog();
// How often to send WATCHDOG=1 (half of WatchdogSec), when systemd asks for it.
std::optional<std::chrono::milliseconds> watchdog_period();

}  // namespace caad::run
