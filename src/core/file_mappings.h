// A process-wide record of the read-only file mappings the loader made (safetensors files),
// so code that is done with some mapped bytes can hand them back the cheap way. For a
// MAP_SHARED read-only file mapping, madvise(MADV_DONTNEED) only drops this process's page
// table entries: RSS falls and the file stays in the page cache for the next start. On any
// other memory (heap, anonymous) the same call would zero the bytes, hence the record.
#pragma once

#include <cstddef>

namespace dsvl {

// Records / forgets [p, p + n) as a read-only MAP_SHARED file mapping. Thread-safe.
void register_file_mapping(const void* p, size_t n);
void unregister_file_mapping(const void* p);

// True when [p, p + n) lies inside one recorded mapping.
bool in_file_mapping(const void* p, size_t n);

// Drops the whole pages inside [p, p + n) from this process: MADV_DONTNEED inside a recorded
// file mapping (the page cache keeps them), otherwise MADV_PAGEOUT (never changes contents;
// without swap it leaves anonymous memory alone). Errors are ignored: the pages just stay.
void release_pages(const void* p, size_t n);

// Maps every page of [p, p + n), a read-only file mapping, into this process now, reading in
// file order (MADV_SEQUENTIAL + MADV_POPULATE_READ; llama.cpp's MAP_POPULATE). Besides moving
// the page faults out of the first request, reading a cold file in order lets the page cache
// use large folios, which then map as 2 MB pages: decode streaming mapped weights measured
// ~15% faster than from the 4 KB pages that scattered first touches leave. A file already
// cached in small folios (just written, say) stays in them. Errors are ignored.
void prefault_pages(const void* p, size_t n);

}  // namespace dsvl
