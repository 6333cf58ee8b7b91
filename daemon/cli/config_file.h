// Which configuration a command uses: --config FILE when given (it must
// exist), else /etc/caad/caad.toml when it exists, else the local defaults
// (a database in the working directory, the system's resolvers).
#pragma once

#include <optional>
#include <string>

#include "lib/config/config.h"
#include "lib/util/result.h"

namespace caad::cli {

struct LoadedConfig {
  config::Config config;
  std::optional<std::string> path;  // the file read; nullopt for the local defaults
};

Result<LoadedConfig> load_config(const std::optional<std::string>& path);

}  // namespace caad::cli
