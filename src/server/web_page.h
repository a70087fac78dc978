// The chat page served at GET / (HTML, CSS and JS in one string; no external resources).
#pragma once

namespace dsvl::server {

extern const char* const kWebPage;

}  // namespace dsvl::server
