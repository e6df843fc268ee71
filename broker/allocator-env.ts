/**
 * The environment a broker process runs with, for glibc's allocator. By default glibc raises
 * its mmap threshold each time a large block is freed (up to 32 MiB), so the large buffers of
 * big messages end up in the main heap, and their memory stays resident after they are freed:
 * 800 quotes of 1 MiB through a broker with a 32 MiB cache left it 80-100 MiB larger. With the
 * threshold fixed at 128 KiB, blocks above it are mapped and unmapped one by one and go back to
 * the system when freed (the same flood: +54 MiB at its peak, +50 MiB after; `npm run
 * test:adversary`, flood `cache-bytes`). Reads and writes of 64 KiB stay below it. Another libc
 * ignores the variable. `npm run broker` sets it, and a primary passes it to its workers; set it
 * yourself where you start `node dist/broker.mjs` another way (DEPLOYMENT.md).
 */
export const ALLOCATOR_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' }
