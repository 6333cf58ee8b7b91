// Choosing and loading the configuration file (see the header).
#include "daemon/cli/config_file.h"

#include <filesystem>

namespace caad::cli {

Result<LoadedConfig> load_config(const std::optional<std::string>& path) {
  std::string chosen;
  if (path) {
    chosen = *path;
  } else {
    std::error_code ec;
    if (!std::filesystem::exists(config::k_default_path, ec)) return LoadedConfig{config::local_default(), std::nullopt};
    chosen = config::k_default_path;
  }
  auto loaded = config::load(chosen);
  if (!loaded) return Unexpected<Error>{loaded.error()};
  return LoadedConfig{std::move(*loaded), chosen};
}

}  // namespace caad::cli
