// API-key checks. The key is compared in constant time so that response timing does not
// reveal how many leading characters of a guess were right.
#pragma once

#include <string>

namespace dsvl::server {

// True when a == b; the time taken depends only on the lengths, not on where they differ.
bool constant_time_equal(const std::string& a, const std::string& b);

// The key of an "Authorization: Bearer <key>" header value ("" when absent or another scheme).
std::string bearer_token(const std::string& authorization);

// Reads the key from a file: its first line, trailing whitespace removed. Throws
// dsvl::Error(kRequest) when the file is missing or empty.
std::string read_api_key_file(const std::string& path);

}  // namespace dsvl::server
