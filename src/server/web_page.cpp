namespace dsvl::server { extern const char* const kWebPage; const char* const kWebPage = "<!doctype html><title>dsvl</title>"; }
