#pragma once
// Shell completions and the man page, generated from the one CLI11 definition
// (`virtform completion bash|zsh|fish`, `virtform man`); the build runs them
// to make the installed files, so they cannot drift from the parser.
#include <string>

namespace CLI {
class App;
}

namespace virtform::cli {

std::string completion_script(const CLI::App& app, const std::string& shell);
std::string man_page(const CLI::App& app, const std::string& version);

}  // namespace virtform::cli
